package status

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// maxRequest bounds an OCSP request body; a one-certificate request with a nonce is about
// 120 octets.
const maxRequest = 8 << 10

// Handler serves /ocsp, /ocsp/<ca-id>[/<base64 request>], /ocsp/<base64 request>,
// /crl/<ca-id>.crl, /crl/<ca-id>-<p>.crl and /ca/<ca-id>.cer. Mount it at all four of
// "/ocsp", "/ocsp/", "/crl/" and "/ca/".
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ocsp", s.serveOCSP)
	mux.HandleFunc("/ocsp/", s.serveOCSP)
	mux.HandleFunc("/crl/", s.serveCRL)
	mux.HandleFunc("/ca/", s.serveCACert)
	return OCSPFirst(http.HandlerFunc(s.serveOCSP), mux)
}

// OCSPFirst sends a request for "/ocsp" or below it to ocsp with its path as it came, and any
// other to rest. RFC 6960 appendix A.1 puts a GET's request in its path as base64, whose
// alphabet has '/': about one request in fifty holds "//", which http.ServeMux cleans away
// with a redirect to a path that no longer decodes. A client that percent-encodes, as the
// appendix asks, never meets this; one that does not (many do not) must be answered too.
// r.Pattern is set to the pattern a ServeMux would have matched ("/ocsp" or "/ocsp/"), which
// request metrics name the route by.
func OCSPFirst(ocsp, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/ocsp" || strings.HasPrefix(p, "/ocsp/") {
			r.Pattern = p[:min(len(p), len("/ocsp/"))]
			ocsp.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// serveOCSP implements RFC 6960 appendix A.1: POST with an application/ocsp-request body, or
// GET with the base64 DER request as the last part of the path. With /ocsp/<ca-id> the
// request must name that CA; without it the CA is found from the CertID's issuer hashes.
func (s *Service) serveOCSP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/ocsp"), "/")
	caID := ""
	// A CA ID starts with "ca-"; a base64 DER request starts with "M" (0x30) and never does.
	if first, after, _ := strings.Cut(rest, "/"); strings.HasPrefix(first, "ca-") {
		caID, rest = first, after
	}
	var der []byte
	switch r.Method {
	case http.MethodGet:
		var err error
		if der, err = decodeGET(rest); err != nil {
			writeOCSP(w, respMalformed, 0)
			return
		}
	case http.MethodPost:
		if rest != "" {
			writeOCSP(w, respMalformed, 0)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				w.Header().Set("Connection", "close")
			}
			writeOCSP(w, respMalformed, 0)
			return
		}
		der = body
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	resp, maxAge := s.Respond(r.Context(), caID, der)
	if r.Method != http.MethodGet {
		maxAge = 0
	}
	writeOCSP(w, resp, maxAge)
}

// decodeGET reads the request of a GET: base64 (standard, or URL-safe, padded or not) of
// the DER, already percent-decoded by net/http.
func decodeGET(s string) ([]byte, error) {
	if s == "" || len(s) > 2*maxRequest {
		return nil, ErrMalformed
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func writeOCSP(w http.ResponseWriter, body []byte, maxAge int) {
	h := w.Header()
	h.Set("Content-Type", "application/ocsp-response")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if maxAge > 0 {
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(maxAge)+", no-transform")
	} else {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// Respond answers one DER OCSPRequest, returning the OCSPResponse and how many seconds a
// cache may keep it (0: do not cache). wantCA, when set, is the CA the URL named.
//
// Answers to requests with a nonce are signed fresh, with the nonce echoed (RFC 6960 section
// 4.4.1); the certificate's status still comes from the cache when it is fresh. Answers to
// requests without one are cached (cache.go). A serial longer than the 20 octets RFC 5280
// section 4.1.2.2 allows is unknown without a look-up and is not cached.
func (s *Service) Respond(ctx context.Context, wantCA string, der []byte) ([]byte, int) {
	req, err := ParseRequest(der)
	if err != nil {
		return respMalformed, 0
	}
	cs := s.caFor(ctx, req)
	if cs == nil || (wantCA != "" && cs.c.ID != wantCA) {
		return respUnauthorized, 0
	}
	sg, err := s.responder(ctx, cs)
	if err != nil {
		s.c.Log.Error("status: no OCSP responder", "ca_id", cs.c.ID, "err", err)
		return respInternal, 0
	}
	now := s.c.Now()
	refresh := s.c.OCSPLifetime / 2
	at := now.Truncate(time.Second)
	if req.Serial.BitLen() > 20*8 {
		resp, ok := s.sign(sg, req, certStatus{kind: unknown}, at, now)
		if !ok || req.Nonce != nil {
			return resp, 0
		}
		return resp, maxAge(at, refresh, now)
	}
	k := cacheKey{cs: cs, serial: ca.SerialHex(req.Serial)}
	// A certificate whose row disagrees with the audit log (the last reconciliation said so)
	// gets tryLater (RFC 6960 section 2.3), never good, not even from the cache: the row may
	// have been edited outside Hallmark. The check is one atomic load while no certificate is
	// disputed, so the hot path stays a cache hit.
	if s.c.Disputes != nil && s.c.Disputes.Disputed(k.serial) {
		s.ocspDisputed.Add(1)
		return respTryLater, 0
	}
	gen := s.cache.gen.Load() // before the look-up: a change after it keeps the answer out of the cache
	v, cached := s.cache.get(k, req.CertID, sg, now, refresh)
	if cached != nil && req.Nonce == nil {
		s.ocspCached.Add(1)
		return cached, maxAge(v.at, refresh, now)
	}
	st := v.st
	if v.ok {
		at = v.at
	} else if st, err = s.lookup(ctx, cs, req); err != nil {
		s.c.Log.Error("status: looking up a certificate", "ca_id", cs.c.ID, "serial", k.serial, "err", err)
		return respInternal, 0
	}
	resp, ok := s.sign(sg, req, st, at, now)
	if !ok || req.Nonce != nil {
		return resp, 0
	}
	s.cache.put(gen, k, st, at, sg, req.CertID, resp)
	return resp, maxAge(at, refresh, now)
}

// sign signs the answer to req (status st as of at); on failure it returns internalError
// and false.
func (s *Service) sign(sg *signer, req *Request, st certStatus, at, now time.Time) ([]byte, bool) {
	resp, err := sg.sign(req.CertID, st, at, at.Add(s.c.OCSPLifetime), now, req.Nonce)
	if err != nil {
		s.c.Log.Error("status: signing an OCSP answer", "err", err)
		return respInternal, false
	}
	s.ocspSigned.Add(1)
	return resp, true
}

func maxAge(at time.Time, refresh time.Duration, now time.Time) int {
	return max(0, int(at.Add(refresh).Sub(now).Seconds()))
}

// lookup reads a certificate's status. Anything but a certificate this CA issued is unknown:
// a serial never seen, one of another CA, one only reserved.
func (s *Service) lookup(ctx context.Context, cs *caState, req *Request) (certStatus, error) {
	var rec ca.Cert
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { rec, err = tx.Certificates().GetCert(req.Serial); return err })
	switch {
	case failure.Is(err, failure.NotFound):
		return certStatus{kind: unknown}, nil
	case err != nil:
		return certStatus{}, err
	case rec.CAID != cs.c.ID:
		return certStatus{kind: unknown}, nil
	case rec.State == ca.Issued:
		return certStatus{kind: good}, nil
	case rec.State == ca.Revoked:
		st := certStatus{kind: revoked}
		if rec.RevokedAt != nil {
			st.revokedAt = *rec.RevokedAt
		}
		if rec.Reason != nil {
			st.reason = *rec.Reason
		}
		return st, nil
	case rec.State == ca.Reserved:
		return certStatus{kind: unknown}, nil
	}
	return certStatus{}, fmt.Errorf("certificate %s in unknown state %q", rec.SerialHex, rec.State)
}
