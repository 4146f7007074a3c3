package status

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Attack tests (issue 22): floods of unauthenticated OCSP and CRL requests through the real
// handler on loopback. Every loop is bounded, every request has a deadline, and a
// legitimate OCSP request must keep answering within legitBound.

// legitBound (race_test.go, norace_test.go) is the generous bound within which a legitimate
// OCSP request must be answered during a flood: 5 s, 15 s under the race detector. A cached
// answer takes well under a millisecond on an idle machine.

// moreCAs creates n more issuing CAs (each with its root) and has the service load them.
func (f *fixture) moreCAs(t testing.TB, n int) []ca.CA {
	t.Helper()
	var out []ca.CA
	for i := 0; i < n; i++ {
		_, issuing, err := f.auth.CreateHierarchy(ctx, authority.HierarchyRequest{PartyID: "acme", Organization: "Acme", Stage: "manufacturing",
			Name: fmt.Sprintf("flood-%d", i), RootLife: 24 * time.Hour, IssuingLife: 12 * time.Hour}, func(tx store.Tx, c ca.CA) error {
			_, err := tx.Audit().Append(ev("ca.create"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, issuing)
	}
	if err := f.svc.loadCAs(ctx); err != nil {
		t.Fatal(err)
	}
	return out
}

// legit asks about cert over HTTP every 50 ms until stop is called, which reports how many
// answers it got and the slowest. Each must be a signed good answer within legitBound.
func legit(t *testing.T, url string, issuer, cert *x509.Certificate) (stop func() (int, time.Duration)) {
	t.Helper()
	client := &http.Client{Timeout: legitBound}
	req := request(t, issuer, crypto.SHA1, cert.SerialNumber, nil)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var n int
	var worst time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ { // 100 s at most; stop ends it long before
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			t0 := time.Now()
			res, err := client.Post(url+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
			if err != nil {
				t.Errorf("legitimate OCSP request: %v", err)
				return
			}
			der, err := io.ReadAll(res.Body)
			res.Body.Close()
			took := time.Since(t0)
			if err != nil || took > legitBound {
				t.Errorf("legitimate OCSP request: %v after %v", err, took)
				return
			}
			r, err := ocsp.ParseResponseForCert(der, cert, issuer)
			if err != nil || r.Status != ocsp.Good {
				t.Errorf("legitimate OCSP request: %v, %+v", err, r)
				return
			}
			n, worst = n+1, max(worst, took)
		}
	}()
	return func() (int, time.Duration) {
		close(done)
		wg.Wait()
		return n, worst
	}
}

// randomSerial is a positive serial of 16 random octets, like Hallmark's own.
func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] = b[0]&0x7f | 0x01
	return new(big.Int).SetBytes(b)
}

// TestOCSPFloodStaysInBudget sends 20,000 OCSP requests for random serials across three CAs
// (POST and GET, SHA-1 and SHA-256 CertIDs, some with a nonce, some with serials longer than
// any certificate's) to a service with a 1 MiB cache. The cache never holds more than its
// budget, no answer about a real certificate is evicted, and a real certificate keeps
// getting good answers within legitBound.
func TestOCSPFloodStaysInBudget(t *testing.T) {
	const budget = 1 << 20
	total := 20_000
	if raceEnabled {
		total = 4_000 // the race detector slows signing tenfold; the bound is the same
	}
	f := newFixture(t)
	f.cfg.CacheBytes = budget
	f.svc = New(f.cfg)
	cas := append([]ca.CA{f.issuing}, f.moreCAs(t, 2)...)
	if err := f.svc.loadCAs(ctx); err != nil {
		t.Fatal(err)
	}
	real := f.issue(t)
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	f.svc.Respond(ctx, "", request(t, f.issuing.Cert, crypto.SHA1, real.SerialNumber, nil)) // cached before the flood
	for _, c := range cas {
		if _, err := f.svc.Responder(ctx, c.ID); err != nil { // each CA's responder, issued once
			t.Fatal(err)
		}
	}

	stop := legit(t, srv.URL, f.issuing.Cert, real)
	var worstBytes atomic.Int64
	watch := make(chan struct{})
	watched := make(chan struct{})
	go func() { // the bound holds at every moment, not only at the end
		defer close(watched)
		for i := 0; i < 100_000; i++ {
			select {
			case <-watch:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var sum int64
			for _, tr := range f.svc.Stats().OCSPCache {
				sum += tr.Bytes
			}
			if sum > worstBytes.Load() {
				worstBytes.Store(sum)
			}
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > total {
					return
				}
				c := cas[i%len(cas)]
				serial, h, nonce := randomSerial(), crypto.SHA1, []byte(nil)
				switch i % 10 {
				case 1:
					h = crypto.SHA256
				case 2:
					nonce = append([]byte{0x04, 0x10}, serial.Bytes()...)
				case 3:
					serial = new(big.Int).Lsh(serial, 200) // 41 octets: no certificate has it
				}
				der := request(t, c.Cert, h, serial, nonce)
				var res *http.Response
				var err error
				if i%2 == 0 {
					res, err = client.Get(srv.URL + "/ocsp/" + c.ID + "/" + base64.RawURLEncoding.EncodeToString(der))
				} else {
					res, err = client.Post(srv.URL+"/ocsp/"+c.ID, "application/ocsp-request", bytes.NewReader(der))
				}
				if err != nil {
					t.Errorf("flood request %d: %v", i, err)
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				r, err := ocsp.ParseResponse(body, nil)
				if err != nil || r.Status != ocsp.Unknown {
					t.Errorf("flood request %d: %v, %+v, want unknown", i, err, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	answers, slowest := stop()
	close(watch)
	<-watched

	st := f.svc.Stats()
	known, unknown := st.OCSPCache[0], st.OCSPCache[1]
	t.Logf("%d requests in %v; cache: known %+v, unknown %+v; largest total seen %d B; %d legitimate answers, slowest %v",
		total, elapsed, known, unknown, worstBytes.Load(), answers, slowest)
	if worstBytes.Load() > budget || known.Bytes+unknown.Bytes > budget || unknown.Bytes > unknown.Limit {
		t.Errorf("the cache went over its budget of %d bytes: %d at worst", budget, worstBytes.Load())
	}
	if unknown.Evictions == 0 || known.Evictions != 0 {
		t.Errorf("evictions: %d unknown (want some), %d known (want none)", unknown.Evictions, known.Evictions)
	}
	if answers == 0 {
		t.Error("no legitimate answer during the flood")
	}
	if cached := st.OCSPCached; cached < int64(answers) {
		t.Errorf("the real certificate's answers were not served from the cache: %d cached answers for %d requests", cached, answers)
	}
}

// TestCRLFloodRebuildsRarely fetches a partitioned CA's full CRL 500 times (ten clients, one
// fetch each 40 ms, from the moment the service starts) while its certificates are being
// revoked. The first fetches share one build; after it, rebuilds happen at most once per
// FullCRLMinGap (set to 500 ms here; 1 minute by default), by the builder and not the
// fetches; a real certificate keeps getting good OCSP answers; and after the flood the full
// CRL lists the last revocation.
func TestCRLFloodRebuildsRarely(t *testing.T) {
	const gap = 500 * time.Millisecond
	f := newPartitionedFixture(t)
	f.svc.c.FullCRLMinGap = gap
	real := f.issue(t)
	var victims []*x509.Certificate
	for i := 0; i < 60; i++ {
		c, _ := f.issueDevice(t, fmt.Sprintf("victim-%d", i), 24*time.Hour)
		victims = append(victims, c)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := f.svc.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	stop := legit(t, srv.URL, f.issuing.Cert, real)

	revoked := make(chan int, 1)
	go func() { // revoke one victim every 30 ms while the flood lasts (60 at most)
		n := 0
		defer func() { revoked <- n }()
		for _, c := range victims {
			if err := f.st.Update(ctx, func(tx store.Tx) error {
				if err := tx.Certificates().Revoke(c.SerialNumber, 1, time.Now()); err != nil {
					return err
				}
				_, err := tx.Audit().Append(ev("cert.revoke"))
				return err
			}); err != nil {
				t.Errorf("revoking: %v", err)
				return
			}
			n++
			time.Sleep(30 * time.Millisecond)
		}
	}()
	before := f.svc.Stats()
	client := &http.Client{Timeout: 30 * time.Second}
	url := srv.URL + "/crl/" + f.issuing.ID + ".crl"
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				res, err := client.Get(url)
				if err != nil {
					t.Errorf("CRL fetch: %v", err)
					return
				}
				der, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Errorf("CRL fetch: %d", res.StatusCode)
					return
				}
				if i%10 == 0 {
					if _, err := x509.ParseRevocationList(der); err != nil {
						t.Errorf("CRL fetch: %v", err)
						return
					}
				}
				time.Sleep(40 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	answers, slowest := stop()
	after := f.svc.Stats()
	builds := after.FullCRLBuilds - before.FullCRLBuilds
	allowed := int64(elapsed/gap) + 2 // one per gap, and one more at either end
	t.Logf("500 fetches in %v: %d full CRL builds (at most %d allowed), %d fetches served from memory, %d waited for a build; %d partition builds; %d legitimate OCSP answers, slowest %v",
		elapsed, builds, allowed, after.CRLServedMemory-before.CRLServedMemory, after.CRLServedBuild-before.CRLServedBuild,
		after.PartitionCRLBuilds-before.PartitionCRLBuilds, answers, slowest)
	if builds > allowed {
		t.Errorf("%d full CRL builds in %v, at most %d allowed", builds, elapsed, allowed)
	}
	if n := after.CRLServedBuild - before.CRLServedBuild; n > 10 {
		t.Errorf("%d fetches waited for a build; only each client's first, before the first build, may", n)
	}
	if answers == 0 {
		t.Error("no legitimate OCSP answer during the flood")
	}

	// The revocations show in the full CRL, within a generous bound (the promise: within
	// one CRL interval).
	n := <-revoked
	if n == 0 {
		t.Fatal("nothing was revoked")
	}
	last := victims[n-1].SerialNumber
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		der, err := f.svc.CRL(ctx, f.issuing.ID)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		listed := false
		for _, e := range crl.RevokedCertificateEntries {
			listed = listed || e.SerialNumber.Cmp(last) == 0
		}
		if listed {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the last revocation is not in the full CRL 10 s after the flood")
		}
	}
}

// TestCRLFetchesShareOneBuild: twenty concurrent fetches of a CRL that does not exist yet
// make one build; after a failed build, fetches get the error without building again for
// CRLMinGap.
func TestCRLFetchesShareOneBuild(t *testing.T) {
	f := newPartitionedFixture(t)
	f.svc.c.CRLMinGap = time.Hour // no retry within the test
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.svc.CRL(ctx, f.issuing.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if st := f.svc.Stats(); st.FullCRLBuilds != 1 || st.CRLServedBuild+st.CRLServedMemory != 20 {
		t.Errorf("20 concurrent fetches: %d builds, %d waited for one, %d served at once", st.FullCRLBuilds, st.CRLServedBuild, st.CRLServedMemory)
	}

	// A partition CRL (none built yet) whose build fails: the store is closed.
	f.st.Close()
	before := f.svc.Stats().CRLServedBuild
	_, err1 := f.svc.PartitionCRL(ctx, f.issuing.ID, 3)
	_, err2 := f.svc.PartitionCRL(ctx, f.issuing.ID, 3)
	if err1 == nil || err2 == nil || err2.Error() != err1.Error() {
		t.Errorf("fetches of a CRL that cannot be built: %v, then %v", err1, err2)
	}
	if n := f.svc.Stats().CRLServedBuild - before; n != 1 {
		t.Errorf("%d builds tried for two fetches after a failure, want 1", n)
	}
}

// failingKeys is the real key provider with key creation failing: it injects the failure
// of a responder's issuance.
type failingKeys struct {
	keys.Provider
	creates atomic.Int64
}

func (k *failingKeys) Create(context.Context, string, keys.Algorithm) (crypto.Signer, error) {
	k.creates.Add(1)
	return nil, errors.New("injected: the key store is full")
}

// TestResponderIssuanceNotRetriedPerRequest: when a CA's responder cannot be issued, requests
// get internalError, and only the first of them tries the issuance.
func TestResponderIssuanceNotRetriedPerRequest(t *testing.T) {
	f := newFixture(t)
	fk := &failingKeys{Provider: f.kp}
	f.cfg.Keys = fk
	f.svc = New(f.cfg)
	if err := f.svc.loadCAs(ctx); err != nil {
		t.Fatal(err)
	}
	c := f.issue(t)
	for i := 0; i < 50; i++ {
		if got, _ := f.svc.Respond(ctx, "", request(t, f.issuing.Cert, crypto.SHA1, c.SerialNumber, nil)); !bytes.Equal(got, respInternal) {
			t.Fatalf("request %d: %x, want internalError", i, got)
		}
	}
	if n := fk.creates.Load(); n != 1 {
		t.Errorf("50 requests tried %d issuances, want 1", n)
	}
}
