package status

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	"golang.org/x/crypto/ocsp"

	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

// answer asks the service about cert and parses the answer, checking the signature and the
// delegation to the CA.
func (f *fixture) answer(t *testing.T, cert *x509.Certificate) *ocsp.Response {
	t.Helper()
	der, _ := f.svc.Respond(ctx, "", request(t, f.issuing.Cert, crypto.SHA1, cert.SerialNumber, nil))
	r, err := ocsp.ParseResponseForCert(der, cert, f.issuing.Cert)
	if err != nil {
		t.Fatalf("parsing the answer: %v", err)
	}
	return r
}

func TestStatusFollowsTheStore(t *testing.T) {
	f := newFixture(t)
	a, b := f.issue(t), f.issue(t)
	steps := []struct {
		name   string
		change func(store.Certificates) error
		status int
		reason int
	}{
		{"issued", nil, ocsp.Good, 0},
		{"held", func(c store.Certificates) error { return c.Revoke(a.SerialNumber, 6, time.Now()) }, ocsp.Revoked, ocsp.CertificateHold},
		{"released", func(c store.Certificates) error { return c.Unhold(a.SerialNumber) }, ocsp.Good, 0},
		{"revoked", func(c store.Certificates) error { return c.Revoke(a.SerialNumber, 1, time.Now()) }, ocsp.Revoked, ocsp.KeyCompromise},
	}
	for _, st := range steps {
		if st.change != nil {
			f.change(t, st.change)
			if err := f.svc.Poll(ctx); err != nil {
				t.Fatal(err)
			}
		}
		r := f.answer(t, a)
		if r.Status != st.status || (st.status == ocsp.Revoked && r.RevocationReason != st.reason) {
			t.Fatalf("%s: status %d reason %d, want %d %d", st.name, r.Status, r.RevocationReason, st.status, st.reason)
		}
		if r.Certificate == nil || r.Certificate.Issuer.CommonName != f.issuing.Cert.Subject.CommonName {
			t.Errorf("%s: no delegated responder certificate in the answer", st.name)
		}
	}
	if r := f.answer(t, b); r.Status != ocsp.Good {
		t.Errorf("the other certificate is %d", r.Status)
	}
	for name, serial := range map[string]*big.Int{"never issued": big.NewInt(0x1234567), "the CA's own serial": f.issuing.Cert.SerialNumber} {
		der, _ := f.svc.Respond(ctx, "", request(t, f.issuing.Cert, crypto.SHA256, serial, nil))
		r, err := ocsp.ParseResponse(der, f.issuing.Cert)
		if err != nil || r.Status != ocsp.Unknown {
			t.Errorf("%s: %+v, %v, want unknown", name, r, err)
		}
	}
}

func TestCachedAndNonceAnswers(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t)
	req := request(t, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nil)
	first, age := f.svc.Respond(ctx, "", req)
	second, _ := f.svc.Respond(ctx, f.issuing.ID, req)
	if !bytes.Equal(first, second) || age <= 0 {
		t.Errorf("a repeated request was signed again (max-age %d)", age)
	}
	nonce := []byte{0x04, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	withNonce, age := f.svc.Respond(ctx, "", request(t, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nonce))
	if !bytes.Contains(withNonce, nonce) || age != 0 {
		t.Errorf("nonce not echoed, or the answer is marked cacheable (%d)", age)
	}
	if _, err := ocsp.ParseResponseForCert(withNonce, c, f.issuing.Cert); err != nil {
		t.Fatal(err)
	}
	// zlint's OCSP lints (RFC 6960 thisUpdate/producedAt, BR signature encoding) on both.
	for _, der := range [][]byte{first, withNonce} {
		r, err := ocsp.ParseResponse(der, f.issuing.Cert)
		if err != nil {
			t.Fatal(err)
		}
		for name, res := range zlint.LintOcspResponse(r).Results {
			if res.Status == lint.Error || res.Status == lint.Fatal || res.Status == lint.Warn {
				t.Errorf("zlint %s: %s %s", name, res.Status, res.Details)
			}
		}
	}
	// A SHA-256 CertID gets its own answer, with its own CertID echoed.
	r, err := ocsp.ParseResponseForCert(must(f.svc.Respond(ctx, "", request(t, f.issuing.Cert, crypto.SHA256, c.SerialNumber, nil))), c, f.issuing.Cert)
	if err != nil || r.IssuerHash != crypto.SHA256 {
		t.Errorf("SHA-256 CertID: %+v, %v", r, err)
	}
}

func must(b []byte, _ int) []byte { return b }

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t)
	other, err := x509.ParseCertificate(f.svc.caByID(f.issuing.ID).c.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	other.RawSubject = []byte{0x30, 0x00} // an issuer name Hallmark does not run
	cases := []struct {
		name string
		ca   string
		der  []byte
		want []byte
	}{
		{"garbage", "", []byte("hello"), respMalformed},
		{"empty", "", nil, respMalformed},
		{"trailing data", "", append(request(t, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nil), 0), respMalformed},
		{"oversized nonce", "", request(t, f.issuing.Cert, crypto.SHA1, c.SerialNumber, bytes.Repeat([]byte{1}, 64)), respMalformed},
		{"unknown issuer", "", request(t, other, crypto.SHA1, c.SerialNumber, nil), respUnauthorized},
		{"another CA's URL", "ca-nope", request(t, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nil), respUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := f.svc.Respond(ctx, tc.ca, tc.der); !bytes.Equal(got, tc.want) {
				t.Errorf("answer %x, want %x", got, tc.want)
			}
		})
	}
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		body         []byte
		want         int
	}{
		{"POST", "/ocsp", bytes.Repeat([]byte{0x30}, 1<<20), 200},
		{"PUT", "/ocsp", nil, 405},
		{"GET", "/ocsp/!!notbase64", nil, 200},
		{"POST", "/ocsp/ca-nope", request(t, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nil), 200},
		{"GET", "/crl/ca-nope.crl", nil, 404},
		{"GET", "/crl/" + f.issuing.ID, nil, 404},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, bytes.NewReader(tc.body))
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		want := respMalformed
		if strings.HasPrefix(tc.path, "/ocsp/ca-") {
			want = respUnauthorized
		}
		if res.StatusCode != tc.want || (tc.want == 200 && !bytes.Equal(b, want)) {
			t.Errorf("%s %s: %d %x", tc.method, tc.path, res.StatusCode, b)
		}
	}
}

// TestGETWithSlashesInBase64: RFC 6960 appendix A.1 GETs carry base64, whose alphabet has
// '/'. A request sent raw, not percent-encoded, whose base64 holds "//" is answered, not
// redirected by the router's path cleaning to a path that no longer decodes.
func TestGETWithSlashesInBase64(t *testing.T) {
	f := newFixture(t)
	c := f.issue(t)
	// Sixteen 0xFF octets in the nonce always hold an aligned triple, which is "////" in base64.
	nonce := append([]byte{0x04, 0x10}, bytes.Repeat([]byte{0xff}, 16)...)
	b64 := base64.StdEncoding.EncodeToString(request(t, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nonce))
	if !strings.Contains(b64, "//") {
		t.Fatalf("the request's base64 has no //: %s", b64)
	}
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	client := *srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{"/ocsp/" + b64, "/ocsp/" + f.issuing.ID + "/" + b64} {
		res, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", path, res.StatusCode)
		}
		r, err := ocsp.ParseResponseForCert(body, c, f.issuing.Cert)
		if err != nil || r.Status != ocsp.Good {
			t.Errorf("GET %s: %+v, %v", path, r, err)
		}
	}
}

func TestResponderSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	r1, err := f.svc.Responder(ctx, f.issuing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := linter.Lint("ocsp-responder", r1.Raw); err != nil {
		t.Errorf("zlint: %v", err)
	}
	again := New(f.cfg)
	r2, err := again.Responder(ctx, f.issuing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r1.SerialNumber.Cmp(r2.SerialNumber) != 0 {
		t.Errorf("a restart issued a new responder %x, want %x", r2.SerialNumber, r1.SerialNumber)
	}
	// Due for renewal: a new one takes over and answers are signed by it.
	later := New(Config{Store: f.cfg.Store, Authority: f.cfg.Authority, Keys: f.cfg.Keys, Log: f.cfg.Log,
		Now: func() time.Time { return time.Now().Add(25 * 24 * time.Hour) }})
	r3, err := later.Responder(ctx, f.issuing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r3.SerialNumber.Cmp(r1.SerialNumber) == 0 || !r3.NotAfter.After(r1.NotAfter) {
		t.Errorf("no renewal two thirds through the responder's life")
	}
}

func TestCRL(t *testing.T) {
	f := newFixture(t)
	a, b, c := f.issue(t), f.issue(t), f.issue(t)
	f.change(t, func(cs store.Certificates) error { return cs.Revoke(a.SerialNumber, 1, time.Now()) })
	f.change(t, func(cs store.Certificates) error { return cs.Revoke(b.SerialNumber, 6, time.Now()) })
	f.change(t, func(cs store.Certificates) error { return cs.Revoke(c.SerialNumber, 0, time.Now()) })
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/crl/" + f.issuing.ID + ".crl")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Type") != "application/pkix-crl" || res.Header.Get("ETag") == "" {
		t.Errorf("headers %v", res.Header)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(f.issuing.Cert); err != nil {
		t.Fatal(err)
	}
	if err := linter.LintCRL(der); err != nil {
		t.Errorf("zlint: %v", err)
	}
	reasons := map[string]int{}
	for _, e := range crl.RevokedCertificateEntries {
		reasons[e.SerialNumber.Text(16)] = e.ReasonCode
	}
	if len(reasons) != 3 || reasons[a.SerialNumber.Text(16)] != 1 || reasons[b.SerialNumber.Text(16)] != 6 || reasons[c.SerialNumber.Text(16)] != 0 {
		t.Errorf("entries %v", reasons)
	}
	// A conditional GET is answered 304 from the ETag.
	req, _ := http.NewRequest("GET", srv.URL+"/crl/"+f.issuing.ID+".crl", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	if res2, err := srv.Client().Do(req); err != nil || res2.StatusCode != 304 {
		t.Errorf("conditional GET: %v %v", res2, err)
	}
	// A change makes the next build take a new number and drop the released hold.
	f.change(t, func(cs store.Certificates) error { return cs.Unhold(b.SerialNumber) })
	if err := f.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	cs := f.svc.caByID(f.issuing.ID)
	doc, err := f.svc.buildCRL(ctx, cs, &cs.crl)
	if err != nil {
		t.Fatal(err)
	}
	crl2, _ := x509.ParseRevocationList(doc.der)
	if crl2.Number.Cmp(crl.Number) <= 0 || len(crl2.RevokedCertificateEntries) != 2 {
		t.Errorf("after the release: number %v (was %v), %d entries", crl2.Number, crl.Number, len(crl2.RevokedCertificateEntries))
	}
}

// TestConcurrentAnswersAndChanges runs answers, revocations and polls at once (go test -race)
// and checks that after the last poll no stale answer is served from the cache.
func TestConcurrentAnswersAndChanges(t *testing.T) {
	f := newFixture(t)
	certs := []*x509.Certificate{f.issue(t), f.issue(t), f.issue(t), f.issue(t)}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, c := range certs {
					f.svc.Respond(ctx, "", request(t, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nil))
				}
			}
		}()
	}
	for _, c := range certs {
		f.change(t, func(cs store.Certificates) error { return cs.Revoke(c.SerialNumber, 6, time.Now()) })
		_ = f.svc.Poll(ctx)
		f.change(t, func(cs store.Certificates) error { return cs.Unhold(c.SerialNumber) })
		_ = f.svc.Poll(ctx)
		f.change(t, func(cs store.Certificates) error { return cs.Revoke(c.SerialNumber, 4, time.Now()) })
		_ = f.svc.Poll(ctx)
	}
	close(stop)
	wg.Wait()
	for _, c := range certs {
		if r := f.answer(t, c); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
			t.Errorf("%x: status %d reason %d, want revoked superseded", c.SerialNumber, r.Status, r.RevocationReason)
		}
	}
}

// TestNewCAServedAtOnce: a CA created just after the responder read its CA list (here: on
// the same store, as another replica would) is served from its first request: the miss
// waits for the next reload instead of answering "no such CA" until a second has passed.
// Requests for a CA that does not exist still fail, and share reloads.
func TestNewCAServedAtOnce(t *testing.T) {
	f := newFixture(t)
	_, fresh, err := f.auth.CreateHierarchy(ctx, authority.HierarchyRequest{PartyID: "acme", Organization: "Acme", Stage: "manufacturing", Name: "acme-fresh",
		RootLife: 10 * 365 * 24 * time.Hour, IssuingLife: 5 * 365 * 24 * time.Hour}, func(tx store.Tx, c ca.CA) error {
		_, err := tx.Audit().Append(ev("ca.create"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	der, err := f.svc.CRL(ctx, fresh.ID)
	if err != nil {
		t.Fatalf("the CRL of a CA created after the last load: %v", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || crl.CheckSignatureFrom(fresh.Cert) != nil {
		t.Fatalf("the CRL of the new CA does not verify under it: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.CRL(ctx, "ca-does-not-exist")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			t.Fatal("a CRL for a CA that does not exist")
		}
	}
}
