//go:build swtpm

package app

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// BenchmarkTPMIssuance measures factory issuance (the service layer, SQLite, no HTTP) with the
// CA keys in encrypted files and in a TPM 2.0, side by side in one run, serially and from 8
// goroutines. The TPM is swtpm, libtpms in software in its own process, talked to over a Unix
// socket: other-cpu-µs/cert is the CPU swtpm spent, and total-cpu-µs/cert both processes'.
// A hardware TPM signs far slower (tens to hundreds of milliseconds for an ECDSA signature)
// and uses little host CPU; these figures are not a hardware TPM's. Run:
//
//	go test -tags swtpm -run '^$' -bench TPMIssuance -benchtime 300x ./internal/app/
func BenchmarkTPMIssuance(b *testing.B) {
	for _, backend := range []string{"file", "tpm"} {
		for _, workers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/workers=%d", backend, workers), func(b *testing.B) {
				var kp keys.Provider
				var other func() time.Duration
				if backend == "tpm" {
					p, _, sw, _ := tpmKeys(b)
					kp = p
					other = func() time.Duration {
						d, err := sw.CPU()
						if err != nil {
							b.Fatal(err)
						}
						return d
					}
				}
				st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hallmark.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				benchIssueWorkersCPU(b, st, kp, workers, other)
			})
		}
	}
}
