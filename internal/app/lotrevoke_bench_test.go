package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// BenchmarkLotRevocation measures a manufacturing revocation of one lot with its full cascade:
// every device has a factory certificate and a current operational certificate, so each
// device costs a factory revocation, a suspension (certificateHold), two cascade items and a
// device update, in transactions of 500 devices with their audit events. The lot is seeded
// directly through the store (certificates are records only; revocation never reads their
// bytes). Size with HALLMARK_BENCH_LOT (default 10000):
//
//	HALLMARK_BENCH_LOT=100000 go test -run '^$' -bench LotRevocation -benchtime 1x -timeout 30m ./internal/app/
func BenchmarkLotRevocation(b *testing.B) {
	n := 10000
	if v := os.Getenv("HALLMARK_BENCH_LOT"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hallmark.db"))
		if err != nil {
			b.Fatal(err)
		}
		benchLotRevocation(b, st, n)
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
		benchLotRevocation(b, st, n)
	})
}

func benchLotRevocation(b *testing.B, st store.Store, n int) {
	ctx := context.Background()
	defer st.Close()
	a, acme, lot := benchLot(b, st)
	now := time.Now().UTC()
	seedStart := time.Now()
	for done := 0; done < n; {
		batch := min(1000, n-done)
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := 0; i < batch; i++ {
				id := fmt.Sprintf("dev_%08d", done+i)
				fs, os := randSerial(), randSerial()
				for _, c := range []ca.Cert{
					{Serial: fs, CAID: lot.IssuingCAID, DeviceID: id, Profile: "factory", TBS: []byte{0}, NotBefore: now, NotAfter: now.Add(24 * 365 * time.Hour), CreatedAt: now},
					{Serial: os, CAID: "ca-op", DeviceID: id, Profile: "operational", TBS: []byte{0}, NotBefore: now, NotAfter: now.Add(24 * time.Hour), CreatedAt: now},
				} {
					if err := tx.Certificates().Reserve(c); err != nil {
						return err
					}
					if err := tx.Certificates().MarkIssued(c.Serial, []byte{0}, now); err != nil {
						return err
					}
				}
				d := device.Device{ID: id, ManufacturerID: "acme", ModelID: lot.ModelID, LotID: lot.ID, Serial: fmt.Sprintf("SN-%08d", done+i), State: device.Active,
					CustodianID: "acme", FactoryCert: ca.SerialHex(fs), OperationalCert: ca.SerialHex(os), CreatedAt: now, UpdatedAt: now}
				if err := tx.Devices().CreateDevice(d); err != nil {
					return err
				}
			}
			_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "acme", PrincipalID: "bench", Action: "bench.seed"})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		done += batch
	}
	b.Logf("seeded %d devices with factory and operational certificates in %s", n, time.Since(seedStart).Round(time.Millisecond))
	execute := false
	b.ResetTimer()
	start := time.Now()
	res, err := a.Manufacturing.RevokeFactory(ctx, acme, manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "acme", LotID: lot.ID}, Reason: "keyCompromise", DryRun: &execute})
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if len(res.Factory) != n || len(res.Suspended) != n {
		b.Fatalf("revoked %d and suspended %d of %d", len(res.Factory), len(res.Suspended), n)
	}
	b.ReportMetric(elapsed.Seconds(), "s/lot")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "devices/s")
}

func randSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}
