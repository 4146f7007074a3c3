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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// BenchmarkAuthenticate resolves a bearer token as every API request does, through the App's
// store (SQLite), with whatever read cache Build gives it. cpu-ns/op is the process's CPU
// time (all goroutines) over the loop, divided by b.N.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "hallmark.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	kp, err := keyfile.New(filepath.Join(b.TempDir(), "keys"), keys.Secret("bench passphrase"))
	if err != nil {
		b.Fatal(err)
	}
	a, err := Build(Wiring{Store: st, Keys: kp, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	_, token, err := bootstrapAdmin(ctx, a.Store, time.Now().UTC(), party.Party{ID: "acme", Name: "Acme", Kind: party.Manufacturer}, "root", "test", 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU(b)
	for range b.N {
		if _, err := a.Governance.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkFactoryIssuanceCPU is BenchmarkFactoryIssuance/sqlite (no HTTP, each issuance
// commits alone) reporting the process's CPU time over the loop per issuance, the CSRs made
// beforehand.
func BenchmarkFactoryIssuanceCPU(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "hallmark.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	a, acme, lot := benchLot(b, st)
	csrs := make([]string, b.N)
	for i := range csrs {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "d"}}, k)
		if err != nil {
			b.Fatal(err)
		}
		csrs[i] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	}
	rec := buildrecord.Record{Manufacturer: "acme", Model: "m", Lot: "l", Line: "a", FirmwareDigest: buildrecord.Digest{SHA256: strings.Repeat("0f", 32)},
		TestResult: "pass", BuiltAt: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU(b)
	for i := 0; i < b.N; i++ {
		rec.Serial = fmt.Sprintf("SN-%08d", i)
		if _, err := a.Manufacturing.IssueFactory(ctx, acme, manufacturing.IssueFactoryRequest{LotID: lot.ID, CSR: csrs[i], BuildRecord: rec}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
}
