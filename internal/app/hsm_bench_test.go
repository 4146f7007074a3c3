//go:build pkcs11 && cgo

package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// cpuTime is this process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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

func benchIssueWorkers(b *testing.B, st store.Store, kp keys.Provider, workers int) {
	ctx := context.Background()
	a, acme, lot := benchLotKeys(b, st, kp)
	csrs := make([]string, b.N)
	for i := range csrs {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "d"}}, k)
		if err != nil {
			b.Fatal(err)
		}
		csrs[i] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, start := cpuTime(b), time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := buildrecord.Record{Manufacturer: "acme", Model: "m", Lot: "l", Line: "a", FirmwareDigest: buildrecord.Digest{SHA256: strings.Repeat("0f", 32)},
				TestResult: "pass", BuiltAt: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(csrs) {
					return
				}
				rec.Serial = fmt.Sprintf("SN-%08d", i)
				if _, err := a.Manufacturing.IssueFactory(ctx, acme, manufacturing.IssueFactoryRequest{LotID: lot.ID, CSR: csrs[i], BuildRecord: rec}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	wall, cpu := time.Since(start), cpuTime(b)-cpu0
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/wall.Seconds(), "certs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/cert")
}
