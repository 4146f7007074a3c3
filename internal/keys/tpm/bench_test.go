//go:build swtpm

package tpm_test

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"testing"

	"github.com/hallmark-id/hallmark/internal/keys"
)

// BenchmarkSign measures one ECDSA signature by a key in swtpm (libtpms in software, over a
// Unix socket): every signature loads the key under the storage root key, signs and flushes,
// as the backend does. A hardware TPM is far slower. Run:
//
//	go test -tags swtpm -run '^$' -bench Sign ./internal/keys/tpm/
func BenchmarkSign(b *testing.B) {
	for _, tc := range []struct {
		alg  keys.Algorithm
		hash crypto.Hash
	}{{keys.ECDSAP256, crypto.SHA256}, {keys.ECDSAP384, crypto.SHA384}} {
		b.Run(string(tc.alg), func(b *testing.B) {
			p, _, _ := openB(b)
			s, err := p.Create(b.Context(), "ca-bench", tc.alg)
			if err != nil {
				b.Fatal(err)
			}
			var digest []byte
			if tc.hash == crypto.SHA256 {
				d := sha256.Sum256([]byte("bench"))
				digest = d[:]
			} else {
				d := sha512.Sum384([]byte("bench"))
				digest = d[:]
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Sign(rand.Reader, digest, tc.hash); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
