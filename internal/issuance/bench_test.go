package issuance

import (
	"crypto/rand"
	"testing"
)

// BenchmarkPrepareSign measures one factory certificate under a P-256 CA: template, throwaway
// signature, lint, real signature, parse and checks.
func BenchmarkPrepareSign(b *testing.B) {
	h := newHierarchy(b, "ecdsa-p256")
	pub := newKey(b, "ecdsa-p256").Public()
	for b.Loop() {
		tm, err := FactoryTemplate(factoryParams(pub))
		if err != nil {
			b.Fatal(err)
		}
		p, err := h.issuer.Prepare(ProfileFactory, tm, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.issuer.Sign(p); err != nil {
			b.Fatal(err)
		}
	}
}
