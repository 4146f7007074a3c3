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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Issuance benchmarks shared by the key backends' benchmarks (hsm_bench_test.go with -tags
// pkcs11, tpm_bench_test.go with -tags swtpm).

// cpuTime is this process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchIssueWorkers(b *testing.B, st store.Store, kp keys.Provider, workers int) {
	benchIssueWorkersCPU(b, st, kp, workers, nil)
}

// benchIssueWorkersCPU is benchIssueWorkers that also reports the CPU time another process
// spent meanwhile (other returns its total so far), such as a TPM simulator's: other-cpu-µs/cert,
// and the sum of both as total-cpu-µs/cert.
func benchIssueWorkersCPU(b *testing.B, st store.Store, kp keys.Provider, workers int, other func() time.Duration) {
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
	var other0 time.Duration
	if other != nil {
		other0 = other()
	}
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
	var otherCPU time.Duration
	if other != nil {
		otherCPU = other() - other0
	}
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/wall.Seconds(), "certs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/cert")
	if other != nil {
		b.ReportMetric(float64(otherCPU.Microseconds())/float64(b.N), "other-cpu-µs/cert")
		b.ReportMetric(float64((cpu+otherCPU).Microseconds())/float64(b.N), "total-cpu-µs/cert")
	}
}
