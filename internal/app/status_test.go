package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/status"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// statusServer is the REST API and the status handler of an App built with Build, served over
// plain HTTP on loopback (as OCSP and CRLs are served to relying parties), with the demo
// seed of the dev server. It returns the harness of the other end-to-end tests and the App.
func statusServer(t *testing.T) (*devServer, *App) {
	t.Helper()
	return statusServerKeys(t, nil)
}

// statusServerKeys is statusServer with the keys in kp (nil: encrypted files in a test folder).
func statusServerKeys(t *testing.T, kp keys.Provider) (*devServer, *App) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var err error
	if kp == nil {
		if kp, err = keyfile.New(filepath.Join(dir, "keys"), keys.Secret("status-test")); err != nil {
			t.Fatal(err)
		}
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := Build(Wiring{Store: st, Keys: kp, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Status: StatusConfig{PollInterval: 200 * time.Millisecond, FullCRLMinGap: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "tokens.json")
	if err := a.devSeed(ctx, tokenFile); err != nil {
		t.Fatal(err)
	}
	// Status without the admission limiter, routed as a.Handler routes it (OCSP first).
	mux := http.NewServeMux()
	mux.Handle("/", a.Handler())
	mux.Handle("/crl/", a.StatusHandler())
	h := status.OCSPFirst(a.StatusHandler(), mux)
	srv := httptest.NewServer(h)
	if os.Getenv("HALLMARK_STATUS_TLS") != "" { // the dev server's case: status on the HTTPS API URL
		srv.Close()
		srv = httptest.NewTLSServer(h)
	}
	t.Cleanup(srv.Close)
	if err := a.StartStatus(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	s := &devServer{dir: dir, info: DevInfo{APIURL: srv.URL, TokenFile: tokenFile}, http: srv.Client()}
	b, err := os.ReadFile(tokenFile)
	if err != nil || json.Unmarshal(b, &s.tokens) != nil {
		t.Fatalf("tokens: %v", err)
	}
	return s, a
}

// certInfo reads a PEM certificate file.
func certInfo(t *testing.T, dir, name string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(read(t, dir, name)))
	if b == nil {
		t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ocspCheck runs `openssl ocsp` against the URL the certificate carries and returns the
// status line, failing unless the response verifies and echoes the nonce.
func ocspCheck(t *testing.T, dir, issuer, cert, root string) string {
	t.Helper()
	url := strings.TrimSpace(run(t, dir, "openssl", "x509", "-in", cert, "-noout", "-ocsp_uri"))
	out := run(t, dir, "openssl", "ocsp", "-issuer", issuer, "-cert", cert, "-url", url, "-CAfile", root, "-resp_text")
	// openssl sends a nonce and warns ("WARNING: no nonce in response") unless it is echoed.
	if !strings.Contains(out, "Response verify OK") || strings.Contains(out, "nonce") || !strings.Contains(out, "OCSP Nonce") {
		t.Fatalf("openssl ocsp %s: no verified, nonce-matching response:\n%s", cert, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, cert+": ") {
			return strings.TrimPrefix(l, cert+": ")
		}
	}
	t.Fatalf("openssl ocsp %s: no status line:\n%s", cert, out)
	return ""
}

// partitionCDP matches the CRL distribution point of a device certificate of a partitioned
// CA: <base>/crl/<ca-id>-<p>.crl.
var partitionCDP = regexp.MustCompile(`/crl/(ca-[a-z2-7]+)-([0-9]+)\.crl$`)

// crlCheck fetches the CRL the certificate names, which must be a partition CRL (the demo
// CAs are partitioned, the default) whose critical issuingDistributionPoint names that URL,
// and runs `openssl verify -crl_check` with it.
func crlCheck(t *testing.T, s *devServer, dir, cert, chain string) string {
	t.Helper()
	c := certInfo(t, dir, cert)
	if len(c.CRLDistributionPoints) != 1 || !strings.HasPrefix(c.CRLDistributionPoints[0], s.info.APIURL+"/crl/") || !partitionCDP.MatchString(c.CRLDistributionPoints[0]) {
		t.Fatalf("%s: CRL distribution points %v, want one partition URL", cert, c.CRLDistributionPoints)
	}
	return crlCheckWith(t, s, dir, cert, chain, c.CRLDistributionPoints[0])
}

// crlCheckWith runs `openssl verify -crl_check` on cert with the CRL fetched from url.
func crlCheckWith(t *testing.T, s *devServer, dir, cert, chain, url string) string {
	t.Helper()
	res, err := s.http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, res.Header.Get("Content-Type"))
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	idp := false
	for _, e := range crl.Extensions {
		if e.Id.String() == "2.5.29.28" {
			idp = e.Critical && bytes.Contains(e.Value, []byte(url))
		}
	}
	if partitionCDP.MatchString(url) != idp {
		t.Fatalf("GET %s: critical issuingDistributionPoint naming it: %v", url, idp)
	}
	if err := os.WriteFile(filepath.Join(dir, "crl.der"), der, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "openssl", "crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem")
	out, _ := runErr(dir, "openssl", "verify", "-crl_check", "-CAfile", chain, "-CRLfile", "crl.pem", cert)
	return out
}

// TestStatusWithOpenSSL checks OCSP and CRLs of both stages with openssl: a good, a runtime-
// revoked, a suspended (manufacturing cascade) and a manufacturing-revoked certificate, and a
// re-admitted one back to good; then zlint over the responder certificate and the CRLs, and
// the RFC answers to bad requests.
func TestStatusWithOpenSSL(t *testing.T) {
	requireTool(t, "openssl")
	s, a := statusServer(t)
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-status")
	envID := opEnv(t, s, "plant-status", nil)
	good := deliveredDevice(t, s, dir, lotID, "lot-status", "SN-G")
	onboard(t, s, dir, envID, "SN-G", "g-op", 201)
	rt := deliveredDevice(t, s, dir, lotID, "lot-status", "SN-R")
	onboard(t, s, dir, envID, "SN-R", "r-op", 201)
	sus := deliveredDevice(t, s, dir, lotID, "lot-status", "SN-S")
	id, _ := onboard(t, s, dir, envID, "SN-S", "s-op", 201)
	opChain := splitPEM(t, id.ChainPEM)
	writeFile(t, dir, "op-issuing.pem", opChain[0])
	writeFile(t, dir, "op-root.pem", opChain[1])
	writeFile(t, dir, "op-chain.pem", opChain[0]+opChain[1])
	mfChain := splitPEM(t, good.ChainPEM)
	writeFile(t, dir, "mf-issuing.pem", mfChain[0])
	writeFile(t, dir, "mf-root.pem", mfChain[1])
	writeFile(t, dir, "mf-chain.pem", mfChain[0]+mfChain[1])

	// The certificates point at this server.
	for _, name := range []string{"g-op.pem", "SN-G.factory.pem"} {
		c := certInfo(t, dir, name)
		if len(c.OCSPServer) != 1 || !strings.HasPrefix(c.OCSPServer[0], s.info.APIURL+"/ocsp/ca-") || len(c.CRLDistributionPoints) != 1 {
			t.Fatalf("%s: AIA %v CDP %v", name, c.OCSPServer, c.CRLDistributionPoints)
		}
	}

	s.must(t, 200, oscar, "POST", "/v1/devices/"+rt.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	s.must(t, 201, alice, "POST", "/v1/manufacturing/revocations", map[string]any{
		"selector": map[string]string{"manufacturer_id": "acme", "device_id": sus.Device.ID}, "reason": "keyCompromise", "dry_run": false})
	start := time.Now()
	waitFor := func(what string, fn func() bool) time.Duration {
		t.Helper()
		for time.Since(start) < 5*time.Second {
			if fn() {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: not within 5 s", what)
		return 0
	}
	ocspGot := waitFor("OCSP shows the suspension", func() bool {
		return strings.HasPrefix(ocspCheck(t, dir, "op-issuing.pem", "s-op.pem", "op-root.pem"), "revoked")
	})
	t.Logf("revocation visible over OCSP after %v", ocspGot)
	// Each partition CRL is rebuilt for a change within CRLMinGap of its last build, so the
	// runtime revocation's partition is waited for too: it may be another partition than the
	// suspension's, built just before the revocation committed (a CI failure once).
	crlGot := waitFor("the CRLs show the runtime revocation, the suspension and the factory revocation", func() bool {
		return strings.Contains(crlCheck(t, s, dir, "r-op.pem", "op-chain.pem"), "certificate revoked") &&
			strings.Contains(crlCheck(t, s, dir, "s-op.pem", "op-chain.pem"), "certificate revoked") &&
			strings.Contains(crlCheck(t, s, dir, "SN-S.factory.pem", "mf-chain.pem"), "certificate revoked")
	})
	t.Logf("revocation visible in the CRLs after %v", crlGot)
	// A partitioned CA's full CRL is served as last built; once fetched, the builder rebuilds
	// it for the changes (after FullCRLMinGap).
	start = time.Now()
	fullGot := waitFor("the full CRLs show the revocations", func() bool {
		for _, c := range []struct{ cert, chain string }{{"r-op.pem", "op-chain.pem"}, {"s-op.pem", "op-chain.pem"}, {"SN-S.factory.pem", "mf-chain.pem"}} {
			m := partitionCDP.FindStringSubmatch(certInfo(t, dir, c.cert).CRLDistributionPoints[0])
			if !strings.Contains(crlCheckWith(t, s, dir, c.cert, c.chain, s.info.APIURL+"/crl/"+m[1]+".crl"), "certificate revoked") {
				return false
			}
		}
		return true
	})
	t.Logf("revocation visible in the full CRLs %v later", fullGot)

	cases := []struct {
		cert, issuer, root, chain string
		ocsp, reason              string
		revoked                   bool
	}{
		{"g-op.pem", "op-issuing.pem", "op-root.pem", "op-chain.pem", "good", "", false},
		{"r-op.pem", "op-issuing.pem", "op-root.pem", "op-chain.pem", "revoked", "keyCompromise", true},
		{"s-op.pem", "op-issuing.pem", "op-root.pem", "op-chain.pem", "revoked", "certificateHold", true},
		{"SN-G.factory.pem", "mf-issuing.pem", "mf-root.pem", "mf-chain.pem", "good", "", false},
		{"SN-S.factory.pem", "mf-issuing.pem", "mf-root.pem", "mf-chain.pem", "revoked", "keyCompromise", true},
	}
	for _, tc := range cases {
		t.Run(tc.cert, func(t *testing.T) {
			if got := ocspCheck(t, dir, tc.issuer, tc.cert, tc.root); got != tc.ocsp {
				t.Errorf("OCSP status %q, want %q", got, tc.ocsp)
			}
			url := strings.TrimSpace(run(t, dir, "openssl", "x509", "-in", tc.cert, "-noout", "-ocsp_uri"))
			out := run(t, dir, "openssl", "ocsp", "-issuer", tc.issuer, "-cert", tc.cert, "-url", url, "-CAfile", tc.root, "-resp_text")
			if tc.reason != "" && !strings.Contains(out, "Reason: "+tc.reason) {
				t.Errorf("OCSP reason: want %s in\n%s", tc.reason, out)
			}
			out = crlCheck(t, s, dir, tc.cert, tc.chain)
			if tc.revoked != strings.Contains(out, "error 23 at 0 depth lookup: certificate revoked") || (!tc.revoked && !strings.Contains(out, ": OK")) {
				t.Errorf("openssl verify -crl_check: revoked=%v:\n%s", tc.revoked, out)
			}
			// Another partition's CRL does not cover the certificate (RFC 5280 section 5.2.5);
			// the full CRL does.
			cdp := certInfo(t, dir, tc.cert).CRLDistributionPoints[0]
			m := partitionCDP.FindStringSubmatch(cdp)
			p, _ := strconv.Atoi(m[2])
			other := fmt.Sprintf("%s/crl/%s-%d.crl", s.info.APIURL, m[1], (p+1)%ca.DefaultCRLPartitions)
			if out := crlCheckWith(t, s, dir, tc.cert, tc.chain, other); !strings.Contains(out, "different CRL scope") {
				t.Errorf("openssl verify -crl_check with another partition's CRL:\n%s", out)
			}
			out = crlCheckWith(t, s, dir, tc.cert, tc.chain, s.info.APIURL+"/crl/"+m[1]+".crl")
			if tc.revoked != strings.Contains(out, "error 23 at 0 depth lookup: certificate revoked") || (!tc.revoked && !strings.Contains(out, ": OK")) {
				t.Errorf("openssl verify -crl_check with the full CRL: revoked=%v:\n%s", tc.revoked, out)
			}
		})
	}

	// Re-admission lifts the hold: OCSP and the CRL say so within a second or two.
	readmit(t, s, sus.Device.ID)
	start = time.Now()
	got := waitFor("OCSP shows the re-admission", func() bool { return ocspCheck(t, dir, "op-issuing.pem", "s-op.pem", "op-root.pem") == "good" })
	t.Logf("re-admission visible over OCSP after %v", got)
	waitFor("the CRL drops the hold", func() bool { return strings.Contains(crlCheck(t, s, dir, "s-op.pem", "op-chain.pem"), ": OK") })

	// An unknown serial of a known issuer is unknown, never good.
	url := strings.TrimSpace(run(t, dir, "openssl", "x509", "-in", "g-op.pem", "-noout", "-ocsp_uri"))
	out := run(t, dir, "openssl", "ocsp", "-issuer", "op-issuing.pem", "-serial", "0x1234567890", "-url", url, "-CAfile", "op-root.pem")
	if !strings.Contains(out, "0x1234567890: unknown") {
		t.Errorf("unknown serial:\n%s", out)
	}
	// A serial of the manufacturing CA asked of the operational CA is unknown too.
	fact := certInfo(t, dir, "SN-G.factory.pem")
	out = run(t, dir, "openssl", "ocsp", "-issuer", "op-issuing.pem", "-serial", "0x"+fact.SerialNumber.Text(16), "-url", s.info.APIURL+"/ocsp", "-CAfile", "op-root.pem")
	if !strings.Contains(out, ": unknown") {
		t.Errorf("another CA's serial:\n%s", out)
	}
	// An issuer Hallmark does not run is unauthorized.
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key", "-subj", "/CN=Other CA", "-days", "30", "-out", "other.pem")
	out, _ = runErr(dir, "openssl", "ocsp", "-issuer", "other.pem", "-serial", "0x1234", "-url", s.info.APIURL+"/ocsp", "-CAfile", "other.pem")
	if !strings.Contains(out, "unauthorized (6)") {
		t.Errorf("unknown issuer:\n%s", out)
	}
	// A request of one CA sent to another CA's URL is unauthorized as well.
	out, _ = runErr(dir, "openssl", "ocsp", "-issuer", "mf-issuing.pem", "-cert", "SN-G.factory.pem", "-url", url, "-CAfile", "mf-root.pem")
	if !strings.Contains(out, "unauthorized (6)") {
		t.Errorf("wrong CA URL:\n%s", out)
	}

	// GET with the base64 request in the path, without a nonce: the cached answer.
	run(t, dir, "openssl", "ocsp", "-issuer", "op-issuing.pem", "-cert", "g-op.pem", "-no_nonce", "-reqout", "get.der")
	reqDER, _ := os.ReadFile(filepath.Join(dir, "get.der"))
	var first []byte
	for i := 0; i < 2; i++ {
		// RFC 6960 appendix A.1: the URL-encoding of the base64; raw, a "//" in the base64
		// would be cleaned away by the HTTP router's redirect (about 2% of requests).
		res, err := s.http.Get(url + "/" + neturl.PathEscape(base64.StdEncoding.EncodeToString(reqDER)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.Header.Get("Content-Type") != "application/ocsp-response" || !strings.Contains(res.Header.Get("Cache-Control"), "max-age=") {
			t.Errorf("GET headers %v", res.Header)
		}
		r, err := ocsp.ParseResponseForCert(body, certInfo(t, dir, "g-op.pem"), certInfo(t, dir, "op-issuing.pem"))
		if err != nil || r.Status != ocsp.Good {
			t.Fatalf("GET answer: %+v, %v", r, err)
		}
		if i == 0 {
			first = body
		} else if !bytes.Equal(first, body) {
			t.Error("the second GET was signed again instead of served from the cache")
		}
	}

	// Raw base64 may hold "//" (its alphabet has '/'): the routers of the API and status
	// listeners must not clean it away with a redirect. Here an undecodable one: answered
	// malformedRequest in place, not moved.
	for name, h := range map[string]http.Handler{"api": a.Handler(), "status": a.StatusOnlyHandler()} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, strings.TrimPrefix(url, s.info.APIURL)+"/MEQ//QzBB", nil))
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), []byte{0x30, 0x03, 0x0a, 0x01, 0x01}) {
			t.Errorf("%s listener, GET with // in its base64: %d %x, want 200 and malformedRequest", name, rec.Code, rec.Body.Bytes())
		}
	}

	// Bad input gets malformedRequest, with HTTP 200 as RFC 6960 appendix A asks.
	for name, body := range map[string][]byte{
		"garbage":   []byte("not an OCSP request"),
		"empty":     nil,
		"truncated": reqDER[:len(reqDER)-3],
		"oversized": bytes.Repeat([]byte{0x30}, 100<<10),
	} {
		res, err := s.http.Post(s.info.APIURL+"/ocsp", "application/ocsp-request", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(b, []byte{0x30, 0x03, 0x0a, 0x01, 0x01}) {
			t.Errorf("%s: %d %x, want malformedRequest", name, res.StatusCode, b)
		}
	}
	res, err := s.http.Get(s.info.APIURL + "/ocsp/%%%")
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 200 && !bytes.Equal(b, []byte{0x30, 0x03, 0x0a, 0x01, 0x01}) {
			t.Errorf("bad GET: %x", b)
		}
	}

	// zlint: the device certificates with their partition CDPs (linted before signing too).
	for name, profile := range map[string]issuance.Profile{"g-op.pem": issuance.ProfileOperational, "SN-G.factory.pem": issuance.ProfileFactory} {
		if _, err := a.Authority.Linter().Lint(profile, certInfo(t, dir, name).Raw); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// zlint: the responder certificate, both full CRLs and every partition CRL.
	for _, caURL := range []string{url, strings.TrimSpace(run(t, dir, "openssl", "x509", "-in", "SN-G.factory.pem", "-noout", "-ocsp_uri"))} {
		caID := caURL[strings.LastIndex(caURL, "/")+1:]
		rc, err := a.Status.Responder(context.Background(), caID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authority.Linter().Lint(issuance.ProfileOCSPResponder, rc.Raw); err != nil {
			t.Errorf("responder of %s: %v", caID, err)
		}
		crl, err := a.Status.CRL(context.Background(), caID)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Authority.Linter().LintCRL(crl); err != nil {
			t.Errorf("CRL of %s: %v", caID, err)
		}
		for p := 0; p < ca.DefaultCRLPartitions; p++ {
			crl, err := a.Status.PartitionCRL(context.Background(), caID, p)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Authority.Linter().LintCRL(crl); err != nil {
				t.Errorf("CRL partition %d of %s: %v", p, caID, err)
			}
		}
	}
}
