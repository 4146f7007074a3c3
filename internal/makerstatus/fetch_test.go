package makerstatus

import (
	"context"
	"iter"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

func TestNewSource(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		url  string
		ok   bool
	}{
		{KindCRL, "http://crl.example/ca.crl", true},
		{KindOCSP, "https://ocsp.example:8443/", true},
		{KindCRL, "ldap://ldap.example/cn=CA?certificateRevocationList", false},
		{KindCRL, "file:///etc/passwd", false},
		{KindCRL, "http://user:pw@crl.example/ca.crl", false},
		{KindCRL, "/ca.crl", false},
		{KindCRL, "http:///ca.crl", false},
		{KindCRL, "http://crl.example/ca.crl#x", false},
		{KindCRL, "http://crl.example/" + strings.Repeat("a", maxURLLen), false},
		{KindCRL, "http://[::1", false},
		{"ftp", "http://crl.example/ca.crl", false},
	} {
		_, err := NewSource(tc.kind, tc.url)
		if (err == nil) != tc.ok || (err != nil && !failure.Is(err, failure.Invalid)) {
			t.Errorf("NewSource(%s, %.40q) = %v", tc.kind, tc.url, err)
		}
	}
}

func fetchOnce(t *testing.T, ck *Checker, url string, limit int64) (fetched, *SourceError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return ck.f.fetch(ctx, Source{KindCRL, url}, http.MethodGet, url, nil, "", 10*time.Second, limit)
}

// TestFetch covers the HTTP rules: status, redirects, limits.
func TestFetch(t *testing.T) {
	l := listen(t)
	base := "http://" + l.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("0123456789")) })
	mux.HandleFunc("/gone", func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	serve(t, l, mux)
	ck := newChecker(t, Config{})
	for _, tc := range []struct {
		path    string
		limit   int64
		outcome Outcome
		msg     string
	}{
		{"/ok", 10, "", ""},
		{"/ok", 9, Oversized, "Content-Length 10"},
		{"/gone", 100, Unreachable, "HTTP status 404"},
		{"/moved", 100, "", ""},
		{"/loop", 100, Unreachable, "redirects"},
		{"/to-file", 100, Unreachable, "redirect to a file URL"},
	} {
		f, err := fetchOnce(t, ck, base+tc.path, tc.limit)
		switch {
		case tc.outcome == "" && (err != nil || string(f.body) != "0123456789"):
			t.Errorf("%s: %q, %v", tc.path, f.body, err)
		case tc.outcome != "" && (err == nil || err.Outcome != tc.outcome || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s: %v, want %s containing %q", tc.path, err, tc.outcome, tc.msg)
		}
	}
}

// TestFetchPerHost checks that no more than PerHost fetches reach one host at once.
func TestFetchPerHost(t *testing.T) {
	l := listen(t)
	var inflight, peak atomic.Int64
	serve(t, l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		w.Write([]byte("x"))
	}))
	ck := newChecker(t, Config{PerHost: 2})
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := fetchOnce(t, ck, "http://"+l.Addr().String()+"/", 10); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("peak of %d concurrent fetches to one host, want at most 2", p)
	}
}

// TestCheckMisuse covers queries that cannot be asked, and certificates naming no usable
// source.
func TestCheckMisuse(t *testing.T) {
	g := newGoMaker(t)
	ck := newChecker(t, Config{Now: func() time.Time { return t0 }})
	ctx := context.Background()
	if _, err := ck.Check(ctx, Query{Device: g.device}); !failure.Is(err, failure.Invalid) {
		t.Errorf("no issuer: %v", err)
	}
	if _, err := ck.Check(ctx, Query{Device: g.device, Issuer: g.impostor.cert}); !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), "not signed by the issuer") {
		t.Errorf("wrong issuer: %v", err)
	}
	if _, err := ck.Check(ctx, Query{Device: g.device, Issuer: g.issuer.cert, Sources: []Source{{KindCRL, "ldap://x"}}}); !failure.Is(err, failure.Invalid) {
		t.Errorf("explicit ldap source: %v", err)
	}
	dev := leafTemplate("device without sources", 0)
	dev.CRLDistributionPoints = []string{"ldap://ldap.example/cn=CA"}
	r, err := ck.Check(ctx, Query{Device: issue(t, g.issuer, dev).cert, Issuer: g.issuer.cert})
	if err != nil || r.Status != Unknown || len(r.Problems) != 2 || r.Problems[0].Outcome != Invalid {
		t.Fatalf("ldap only: %+v, %v", r, err)
	}
	if ok, err := r.Decide(FailClosed); ok || !strings.Contains(err.Error(), "only http and https") || !strings.Contains(err.Error(), "names no CRL") {
		t.Errorf("Decide = %v, %v", ok, err)
	}
}

// TestConfig refuses negative settings.
func TestConfig(t *testing.T) {
	for _, c := range []Config{{CRLTimeout: -1}, {MaxCRLBytes: -1}, {PerHost: -1}, {RetryAfter: -1}} {
		if _, err := New(c); !failure.Is(err, failure.Invalid) {
			t.Errorf("New(%+v) = %v", c, err)
		}
	}
	if _, err := NewWatcher(WatcherConfig{}); !failure.Is(err, failure.Invalid) {
		t.Errorf("NewWatcher without a Checker: %v", err)
	}
}

// TestOCSPCacheBound fills the cache past its size: it never holds more.
func TestOCSPCacheBound(t *testing.T) {
	oc := newOCSPCache(100)
	for i := range 1000 {
		exp := t0.Add(time.Duration(i%2) * time.Hour) // half already expired at t0+1m
		oc.put(ocspKey{serial: serialKey(big.NewInt(int64(i)))}, &ocspAnswer{expires: exp}, t0.Add(time.Minute))
		if len(oc.m) > 100 {
			t.Fatalf("%d answers cached after %d puts", len(oc.m), i+1)
		}
	}
}

// TestWatcherRun runs rounds until its context ends.
func TestWatcherRun(t *testing.T) {
	g := newGoMaker(t)
	w, err := NewWatcher(WatcherConfig{Checker: newChecker(t, Config{}), Interval: 5 * time.Millisecond,
		OnRevoked: func(context.Context, RevokedDevice) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rounds := 0
	load := func(context.Context) ([]Issuer, iter.Seq[Device], error) {
		return []Issuer{{ID: "go", Cert: g.issuer.cert}}, func(yield func(Device) bool) { yield(Device{IssuerID: "go", Serial: big.NewInt(1)}) }, nil
	}
	w.Run(ctx, load, func(s Summary, err error) {
		if err != nil || s.Devices != 1 || s.Unknown != 1 {
			t.Errorf("round %d: %+v, %v", rounds, s, err)
		}
		if rounds++; rounds == 3 {
			cancel()
		}
	})
	if rounds != 3 {
		t.Fatalf("%d rounds", rounds)
	}
}
