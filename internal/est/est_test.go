package est

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// fake is an Enroller that records its inputs and answers err when set. The real path runs
// end to end in internal/app; this checks the wire format only.
type fake struct {
	ca, issued *x509.Certificate
	err        error
	label      string
	csr        []byte
	peer       []*x509.Certificate
	facts      Facts
	renewed    bool
}

func (f *fake) CACerts(_ context.Context, label string) ([]*x509.Certificate, error) {
	f.label = label
	return []*x509.Certificate{f.ca}, f.err
}

func (f *fake) Enroll(_ context.Context, label string, csr []byte, peer []*x509.Certificate, facts Facts) (*x509.Certificate, error) {
	f.label, f.csr, f.peer, f.facts = label, csr, peer, facts
	return f.issued, f.err
}

func (f *fake) Reenroll(ctx context.Context, label string, csr []byte, peer []*x509.Certificate, facts Facts) (*x509.Certificate, error) {
	f.renewed = true
	return f.Enroll(ctx, label, csr, peer, facts)
}

func selfSigned(t *testing.T, cn string, isCA bool) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true, DNSNames: []string{"localhost"},
		IPAddresses: nil, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: c}
}

func csrDER(t *testing.T) []byte {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "dev-1"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// server starts the handler behind TLSConfig on loopback.
func server(t *testing.T, f *fake) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(New(Config{Enroller: f, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	srv.TLS = TLSConfig([]tls.Certificate{selfSigned(t, "est-server", false)}, NewIssuerSet([]*x509.Certificate{knownCA().Leaf}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func client(srv *httptest.Server, cert *tls.Certificate, version uint16) *http.Client {
	tc := &tls.Config{InsecureSkipVerify: true, MinVersion: version, MaxVersion: version} //nolint:gosec // a test server's own certificate
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
}

func do(t *testing.T, c *http.Client, method, url string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Add(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func checkBase64Body(t *testing.T, b []byte) []byte {
	t.Helper()
	lines := strings.Split(string(b), "\r\n")
	if lines[len(lines)-1] != "" {
		t.Errorf("body does not end in CRLF: %q", b)
	}
	for _, l := range lines {
		if len(l) > 64 || strings.ContainsAny(l, "\r\n") {
			t.Errorf("line %q is not a CRLF line of at most 64 characters", l)
		}
	}
	der, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b), "\r\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCACertsWireFormat(t *testing.T) {
	ca := selfSigned(t, "ca", true)
	f := &fake{ca: ca.Leaf}
	srv := server(t, f)
	for _, path := range []string{"/.well-known/est/cacerts", "/.well-known/est/plant-1/cacerts"} {
		res, b := do(t, client(srv, nil, 0), "GET", srv.URL+path, nil, nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pkcs7-mime" || res.Header.Get("Content-Transfer-Encoding") != "base64" {
			t.Fatalf("%s: %d %v %s", path, res.StatusCode, res.Header, b)
		}
		certs, err := ParseCertsOnly(checkBase64Body(t, b))
		if err != nil || len(certs) != 1 || !certs[0].Equal(ca.Leaf) {
			t.Fatalf("%s: certs %v, %v", path, certs, err)
		}
	}
	if f.label != "plant-1" {
		t.Errorf("label = %q", f.label)
	}
}

func TestEnrollWireFormat(t *testing.T) {
	ca, dev := selfSigned(t, "ca", true), issued(t, knownCA(), "factory", time.Now().Add(time.Hour))
	f := &fake{ca: ca.Leaf, issued: ca.Leaf}
	srv := server(t, f)
	csr := csrDER(t)
	// Line-wrapped with CRLF and surrounded by white space, as RFC 8951 allows.
	body := []byte("  " + strings.ReplaceAll(string(encodeBase64(csr)), "\r\n", "\r\n  ") + "\n")
	hdr := map[string]string{"Content-Type": "application/pkcs10", "Content-Transfer-Encoding": "base64",
		HeaderFirmwareDigest: "0f0f", HeaderHardwareRevision: "B", HeaderFact: "site=north, rack=7"}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, op := range []string{"simpleenroll", "simplereenroll"} {
			f.renewed = false
			res, b := do(t, client(srv, &dev, v), "POST", srv.URL+"/.well-known/est/"+op, body, hdr)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pkcs7-mime; smime-type=certs-only" || res.Header.Get("Content-Transfer-Encoding") != "base64" {
				t.Fatalf("%s TLS %x: %d %v %s", op, v, res.StatusCode, res.Header, b)
			}
			certs, err := ParseCertsOnly(checkBase64Body(t, b))
			if err != nil || len(certs) != 1 {
				t.Fatalf("%s: %v %v", op, certs, err)
			}
			if !bytes.Equal(f.csr, csr) || len(f.peer) != 1 || !f.peer[0].Equal(dev.Leaf) || f.renewed != (op == "simplereenroll") {
				t.Errorf("%s: enroller saw csr=%v peer=%v renewed=%v", op, bytes.Equal(f.csr, csr), f.peer, f.renewed)
			}
			if f.facts.FirmwareDigest != "0f0f" || f.facts.HardwareRevision != "B" || f.facts.Extra["site"] != "north" || f.facts.Extra["rack"] != "7" {
				t.Errorf("facts = %+v", f.facts)
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	ca, dev := selfSigned(t, "ca", true), issued(t, knownCA(), "factory", time.Now().Add(time.Hour))
	good := encodeBase64(csrDER(t))
	pkcs10 := map[string]string{"Content-Type": "application/pkcs10"}
	cases := []struct {
		name       string
		method     string
		path       string
		cert       *tls.Certificate
		body       []byte
		hdr        map[string]string
		err        error
		status     int
		wantInBody string
	}{
		{"no client certificate", "POST", "simpleenroll", nil, good, pkcs10, nil, 401, "no TLS client certificate"},
		{"garbage base64", "POST", "simpleenroll", &dev, []byte("!!not base64!!"), pkcs10, nil, 400, "not base64"},
		{"empty body", "POST", "simpleenroll", &dev, nil, pkcs10, nil, 400, "empty"},
		{"wrong content type", "POST", "simpleenroll", &dev, good, map[string]string{"Content-Type": "application/json"}, nil, 415, "application/pkcs10"},
		{"oversized", "POST", "simpleenroll", &dev, bytes.Repeat([]byte("A"), MaxBody+1), pkcs10, nil, 413, "larger"},
		{"bad fact", "POST", "simpleenroll", &dev, good, map[string]string{HeaderFact: "novalue"}, nil, 400, "key=value"},
		{"unknown label", "POST", "nope/simpleenroll", &dev, good, pkcs10, &LabelError{Label: "nope", Msg: "no environment"}, 404, "nope"},
		{"policy denial", "POST", "simpleenroll", &dev, good, pkcs10, failure.New(failure.Denied, "onboarding policy v1 denied: rule x"), 403, "rule x"},
		{"invalid", "POST", "simplereenroll", &dev, good, pkcs10, failure.New(failure.Invalid, "the CSR uses the factory key"), 400, "factory key"},
		{"superseded", "POST", "simplereenroll", &dev, good, pkcs10, failure.New(failure.Conflict, "superseded"), 409, "superseded"},
		{"unknown record", "POST", "simplereenroll", &dev, good, pkcs10, failure.New(failure.NotFound, "device: not found"), 403, "not found"},
		{"internal", "POST", "simpleenroll", &dev, good, pkcs10, errors.New("disk on fire"), 500, "in its log"},
		{"GET enroll", "GET", "simpleenroll", &dev, nil, nil, nil, 405, "POST"},
		{"POST cacerts", "POST", "cacerts", nil, nil, nil, nil, 405, "GET"},
		{"serverkeygen", "POST", "serverkeygen", &dev, good, pkcs10, nil, 501, "not supported"},
		{"unknown operation", "GET", "foo", nil, nil, nil, nil, 404, "unknown"},
		{"bad label", "GET", "a%20b/cacerts", nil, nil, nil, nil, 404, "label"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{ca: ca.Leaf, issued: ca.Leaf, err: tc.err}
			srv := server(t, f)
			res, b := do(t, client(srv, tc.cert, 0), tc.method, srv.URL+"/.well-known/est/"+tc.path, tc.body, tc.hdr)
			if res.StatusCode != tc.status || !strings.Contains(string(b), tc.wantInBody) || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("%d %q %s, want %d with %q in a text/plain body", res.StatusCode, res.Header.Get("Content-Type"), b, tc.status, tc.wantInBody)
			}
			if tc.status == 500 && strings.Contains(string(b), "fire") {
				t.Errorf("internal detail leaked: %s", b)
			}
		})
	}
}

func TestCSRAttrs(t *testing.T) {
	ca := selfSigned(t, "ca", true)
	srv := server(t, &fake{ca: ca.Leaf})
	if res, b := do(t, client(srv, nil, 0), "GET", srv.URL+"/.well-known/est/csrattrs", nil, nil); res.StatusCode != 204 {
		t.Fatalf("csrattrs: %d %s", res.StatusCode, b)
	}
	srv = server(t, &fake{ca: ca.Leaf, err: &LabelError{Label: "x", Msg: "no environment"}})
	if res, _ := do(t, client(srv, nil, 0), "GET", srv.URL+"/.well-known/est/x/csrattrs", nil, nil); res.StatusCode != 404 {
		t.Fatalf("csrattrs of an unknown label: %d", res.StatusCode)
	}
}

func TestCertsOnlyRoundTrip(t *testing.T) {
	a, b := selfSigned(t, "a", true), selfSigned(t, "b", true)
	got, err := ParseCertsOnly(CertsOnly([]*x509.Certificate{a.Leaf, b.Leaf}))
	if err != nil || len(got) != 2 || !got[0].Equal(a.Leaf) || !got[1].Equal(b.Leaf) {
		t.Fatalf("round trip = %v, %v", got, err)
	}
	if _, err := ParseCertsOnly([]byte{0x30, 0x00}); err == nil {
		t.Error("an empty SEQUENCE parsed")
	}
}

func TestDecodeBase64(t *testing.T) {
	for _, in := range []string{"AAEC", "AAEC\r\n", " AA\r\nEC ", "AAECAw==", "AAECAw", "AAEC\nAw=="} {
		if _, err := decodeBase64([]byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	for _, in := range []string{"", "  ", "!!", "A"} {
		if _, err := decodeBase64([]byte(in)); err == nil {
			t.Errorf("%q decoded", in)
		}
	}
}

// TestEncodeBase64Lines: base64 in lines of 64 characters, each ending in CRLF, the last one
// at most 64 characters, for every length around the line breaks.
func TestEncodeBase64Lines(t *testing.T) {
	for n := 0; n < 300; n++ {
		b := bytes.Repeat([]byte{byte(n)}, n)
		s := base64.StdEncoding.EncodeToString(b)
		var want strings.Builder
		for len(s) > 64 {
			want.WriteString(s[:64] + "\r\n")
			s = s[64:]
		}
		want.WriteString(s + "\r\n")
		if got := string(encodeBase64(b)); got != want.String() {
			t.Fatalf("%d bytes: got %q, want %q", n, got, want.String())
		}
	}
}
