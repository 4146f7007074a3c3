package chainverify

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/sigmemo"
)

// remembered is a memo holding every signature among certs that verifies.
func remembered(certs ...*x509.Certificate) *sigmemo.Memo {
	m := sigmemo.New(0)
	for _, c := range certs {
		for _, p := range certs {
			_ = m.CheckSignatureFrom(c, p)
		}
	}
	return m
}

// TestDirect checks that the memo spares the signature only for the exact bytes it holds, and
// that every other check still refuses.
func TestDirect(t *testing.T) {
	f := newFactory(t)
	leaf := issue(t, deviceTemplate("ACME-0001"), f.issuing, nil)
	memo := remembered(leaf.cert, f.issuing.cert)
	anchors := []*x509.Certificate{f.root.cert, f.issuing.cert}
	opts := func(m SignatureMemo) Options { return Options{Anchors: anchors, Now: testNow, Signatures: m} }

	// A second issuing CA with the same subject, and a leaf of the same subject and serial
	// signed by it: neither pair is in the memo.
	twin := issue(t, caTemplate("Acme Line 3 Issuing CA"), f.root, nil)
	forged := resign(t, leaf, twin, leaf.cert.SerialNumber)
	expired := deviceTemplate("ACME-0002")
	expired.NotAfter = testNow.Add(-time.Minute)
	old := issue(t, expired, f.issuing, nil)
	serverOnly := deviceTemplate("ACME-0003")
	serverOnly.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	server := issue(t, serverOnly, f.issuing, nil)
	long := deviceTemplate("ACME-0004")
	long.NotAfter = f.issuing.cert.NotAfter.Add(365 * 24 * time.Hour)
	outlives := issue(t, long, f.issuing, nil)
	memoAll := remembered(leaf.cert, f.issuing.cert, twin.cert, forged, old.cert, server.cert, outlives.cert)

	cases := []struct {
		name    string
		leaf    *x509.Certificate
		o       Options
		direct  bool   // whether the direct path is taken
		refused string // "" accepts; else a part of the refusal
	}{
		{name: "remembered", leaf: leaf.cert, o: opts(memo), direct: true},
		{name: "no memo", leaf: leaf.cert, o: opts(nil)},
		{name: "empty memo", leaf: leaf.cert, o: opts(sigmemo.New(0))},
		// The forged leaf claims the same issuer; its signature is the twin's, which is not an
		// anchor, and the memo holds the genuine leaf's bytes only.
		{name: "tampered child", leaf: forged, o: opts(memo), refused: "does not chain to a registered manufacturer anchor"},
		// The twin is an anchor here in place of the real issuing CA: same subject, other
		// bytes, so the memo's entry for the real one does not apply.
		{name: "other parent with the same subject", leaf: leaf.cert, o: Options{Anchors: []*x509.Certificate{twin.cert}, Now: testNow, Signatures: memo},
			refused: "does not chain to a registered manufacturer anchor"},
		{name: "expired, signature remembered", leaf: old.cert, o: opts(memoAll), refused: "expired"},
		{name: "wrong key usage, signature remembered", leaf: server.cert, o: opts(memoAll), refused: "extended key usage"},
		{name: "issuing CA expired, signature remembered", leaf: outlives.cert, o: Options{Anchors: anchors, Now: f.issuing.cert.NotAfter.Add(time.Hour), Signatures: memoAll},
			refused: "Acme Line 3 Issuing CA"},
		{name: "two usages go the full way", leaf: leaf.cert,
			o: Options{Anchors: anchors, Now: testNow, Signatures: memo, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			usages := tc.o.KeyUsages
			if len(usages) == 0 {
				usages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			}
			anchored := map[string]bool{}
			for _, a := range tc.o.Anchors {
				anchored[string(a.Raw)] = true
			}
			if got := direct(tc.leaf, tc.o, anchored, usages, tc.o.Now.Truncate(time.Second)) != nil; got != tc.direct {
				t.Errorf("direct path taken = %v, want %v", got, tc.direct)
			}
			chain, err := Verify(tc.leaf, tc.o)
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.refused != "" && err == nil:
				t.Fatalf("Verify accepted; want a refusal containing %q", tc.refused)
			case tc.refused != "" && !strings.Contains(err.Error(), tc.refused):
				t.Fatalf("Verify: %v; want a refusal containing %q", err, tc.refused)
			case err == nil && (len(chain) != 2 || chain[1] != f.issuing.cert):
				t.Fatalf("chain %v, want the leaf and its issuing CA", subjects(chain))
			}
		})
	}
}

// TestDirectAgrees runs every case of the x509-limbo suite (those TestLimbo skips too) with
// every signature among its certificates remembered, and wants the same answer, and the same
// refusal, as without the memo.
func TestDirectAgrees(t *testing.T) {
	cases := loadLimbo(t)
	compared, taken := 0, 0
	for _, tc := range cases {
		leaf, o, err := limboOptions(tc)
		if err != nil {
			continue
		}
		_, plain := Verify(leaf, o)
		o.Signatures = remembered(append(append([]*x509.Certificate{leaf}, o.Intermediates...), o.Anchors...)...)
		_, memo := Verify(leaf, o)
		compared++
		anchored := map[string]bool{}
		for _, a := range o.Anchors {
			anchored[string(a.Raw)] = true
		}
		usages := o.KeyUsages
		if direct(leaf, o, anchored, usages, o.Now.Truncate(time.Second)) != nil {
			taken++
		}
		switch {
		case (plain == nil) != (memo == nil):
			t.Errorf("%s: without the memo %v, with it %v", tc.ID, plain, memo)
		case plain != nil && plain.Error() != memo.Error():
			t.Errorf("%s: refusals differ: %q without the memo, %q with it", tc.ID, plain, memo)
		}
	}
	// Measured: 199 compared, 76 took the direct path (limbo from upstream commit 8a2e6f4).
	t.Logf("limbo: %d cases compared, %d took the direct path", compared, taken)
	if taken < 20 {
		t.Errorf("only %d cases took the direct path; the comparison says little", taken)
	}
}

// BenchmarkVerifyRemembered is BenchmarkVerify's EST shape (the leaf under a registered
// issuing CA) with and without the handshake's signature remembered.
func BenchmarkVerifyRemembered(b *testing.B) {
	f := newFactory(b)
	leaf := issue(b, deviceTemplate("ACME-BENCH"), f.issuing, nil)
	for _, bc := range []struct {
		name string
		memo SignatureMemo
	}{{"plain", nil}, {"remembered", remembered(leaf.cert, f.issuing.cert)}} {
		b.Run(bc.name, func(b *testing.B) {
			o := Options{Anchors: []*x509.Certificate{f.root.cert, f.issuing.cert}, Now: testNow, Signatures: bc.memo}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(leaf.cert, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
