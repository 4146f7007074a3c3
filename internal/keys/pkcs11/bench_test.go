//go:build pkcs11 && cgo

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
)

// BenchmarkSign compares one signature with a key in an encrypted file (in memory once loaded)
// and in SoftHSM2 through the session pool, serially and in parallel, for P-256 and Ed25519:
//
//	CGO_ENABLED=1 go test -tags pkcs11 -run '^$' -bench Sign ./internal/keys/pkcs11/
func BenchmarkSign(b *testing.B) {
	ctx := context.Background()
	label, pin := hsmtest.Token(b, "bench-sign")
	hsm, err := pkcs11.Open(pkcs11.Config{ModulePath: hsmtest.Module, Token: label, PIN: keys.Secret(pin)})
	if err != nil {
		b.Fatal(err)
	}
	defer hsm.Close()
	files, err := keyfile.New(b.TempDir(), keys.Secret("bench"))
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range []keys.Algorithm{keys.ECDSAP256, keys.Ed25519} {
		for _, p := range []struct {
			name string
			kp   keys.Provider
		}{{"file", files}, {"softhsm", hsm}} {
			s, err := p.kp.Create(ctx, "bench-"+string(alg), alg)
			if err != nil {
				b.Fatal(err)
			}
			msg := sha256.Sum256([]byte("tbs"))
			opts := crypto.SignerOpts(crypto.SHA256)
			if alg == keys.Ed25519 {
				opts = crypto.Hash(0)
			}
			b.Run(string(alg)+"/"+p.name+"/serial", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Sign(rand.Reader, msg[:], opts); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(string(alg)+"/"+p.name+"/parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.Sign(rand.Reader, msg[:], opts); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}
