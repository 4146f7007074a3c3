// Package est serves Enrollment over Secure Transport (RFC 7030, with the RFC 8951
// clarifications) over an Enroller that makes every decision.
//
// Invariants: the handlers only translate between the wire and the Enroller. They never decide
// whether a device may have a certificate: the TLS layer requests a client certificate and
// refuses only one that no CA of the deployment nor a registered anchor signed (TLSConfig,
// Issuers), and the Enroller checks the rest — a factory chain against the registered
// manufacturer anchors at simpleenroll, the stored operational certificate at simplereenroll.
// The TLS handshake proved possession of the presented certificate's key; the handlers pass
// the presented chain on unchanged. Every refusal is answered with a text/plain reason and
// logged with it; bodies above MaxBody are refused before they are decoded.
package est

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// PathPrefix is the well-known URI of RFC 7030 section 3.2.2.
const PathPrefix = "/.well-known/est"

// MaxBody is the largest request body read: a PKCS#10 request in base64 is far smaller.
const MaxBody = 64 << 10

// Facts are what a device reports about itself, read from the Hallmark-* request headers:
// the one facts type of the tree, environment.Facts, so that the Enroller gets them unconverted.
type Facts = environment.Facts

// The request headers that carry facts (docs/est.md).
const (
	HeaderFirmwareDigest   = "Hallmark-Firmware-Digest"
	HeaderHardwareRevision = "Hallmark-Hardware-Revision"
	HeaderFact             = "Hallmark-Fact" // key=value, repeatable
)

// Enroller makes the decisions behind the EST operations. label names the environment ("" is
// the deployment's default). peer is the chain the client presented in the TLS handshake, leaf
// first, not verified by TLS. Errors carry a failure kind; an unknown label is a *LabelError.
type Enroller interface {
	// CACerts returns the certificates a client should trust for this label, issuing CA first.
	CACerts(ctx context.Context, label string) ([]*x509.Certificate, error)
	// Enroll onboards a device on its factory identity (peer) and returns its certificate.
	Enroll(ctx context.Context, label string, csrDER []byte, peer []*x509.Certificate, facts Facts) (*x509.Certificate, error)
	// Reenroll renews the operational identity peer[0] and returns the new certificate.
	Reenroll(ctx context.Context, label string, csrDER []byte, peer []*x509.Certificate, facts Facts) (*x509.Certificate, error)
}

// LabelError is an unknown or unusable label; it is answered with 404. It is
// environment.LabelError, so that an Enroller can return it without knowing this package.
type LabelError = environment.LabelError

// Config holds the collaborators of a Handler.
type Config struct {
	Enroller Enroller
	Log      *slog.Logger
	// Refused, when set, is told of every 4xx answered to a client that presented a TLS
	// certificate (an authenticated device), after the answer is decided.
	Refused func(Refused)
}

// Refused is a refusal of a client that presented a TLS certificate.
type Refused struct {
	Label   string // as in the path; "" for the bare path
	Op      string // the EST operation, e.g. simpleenroll
	Status  int
	Message string            // what the client was told
	Err     error             // the Enroller's error; nil when the handler refused by itself
	Peer    *x509.Certificate // the presented leaf
}

// Handler serves PathPrefix and everything under it.
type Handler struct {
	enr     Enroller
	log     *slog.Logger
	refused func(Refused)
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler.
func New(c Config) *Handler {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Handler{enr: c.Enroller, log: c.Log, refused: c.Refused}
}

// TLSConfig is the TLS configuration of an EST listener: TLS 1.2 and 1.3, and a client
// certificate requested (RFC 7030 section 3.3.2 lets the server decide what it accepts). A
// client that sends none still reaches the handler: cacerts needs none, and enrollments answer
// 401. A client certificate that issuers does not know fails the handshake with an
// *UnknownIssuerError, so a stranger's certificate costs no HTTP request and no admission; what
// passes is not verified further by TLS (expired certificates included): the Enroller decides.
// issuers must not be nil.
func TLSConfig(certs []tls.Certificate, issuers Issuers) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		Certificates:     certs,
		ClientAuth:       tls.RequestClientCert,
		VerifyConnection: verifyClient(issuers),
	}
}

// label is an environment name or ID (RFC 7030 section 3.2.2 allows one extra path segment).
var label = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ServeHTTP routes /.well-known/est[/<label>]/<operation> (RFC 7030 section 3.2.2).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, PathPrefix+"/")
	if !ok {
		h.refuse(w, r, "", http.StatusNotFound, "not an EST path")
		return
	}
	lbl, op := "", rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		lbl, op = rest[:i], rest[i+1:]
		if !label.MatchString(lbl) {
			h.refuse(w, r, lbl, http.StatusNotFound, "not a valid EST label")
			return
		}
	}
	method := http.MethodPost
	if op == "cacerts" || op == "csrattrs" {
		method = http.MethodGet
	}
	switch op {
	case "cacerts", "csrattrs", "simpleenroll", "simplereenroll":
	case "serverkeygen", "fullcmc":
		h.refuse(w, r, lbl, http.StatusNotImplemented, op+" is not supported: devices generate their own keys")
		return
	default:
		h.refuse(w, r, lbl, http.StatusNotFound, "unknown EST operation "+op)
		return
	}
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", method)
		h.refuse(w, r, lbl, http.StatusMethodNotAllowed, op+" takes "+method)
		return
	}
	switch op {
	case "cacerts":
		h.cacerts(w, r, lbl)
	case "csrattrs":
		h.csrattrs(w, r, lbl)
	default:
		h.enroll(w, r, lbl, op == "simplereenroll")
	}
}

// cacerts is RFC 7030 section 4.1: no client authentication is required; the response is a
// base64 certs-only PKCS#7 with content type application/pkcs7-mime (section 4.1.3).
func (h *Handler) cacerts(w http.ResponseWriter, r *http.Request, lbl string) {
	certs, err := h.enr.CACerts(r.Context(), lbl)
	if err != nil {
		h.fail(w, r, lbl, err)
		return
	}
	writeP7(w, "application/pkcs7-mime", certs)
}

// csrattrs is RFC 7030 section 4.5: Hallmark takes the subject and extensions of an
// operational certificate from its own records, so it asks for no attributes and answers 204,
// which section 4.5.2 makes equivalent to an empty CsrAttrs. The label is still checked.
func (h *Handler) csrattrs(w http.ResponseWriter, r *http.Request, lbl string) {
	if _, err := h.enr.CACerts(r.Context(), lbl); err != nil {
		h.fail(w, r, lbl, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// enroll is RFC 7030 sections 4.2.1 (simpleenroll) and 4.2.2 (simplereenroll): a base64
// PKCS#10 body of type application/pkcs10 from a client authenticated by its TLS certificate
// (section 3.3.2); the answer is the issued certificate alone in a base64 certs-only PKCS#7
// of type application/pkcs7-mime; smime-type=certs-only (section 4.2.3).
func (h *Handler) enroll(w http.ResponseWriter, r *http.Request, lbl string, renew bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/pkcs10" {
			h.refuse(w, r, lbl, http.StatusUnsupportedMediaType, "the request body must be application/pkcs10 (base64 DER), not "+ct)
			return
		}
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		what := "the factory certificate"
		if renew {
			what = "the current operational certificate"
		}
		h.refuse(w, r, lbl, http.StatusUnauthorized, "no TLS client certificate: present "+what+" as the client certificate")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(w, r, lbl, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBody))
			return
		}
		h.refuse(w, r, lbl, http.StatusBadRequest, "reading the request body: "+err.Error())
		return
	}
	der, err := decodeBase64(body)
	if err != nil {
		h.refuse(w, r, lbl, http.StatusBadRequest, "PKCS#10 request: "+err.Error())
		return
	}
	facts, err := readFacts(r.Header)
	if err != nil {
		h.refuse(w, r, lbl, http.StatusBadRequest, err.Error())
		return
	}
	do := h.enr.Enroll
	if renew {
		do = h.enr.Reenroll
	}
	cert, err := do(r.Context(), lbl, der, r.TLS.PeerCertificates, facts)
	if err != nil {
		h.fail(w, r, lbl, err)
		return
	}
	h.log.Info("est issued", "op", reqName(r), "label", lbl, "peer", peerName(r), "serial", cert.SerialNumber.Text(16))
	writeP7(w, "application/pkcs7-mime; smime-type=certs-only", []*x509.Certificate{cert})
}

// readFacts reads the documented fact headers. Hallmark-Fact is key=value, one per header
// line; a line holding several separated by commas (as proxies may fold them) is split.
func readFacts(hd http.Header) (Facts, error) {
	f := Facts{FirmwareDigest: strings.TrimSpace(hd.Get(HeaderFirmwareDigest)), HardwareRevision: strings.TrimSpace(hd.Get(HeaderHardwareRevision))}
	for _, line := range hd.Values(HeaderFact) {
		for _, kv := range strings.Split(line, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return f, fmt.Errorf("%s must be key=value, got %q", HeaderFact, kv)
			}
			if f.Extra == nil {
				f.Extra = map[string]string{}
			}
			if _, dup := f.Extra[k]; dup {
				return f, fmt.Errorf("%s %q is given twice", HeaderFact, k)
			}
			f.Extra[k] = strings.TrimSpace(v)
		}
	}
	return f, nil
}

// writeP7 writes a certs-only response base64-encoded with CRLF line breaks and the
// Content-Transfer-Encoding header that RFC 7030 section 4 specifies (RFC 8951 section 3).
func writeP7(w http.ResponseWriter, contentType string, certs []*x509.Certificate) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Transfer-Encoding", "base64")
	_, _ = w.Write(encodeBase64(CertsOnly(certs)))
}

// status maps an Enroller error to an HTTP status (RFC 7030 section 4.2.3: a refusal is a 4xx
// or 5xx with a human-readable text body). A not-found record other than the label means the
// presented identity is unknown to the authority: the request is refused, not missing.
func status(err error) int {
	var le *LabelError
	if errors.As(err, &le) {
		return http.StatusNotFound
	}
	switch failure.KindOf(err) {
	case failure.Invalid:
		return http.StatusBadRequest
	case failure.Denied, failure.NotFound:
		return http.StatusForbidden
	case failure.Conflict:
		return http.StatusConflict
	case failure.Unauthenticated:
		return http.StatusUnauthorized
	case failure.TooLarge:
		return http.StatusRequestEntityTooLarge
	case failure.Unavailable:
		return http.StatusServiceUnavailable
	case failure.Pending:
		return http.StatusAccepted
	}
	return http.StatusInternalServerError
}

// fail answers an Enroller error; internal errors are logged in full and answered without
// their detail.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, lbl string, err error) {
	code := status(err)
	if code == http.StatusInternalServerError {
		h.log.Error("est failed", "op", reqName(r), "label", lbl, "peer", peerName(r), "error", err)
		writeText(w, code, "the server could not complete the request; the reason is in its log")
		return
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "30")
	}
	// RFC 7030 section 4.2.3: 202 with Retry-After when the request waits for a manual
	// approval; the client repeats the same request after that many seconds.
	var pending *failure.PendingError
	if errors.As(err, &pending) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(pending.RetryAfter.Seconds()))))
	}
	h.refuseErr(w, r, lbl, code, err.Error(), err)
}

// refuse logs a refusal with its reason and answers it in text/plain.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, lbl string, code int, reason string) {
	h.refuseErr(w, r, lbl, code, reason, nil)
}

// refuseErr is refuse with the Enroller's error, if any; a 4xx to a client that presented a
// certificate is reported to Config.Refused.
func (h *Handler) refuseErr(w http.ResponseWriter, r *http.Request, lbl string, code int, reason string, err error) {
	h.log.Info("est refused", "op", reqName(r), "label", lbl, "peer", peerName(r), "status", code, "reason", reason)
	if h.refused != nil && code >= 400 && code < 500 && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		op := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		h.refused(Refused{Label: lbl, Op: op, Status: code, Message: reason, Err: err, Peer: r.TLS.PeerCertificates[0]})
	}
	writeText(w, code, reason)
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func reqName(r *http.Request) string { return r.Method + " " + r.URL.Path }

// peerName names the client certificate for logs: subject and serial.
func peerName(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	c := r.TLS.PeerCertificates[0]
	serial := "<nil>"
	if c.SerialNumber != nil {
		serial = c.SerialNumber.Text(16)
	}
	return c.Subject.String() + " (serial " + serial + ")"
}
