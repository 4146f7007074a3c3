//go:build pkcs11 && cgo

package app

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// BenchmarkHSMIssuance measures factory issuance (as BenchmarkFactoryIssuance: the service
// layer, SQLite, no HTTP) with the CA and build-record keys in encrypted files and in SoftHSM2,
// side by side in one run, serially and from 8 goroutines (SoftHSM sessions pooled, 16 at
// most). SoftHSM runs in this process, so the CPU per certificate includes its signing. Run:
//
//	CGO_ENABLED=1 go test -tags pkcs11 -run '^$' -bench HSMIssuance -benchtime 2000x ./internal/app/
func BenchmarkHSMIssuance(b *testing.B) {
	for _, backend := range []string{"file", "softhsm"} {
		for _, workers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/workers=%d", backend, workers), func(b *testing.B) {
				var kp keys.Provider
				if backend == "softhsm" {
					label, pin := hsmtest.Token(b, "bench")
					p, err := pkcs11.Open(pkcs11.Config{ModulePath: hsmtest.Module, Token: label, PIN: keys.Secret(pin)})
					if err != nil {
						b.Fatal(err)
					}
					defer p.Close()
					kp = p
				}
				st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hallmark.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				benchIssueWorkers(b, st, kp, workers)
			})
		}
	}
}
