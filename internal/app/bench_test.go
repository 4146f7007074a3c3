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
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/simulate"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// BenchmarkFactoryIssuance measures the whole factory issuance of the service layer on each
// store: authorisation, CSR and build-record checks, build-record signing, lint, serial
// reservation (one commit), signing, and the device, certificate, build record and audit
// event (a second commit). No HTTP. Run:
//
//	go test -run '^$' -bench FactoryIssuance -benchtime 2000x ./internal/app/
//
// with HALLMARK_TEST_POSTGRES set for the PostgreSQL side.
func BenchmarkFactoryIssuance(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hallmark.db"))
		if err != nil {
			b.Fatal(err)
		}
		benchIssue(b, st)
	})
	b.Run("sqlite-parallel64", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hallmark.db"))
		if err != nil {
			b.Fatal(err)
		}
		benchIssueParallel(b, st, 64)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := os.Getenv("HALLMARK_TEST_POSTGRES")
		if dsn == "" {
			b.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES")
		}
		st, err := postgres.Open(context.Background(), pgSchema(b))
		if err != nil {
			b.Fatal(err)
		}
		benchIssue(b, st)
	})
	b.Run("postgres-parallel64", func(b *testing.B) {
		dsn := os.Getenv("HALLMARK_TEST_POSTGRES")
		if dsn == "" {
			b.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES")
		}
		st, err := postgres.Open(context.Background(), pgSchema(b))
		if err != nil {
			b.Fatal(err)
		}
		benchIssueParallel(b, st, 64)
	})
}

func benchIssue(b *testing.B, st store.Store) {
	ctx := context.Background()
	defer st.Close()
	a, acme, lot := benchLot(b, st)
	csrs := benchCSRs(b, b.N)
	rec := buildrecord.Record{Manufacturer: "acme", Model: "m", Lot: "l", Line: "a", FirmwareDigest: buildrecord.Digest{SHA256: strings.Repeat("0f", 32)},
		TestResult: "pass", BuiltAt: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), processCPU(b)
	for i := 0; i < b.N; i++ {
		rec.Serial = fmt.Sprintf("SN-%08d", i)
		if _, err := a.Manufacturing.IssueFactory(ctx, acme, manufacturing.IssueFactoryRequest{LotID: lot.ID, CSR: csrs[i], BuildRecord: rec}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "certs/s")
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// benchCSRs makes n P-256 CSRs (PEM), before a benchmark's timer starts.
func benchCSRs(b *testing.B, n int) []string {
	csrs := make([]string, n)
	for i := range csrs {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "d"}}, k)
		if err != nil {
			b.Fatal(err)
		}
		csrs[i] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	}
	return csrs
}

// benchIssueParallel is benchIssue with issuers running concurrently, clients goroutines in
// all (b.SetParallelism), so that their write transactions share group commits as a server's
// do under load.
func benchIssueParallel(b *testing.B, st store.Store, clients int) {
	ctx := context.Background()
	defer st.Close()
	a, acme, lot := benchLot(b, st)
	csrs := benchCSRs(b, b.N)
	var next atomic.Int64
	b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	cpu0 := processCPU(b)
	gc, _ := st.(interface{ GroupCommitStats() (int64, int64) })
	var batches0 int64
	if gc != nil {
		batches0, _ = gc.GroupCommitStats()
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			rec := buildrecord.Record{Manufacturer: "acme", Model: "m", Lot: "l", Line: "a", FirmwareDigest: buildrecord.Digest{SHA256: strings.Repeat("0f", 32)},
				TestResult: "pass", BuiltAt: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), Serial: fmt.Sprintf("SN-%08d", i)}
			if _, err := a.Manufacturing.IssueFactory(ctx, acme, manufacturing.IssueFactoryRequest{LotID: lot.ID, CSR: csrs[i], BuildRecord: rec}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "certs/s")
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	if gc != nil {
		// Two write transactions per issuance (the reservation, then the certificate).
		if batches, _ := gc.GroupCommitStats(); batches > batches0 {
			b.ReportMetric(float64(2*b.N)/float64(batches-batches0), "writes/batch")
		}
	}
}

// processCPU is the CPU time (user and system) this process has used so far: with
// concurrent issuers, wall time per operation says little about cost.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLot builds an App over st with a manufacturer, its CA hierarchy, a model and a lot.
func benchLot(b *testing.B, st store.Store) (*App, audit.Actor, device.Lot) {
	b.Helper()
	return benchLotKeys(b, st, nil)
}

// benchLotKeys is benchLot with the keys in kp (nil: encrypted files in a test folder).
func benchLotKeys(b *testing.B, st store.Store, kp keys.Provider) (*App, audit.Actor, device.Lot) {
	b.Helper()
	ctx := context.Background()
	var err error
	if kp == nil {
		if kp, err = keyfile.New(filepath.Join(b.TempDir(), "keys"), keys.Secret("bench passphrase")); err != nil {
			b.Fatal(err)
		}
	}
	a, err := Build(Wiring{Store: st, Keys: kp, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	acme := bootstrapPartyAdmin(b, a, party.Party{ID: "acme", Name: "Acme", Kind: party.Manufacturer})
	_, iss, err := a.Manufacturing.CreateHierarchy(ctx, acme, manufacturing.CreateHierarchyRequest{ManufacturerID: "acme", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	m, err := a.Manufacturing.CreateModel(ctx, acme, manufacturing.CreateModelRequest{ManufacturerID: "acme", Name: "m"})
	if err != nil {
		b.Fatal(err)
	}
	lot, err := a.Manufacturing.CreateLot(ctx, acme, manufacturing.CreateLotRequest{ModelID: m.ID, Name: "l", Line: "a", IssuingCAID: iss.ID})
	if err != nil {
		b.Fatal(err)
	}
	return a, acme, lot
}

// BenchmarkServerLoad runs `hallmark simulate` in-process against a dev server in this
// process on 127.0.0.1:0: factory issuance over HTTPS, custody, EST simpleenroll (a new mTLS
// connection each) and one EST simplereenroll per device. Client and server share the
// process, so the wall-clock rates are lower bounds; take the server's share from a CPU
// profile, for example:
//
//	go test -run '^$' -bench ServerLoad -benchtime 1x -cpuprofile cpu.prof ./internal/app/
//	go tool pprof -top -cum -focus 'httpapi|est\.|serverHandshake' app.test cpu.prof
//
// HALLMARK_BENCH_DEVICES sets the fleet (default 300).
func BenchmarkServerLoad(b *testing.B) {
	devices := 300
	if v := os.Getenv("HALLMARK_BENCH_DEVICES"); v != "" {
		if _, err := fmt.Sscan(v, &devices); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		s := startDev(b, "")
		ca, err := os.ReadFile(s.info.TLSCAFile)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		sum, err := simulate.Run(context.Background(), simulate.Config{APIURL: s.info.APIURL, ESTURL: s.info.ESTURL, CAPEM: ca, Tokens: s.tokens,
			Devices: devices, Concurrency: 16, Renewals: 1, Deadline: 10 * time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		for _, p := range sum.Phases {
			if p.Failed != 0 {
				b.Fatalf("phase %s: %d failed", p.Name, p.Failed)
			}
			b.Logf("%-32s %6d ok  %8.1f /s  p99 %v", p.Name, p.OK, p.Rate(), p.Percentile(0.99))
		}
		s.stop()
		b.StartTimer()
	}
}
