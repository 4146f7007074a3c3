package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// hallmark is `hallmark serve --dev` in a fresh data folder: SQLite in WAL mode with
// synchronous=FULL and group commit, the audit Merkle tree, pre-issuance zlint, the demo
// parties and CAs, HTTPS with the dev CA and EST on its own port.
type hallmark struct {
	label    string // the server's name in the report: "hallmark" when empty
	proc     *process
	info     devInfo
	roots    *x509.CertPool
	tokens   map[string]string
	modelID  string // the demo model, sensor-x
	issuerID string // acme's manufacturing issuing CA
	conn     string // the TLS connection a probe negotiated
	idle     *http.Client
	// apiURLs and estURLs, when set, are several replicas' API and EST bases: timed request
	// i goes to [i % len] (round-robin); setup calls go to info's. Empty: info's only.
	apiURLs, estURLs []string

	mu    sync.Mutex
	slots map[*slot]*hmSlot
}

// devInfo is the part of DATA/dev.json the harness reads.
type devInfo struct {
	APIURL    string `json:"api_url"`
	ESTURL    string `json:"est_url"`
	TLSCAFile string `json:"tls_ca_file"`
	TokenFile string `json:"token_file"`
	PID       int    `json:"pid"`
}

// hmSlot is what one slot's devices hold between scenarios: the lot, the factory
// identities (from the factory cell) and the operational ones (from the enrollment cell).
type hmSlot struct {
	lotID             string
	factory, enrolled []*tls.Certificate
}

// The dev principals the harness acts as (internal/app/dev.go seeds them).
const (
	hmManufacturer = "acme/alice"
	hmFactory      = "fabrikam/station-1"
	hmOperator     = "contoso/oscar"
)

// hmFirmware is the firmware digest every device's build record and EST request carry.
var hmFirmware = strings.Repeat("0f", 32)

// startHallmark starts the dev server from bin in dir/hallmark-data on free loopback ports,
// with extra flags for serve, and waits until dev.json names this process.
func startHallmark(ctx context.Context, bin, dir string, extra ...string) (*hallmark, error) {
	data := filepath.Join(dir, "hallmark-data")
	p, err := startProcess(dir, filepath.Join(dir, "hallmark.log"), nil, bin, append([]string{"serve", "--dev", "--data", data, "--listen", "127.0.0.1:0"}, extra...)...)
	if err != nil {
		return nil, err
	}
	h := &hallmark{proc: p, slots: map[*slot]*hmSlot{}}
	err = waitReady(ctx, p, 5*time.Minute, func() error {
		b, err := os.ReadFile(filepath.Join(data, "dev.json"))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &h.info); err != nil {
			return err
		}
		if h.info.PID != p.pid() {
			return fmt.Errorf("dev.json names PID %d, not the server started (%d)", h.info.PID, p.pid())
		}
		return nil
	})
	if err == nil {
		err = h.setup(ctx)
	}
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("hallmark: %w (log: %s)", err, filepath.Join(dir, "hallmark.log"))
	}
	return h, nil
}

// setup reads the TLS CA and tokens and finds the demo model and issuing CA.
func (h *hallmark) setup(ctx context.Context) error {
	ca, err := os.ReadFile(h.info.TLSCAFile)
	if err != nil {
		return err
	}
	h.roots = x509.NewCertPool()
	if !h.roots.AppendCertsFromPEM(ca) {
		return errors.New("the dev TLS CA holds no certificate")
	}
	tb, err := os.ReadFile(h.info.TokenFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(tb, &h.tokens); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	c := keepAliveClient(h.roots, 1)
	defer c.CloseIdleConnections()
	var models struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	res, err := h.api(ctx, c, hmManufacturer, "GET", "/v1/models?manufacturer=acme", nil, 200, &models)
	if err != nil {
		return err
	}
	h.conn = describeTLS(res.TLS)
	var cas struct {
		Items []struct {
			ID    string `json:"id"`
			Role  string `json:"role"`
			Stage string `json:"stage"`
		} `json:"items"`
	}
	if _, err := h.api(ctx, c, hmManufacturer, "GET", "/v1/cas?party=acme", nil, 200, &cas); err != nil {
		return err
	}
	for _, m := range models.Items {
		if m.Name == "sensor-x" {
			h.modelID = m.ID
		}
	}
	for _, c := range cas.Items {
		if c.Role == "issuing" && c.Stage == "manufacturing" {
			h.issuerID = c.ID
		}
	}
	if h.modelID == "" || h.issuerID == "" {
		return errors.New("the dev server has no sensor-x model or manufacturing issuing CA")
	}
	return nil
}

func (h *hallmark) name() string {
	if h.label != "" {
		return h.label
	}
	return "hallmark"
}
func (h *hallmark) pid() int        { return h.proc.pid() }
func (h *hallmark) tlsInfo() string { return h.conn }

// api sends one REST call as principal who, checks the status and decodes the answer.
func (h *hallmark) api(ctx context.Context, c *http.Client, who, method, path string, in any, want int, out any) (*http.Response, error) {
	var body []byte
	hdr := http.Header{"Authorization": {"Bearer " + h.tokens[who]}, "Accept": {"application/json"}}
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, err
		}
		hdr.Set("Content-Type", "application/json")
	}
	res, b, err := send(ctx, c, method, h.info.APIURL+path, body, hdr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode != want {
		return res, statusError(method+" "+path, res, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return res, fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return res, nil
}

// prepare: factory makes the slot's lot (delegated to the contract manufacturer) and the
// request bodies; enroll hands the lot to the operator (one custody transfer); renew needs
// the enrolled identities. None of it is timed.
func (h *hallmark) prepare(ctx context.Context, sc scenario, sl *slot, n int) (op, error) {
	if h.idle != nil {
		h.idle.CloseIdleConnections()
	}
	setup := keepAliveClient(h.roots, 1)
	defer setup.CloseIdleConnections()
	h.mu.Lock()
	st := h.slots[sl]
	h.mu.Unlock()
	if sc != factory && st == nil {
		return nil, errors.New("the slot's factory cell did not run")
	}
	switch sc {
	case factory:
		var lot struct {
			ID string `json:"id"`
		}
		req := map[string]string{"model_id": h.modelID, "name": sl.name(), "line": "line-bench", "issuing_ca_id": h.issuerID, "delegate_to": "fabrikam"}
		if _, err := h.api(ctx, setup, hmManufacturer, "POST", "/v1/lots", req, 201, &lot); err != nil {
			return nil, fmt.Errorf("creating the lot: %w", err)
		}
		st = &hmSlot{lotID: lot.ID, factory: make([]*tls.Certificate, n), enrolled: make([]*tls.Certificate, n)}
		h.mu.Lock()
		h.slots[sl] = st
		h.mu.Unlock()
		bodies, err := factoryBodies(sl, n)
		if err != nil {
			return nil, err
		}
		c := keepAliveClient(h.roots, sl.clients)
		h.idle = c
		hdr := http.Header{"Authorization": {"Bearer " + h.tokens[hmFactory]}, "Content-Type": {"application/json"}, "Accept": {"application/json"}}
		path := "/v1/lots/" + url.PathEscape(st.lotID) + "/devices"
		return func(ctx context.Context, i int) (int, error) {
			u := pickURL(h.apiURLs, h.info.APIURL, i) + path
			d, res, b, err := deferrable(ctx, func() (*http.Response, []byte, error) { return send(ctx, c, "POST", u, bodies[i], hdr) })
			if err != nil {
				return d, err
			}
			if res.StatusCode != http.StatusCreated {
				return d, statusError("factory issuance", res, b)
			}
			var fi struct {
				Cert  string `json:"certificate_pem"`
				Chain string `json:"chain_pem"`
			}
			if err := json.Unmarshal(b, &fi); err != nil {
				return d, fmt.Errorf("factory issuance: decoding the answer: %w", err)
			}
			id, err := identityFromPEM(fi.Cert+fi.Chain, sl.csrs[factory][i].key)
			st.factory[i] = id
			return d, err
		}, nil
	case enroll:
		var tr struct {
			ID string `json:"id"`
		}
		if _, err := h.api(ctx, setup, hmFactory, "POST", "/v1/transfers", map[string]string{"to": "contoso", "lot_id": st.lotID, "note": "bench"}, 201, &tr); err != nil {
			return nil, fmt.Errorf("offering the lot: %w", err)
		}
		if _, err := h.api(ctx, setup, hmOperator, "POST", "/v1/transfers/"+url.PathEscape(tr.ID)+"/accept", nil, 200, nil); err != nil {
			return nil, fmt.Errorf("accepting the lot: %w", err)
		}
		return h.estOp("simpleenroll", sl.csrs[enroll], st.factory, st.enrolled), nil
	case renew:
		return h.estOp("simplereenroll", sl.csrs[renew], st.enrolled, nil), nil
	}
	return nil, errUnsupported
}

// estOp is one EST enrollment (RFC 7030 section 4.2) over a new mTLS connection to Hallmark:
// the device presents from[i] and sends csrs[i]; the new identity is kept in into[i] when into
// is not nil.
func (h *hallmark) estOp(operation string, csrs []*csrItem, from, into []*tls.Certificate) op {
	hdr := http.Header{"Content-Type": {"application/pkcs10"}, "Content-Transfer-Encoding": {"base64"},
		"Hallmark-Firmware-Digest": {hmFirmware}, "Hallmark-Hardware-Revision": {"B"}}
	return estRequest(h.roots, func(i int) string { return pickURL(h.estURLs, h.info.ESTURL, i) + "/" + operation }, operation, hdr, csrs, from, into)
}

// estRequest is one EST enrollment (RFC 7030 section 4.2) over a new mTLS connection to
// urlOf(i): the device presents from[i] and sends csrs[i] with hdr; the new identity is kept
// in into[i] when into is not nil.
func estRequest(roots *x509.CertPool, urlOf func(int) string, operation string, hdr http.Header, csrs []*csrItem, from, into []*tls.Certificate) op {
	return func(ctx context.Context, i int) (int, error) {
		if from[i] == nil {
			return 0, fmt.Errorf("%s: device %d has no identity (an earlier cell failed for it)", operation, i)
		}
		u := urlOf(i)
		body := []byte(base64.StdEncoding.EncodeToString(csrs[i].der))
		d, res, b, err := deferrable(ctx, func() (*http.Response, []byte, error) {
			return send(ctx, oneShotClient(roots, from[i]), "POST", u, body, hdr)
		})
		if err != nil {
			return d, fmt.Errorf("%s: %w", operation, err)
		}
		if res.StatusCode != http.StatusOK {
			return d, statusError(operation, res, b)
		}
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
		if err != nil {
			return d, fmt.Errorf("%s: the answer is not base64: %w", operation, err)
		}
		certs, err := parseCertsOnly(der)
		if err != nil {
			return d, fmt.Errorf("%s: %w", operation, err)
		}
		id, err := identity(certs, csrs[i].key)
		if into != nil {
			into[i] = id
		}
		return d, err
	}
}

// pickURL is urls[i % len(urls)], or def when urls is empty.
func pickURL(urls []string, def string, i int) string {
	if len(urls) == 0 {
		return def
	}
	return urls[i%len(urls)]
}

// identityFromPEM makes a TLS client identity from a PEM chain (leaf first) and its key.
func identityFromPEM(chain string, key *ecdsa.PrivateKey) (*tls.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(chain)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing an issued certificate: %w", err)
		}
		certs = append(certs, c)
	}
	return identity(certs, key)
}

// identity makes a TLS client identity of key and the certificates an answer held: the one
// for key first (a TLS client sends its own certificate first), the others after it. An
// answer without a certificate for key is an error: the server issued for another key.
func identity(certs []*x509.Certificate, key *ecdsa.PrivateKey) (*tls.Certificate, error) {
	leaf := -1
	for i, c := range certs {
		if key.PublicKey.Equal(c.PublicKey) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, fmt.Errorf("none of the %d certificates in the answer is for the key of the request", len(certs))
	}
	out := &tls.Certificate{Certificate: [][]byte{certs[leaf].Raw}, PrivateKey: key, Leaf: certs[leaf]}
	for i, c := range certs {
		if i != leaf {
			out.Certificate = append(out.Certificate, c.Raw)
		}
	}
	return out, nil
}

// oidSignedData is PKCS #7 / CMS signed-data (RFC 5652 section 5.1).
var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// parseCertsOnly reads the certificates of a DER "certs-only" CMS SignedData, the answer of
// EST simpleenroll and simplereenroll (RFC 7030 section 4.2.3), in the order the answer
// lists them. An answer with none is an error.
func parseCertsOnly(der []byte) ([]*x509.Certificate, error) {
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("certs-only: content info: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("certs-only: trailing data")
	}
	if !ci.Type.Equal(oidSignedData) {
		return nil, fmt.Errorf("certs-only: content type %v, want signed-data", ci.Type)
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContentInfo asn1.RawValue
		Certificates     asn1.RawValue `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue `asn1:"optional,tag:1"`
		SignerInfos      asn1.RawValue
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("certs-only: signed data: %w", err)
	}
	if len(sd.Certificates.Bytes) == 0 {
		return nil, errors.New("certs-only: no certificate")
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs-only: %w", err)
	}
	return certs, nil
}

// factoryBodies are the factory issuance requests of slot sl's first n factory CSRs: the CSR
// and a build record for the bench lot (Hallmark's and the floor's, the same bytes).
func factoryBodies(sl *slot, n int) ([][]byte, error) {
	bodies := make([][]byte, n)
	built := time.Now().UTC().Format(time.RFC3339)
	for i, it := range sl.csrs[factory][:n] {
		rec := map[string]any{"manufacturer": "acme", "model": "sensor-x", "hardwareRevision": "B", "serial": it.serial, "lot": sl.name(),
			"line": "line-bench", "firmwareDigest": map[string]string{"sha256": hmFirmware}, "testResult": "pass", "builtAt": built}
		b, err := json.Marshal(map[string]any{"csr": it.pem, "build_record": rec})
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	return bodies, nil
}
