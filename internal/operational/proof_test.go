package operational

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// TestPEMSize: pemSize is the length pem.EncodeToMemory gives, around every line break.
func TestPEMSize(t *testing.T) {
	for n := 0; n < 400; n++ {
		want := len(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: make([]byte, n)}))
		if got := pemSize(n); got != want {
			t.Fatalf("pemSize(%d) = %d, pem.EncodeToMemory gives %d", n, got, want)
		}
	}
}

// TestTransportChain: a chain the transport parsed is held to the limits of the PEM the
// adapter would have encoded it to.
func TestTransportChain(t *testing.T) {
	cert := func(n int) *x509.Certificate { return &x509.Certificate{Raw: make([]byte, n)} }
	encode := func(chain []*x509.Certificate) string {
		var b strings.Builder
		for _, c := range chain {
			b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		}
		return b.String()
	}
	tests := []struct {
		name  string
		chain []*x509.Certificate
		over  bool // its PEM is over maxChainPEM
	}{
		{"one", []*x509.Certificate{cert(600)}, false},
		{"eight", []*x509.Certificate{cert(1), cert(2), cert(3), cert(4), cert(5), cert(6), cert(7), cert(8)}, false},
		{"nine, over the count", []*x509.Certificate{cert(1), cert(2), cert(3), cert(4), cert(5), cert(6), cert(7), cert(8), cert(9)}, true},
		{"just under 64 KiB of PEM", []*x509.Certificate{cert(20000), cert(28300)}, false},
		{"just over 64 KiB of PEM", []*x509.Certificate{cert(20000), cert(28400)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			over := len(encode(tc.chain)) > maxChainPEM || len(tc.chain) > maxChainCerts
			if over != tc.over {
				t.Fatalf("the case's PEM is %d bytes of %d certificates: fix the case", len(encode(tc.chain)), len(tc.chain))
			}
			got, err := transportChain(tc.chain, "factory_certificate")
			if over {
				if !failure.Is(err, failure.TooLarge) {
					t.Fatalf("err = %v, want too large (PEM of %d bytes)", err, len(encode(tc.chain)))
				}
				if len(encode(tc.chain)) <= maxChainPEM {
					return // over the count only: the fake certificates would not parse as PEM
				}
				if _, err := parseCertChain(encode(tc.chain), "factory_certificate"); !failure.Is(err, failure.TooLarge) {
					t.Fatalf("parseCertChain: err = %v, want too large", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.chain) || got[0] != tc.chain[0] {
				t.Errorf("got %d certificates, want %d", len(got), len(tc.chain))
			}
		})
	}
}
