package app

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
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
