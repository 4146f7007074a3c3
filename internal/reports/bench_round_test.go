package reports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
)

// BenchmarkSnapshotRound measures what one round of the console's report snapshots asks of the
// reports service (internal/app/snapshots.go, through httpapi.ReportViews), on benchStore's
// fleet: for each of four parties (an auditor of the whole fleet, the two operators, the
// maker) the summary, the expiring reports at 7 and 30 days, the gaps, the rotation report
// with its 30-day trend, the drift report and the standards mapping; "drift" is the drift
// report alone for the same parties. Each is measured with one Service over its rounds, as
// the leader keeps one: "unchanged" rounds change nothing between them, "1pct" rounds renew
// 1% of the fleet (new certificate, evidence and device row, audited) before each round,
// outside the timer. cpu-ns/op is the process's CPU (user + system) over the timed rounds:
// the drift report checks devices on every CPU. "minute" rounds change no row but are a
// minute apart, as the console's are (the fleet's certificates end on whole hours, so most
// such rounds cross no end, window or max_age).
//
//	HALLMARK_BENCH_DEVICES=20000 go test -run '^$' -bench SnapshotRound ./internal/reports/
func BenchmarkSnapshotRound(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	n := benchDevices()
	actors := []audit.Actor{{PartyID: "aud", PrincipalID: "x"}, {PartyID: "op1", PrincipalID: "y"}, {PartyID: "op2", PrincipalID: "z"}, {PartyID: "acme", PrincipalID: "w"}}
	drift := func(svc *reports.Service) error {
		ctx := snapshotContext(ctx, actors)
		for _, a := range actors {
			if _, err := svc.Drift(ctx, a); err != nil {
				return err
			}
		}
		return nil
	}
	full := func(svc *reports.Service) error {
		ctx := snapshotContext(ctx, actors)
		for _, a := range actors {
			if _, err := svc.Summary(ctx, a); err != nil {
				return err
			}
			for _, w := range []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour} {
				if _, err := svc.Expiring(ctx, a, w); err != nil {
					return err
				}
			}
			if _, err := svc.Gaps(ctx, a, reports.GapsOptions{}); err != nil {
				return err
			}
			if _, err := svc.Rotation(ctx, a, reports.TrendOptions{Since: 30 * 24 * time.Hour, Every: 24 * time.Hour}); err != nil {
				return err
			}
			if _, err := svc.Drift(ctx, a); err != nil {
				return err
			}
			_, _ = svc.StandardsFor(ctx, a) // for auditors; a refusal for the others
		}
		return nil
	}
	next := 0
	serial := int64(1) << 50
	// renew renews the next 1% of the fleet, each in its own audited transaction.
	renew := func() {
		for range max(n/100, 1) {
			id := fmt.Sprintf("dev-%07d", next%n)
			next += 97 // spread over environments and states
			serial++
			err := st.Update(ctx, func(tx store.Tx) error {
				d, err := tx.Devices().GetDevice(id)
				if err != nil {
					return err
				}
				s := big.NewInt(serial)
				if err := issue(tx, s, id, "operational", benchNow, benchNow.Add(24*time.Hour), []byte{1}); err != nil {
					return err
				}
				facts := `{"firmware_digest":"` + fmt.Sprintf("%064x", 15) + `","hardware_revision":"B"}`
				if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(s), DeviceID: id, EnvironmentID: d.EnvironmentID, Kind: "renew", BasedOn: d.OperationalCert,
					FactorySerial: d.FactoryCert, Protocol: "est", PolicyKind: environment.Renewal, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(facts), CreatedAt: benchNow}); err != nil {
					return err
				}
				nd := d
				nd.OperationalCert = ca.SerialHex(s)
				if err := tx.Devices().UpdateDevice(nd, d); err != nil {
					return err
				}
				_, err = tx.Audit().Append(audit.Event{At: benchNow, PartyID: "p", PrincipalID: "x", Action: "bench"})
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, round := range []struct {
		name string
		fn   func(*reports.Service) error
	}{{"drift", drift}, {"full", full}} {
		for _, change := range []string{"unchanged", "minute", "1pct"} {
			b.Run(round.name+"/"+change, func(b *testing.B) {
				now := benchNow
				svc := reports.New(st, func() time.Time { return now })
				if err := round.fn(svc); err != nil { // the round before the first timed one
					b.Fatal(err)
				}
				var cpu time.Duration
				b.ResetTimer()
				for b.Loop() {
					if change == "minute" {
						now = now.Add(time.Minute)
					}
					if change == "1pct" {
						b.StopTimer()
						renew()
						b.StartTimer()
					}
					before := processCPU(b)
					if err := round.fn(svc); err != nil {
						b.Fatal(err)
					}
					cpu += processCPU(b) - before
				}
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNextTimeChange measures the read a snapshot round adds when no row changed but an
// instant may have passed (timememo.go): one NextTimeChange with the round's windows over
// benchStore's fleet, to set against a round's cost in the same run.
//
//	HALLMARK_BENCH_DEVICES=20000 go test -run '^$' -bench 'NextTimeChange|SnapshotRound/full/minute' ./internal/reports/
func BenchmarkNextTimeChange(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	windows := []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}
	var cpu time.Duration
	for b.Loop() {
		before := processCPU(b)
		err := st.View(ctx, func(tx store.Tx) error {
			_, _, err := tx.Reports().NextTimeChange(benchNow, windows)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		cpu += processCPU(b) - before
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
