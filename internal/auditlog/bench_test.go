package auditlog_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/pgtest"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
)

// Benchmarks of the tamper-evident audit log (BENCHMARKS.md, "Audit log"). Run:
//
//	go test -run '^$' -bench . -benchtime 2000x ./internal/auditlog/
//
// with HALLMARK_TEST_POSTGRES set for the PostgreSQL side of BenchmarkAuditAppend. The
// large-log benchmarks build a SQLite log of HALLMARK_AUDIT_BENCH_N events (default
// 1,000,000) once, in the temporary directory, and reuse it across runs.

func benchEvent(i int) audit.Event {
	return audit.Event{At: t0.Add(time.Duration(i) * time.Millisecond), PartyID: "acme", PrincipalID: "prn_factory_1",
		Action: "factory.issue", Stage: "manufacturing", Scope: "lot:lot_7f3a", Subject: fmt.Sprintf("device:dev_%08d", i),
		Detail: audit.Detail(map[string]any{"serial": strconv.Itoa(1_000_000 + i), "lot": "lot_7f3a", "profile": "idevid"})}
}

func pgStore(b testing.TB) store.Store {
	st, err := postgres.Open(ctx, pgtest.SchemaDSN(b, "hm_bench"))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkAuditAppend: one write transaction holding one audit append (event, leaf, tree
// nodes, head), committed; serial, and from 8 goroutines at once.
func BenchmarkAuditAppend(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, par := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/clients=%d", db, par), func(b *testing.B) {
				var st store.Store
				if db == "sqlite" {
					st = openSQLite(b, filepath.Join(b.TempDir(), "h.db"))
				} else {
					st = pgStore(b)
				}
				defer st.Close()
				var n atomic.Int64
				b.SetParallelism(par)
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := int(n.Add(1))
						if err := st.Update(ctx, func(tx store.Tx) error {
							_, err := tx.Audit().Append(benchEvent(i))
							return err
						}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
			})
		}
	}
}

// largeLog opens (building it the first time) a SQLite log of HALLMARK_AUDIT_BENCH_N events.
func largeLog(b *testing.B) (store.Store, *auditlog.Service, int) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("HALLMARK_AUDIT_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("hallmark-audit-bench-%d.db", n))
	_, statErr := os.Stat(path)
	st := openSQLite(b, path)
	key := benchKey()
	svc := newService(b, st, key)
	if statErr != nil {
		start := time.Now()
		for i := 0; i < n; {
			err := st.Update(context.Background(), func(tx store.Tx) error {
				for j := 0; j < 5000 && i+j < n; j++ {
					if _, err := tx.Audit().Append(benchEvent(i + j)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				os.Remove(path)
				b.Fatal(err)
			}
			i += 5000
		}
		fi, _ := os.Stat(path)
		b.Logf("built a log of %d events in %v (%d bytes on disk before WAL checkpoint)", n, time.Since(start), fi.Size())
	}
	return st, svc, n
}

// benchKey is fixed so that a log built by one run verifies in the next.
func benchKey() []byte {
	seed := bytes.Repeat([]byte{7}, 32)
	return ed25519FromSeed(seed)
}

// BenchmarkCheckpointAt1M: sign and store a checkpoint of a log of a million events that
// has grown by one event since the last checkpoint (the append is not timed).
func BenchmarkCheckpointAt1M(b *testing.B) {
	st, svc, n := largeLog(b)
	defer st.Close()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := st.Update(ctx, func(tx store.Tx) error { _, err := tx.Audit().Append(benchEvent(n + i)); return err }); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := svc.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInclusionProofAt1M: an inclusion proof of a random leaf in the whole tree.
func BenchmarkInclusionProofAt1M(b *testing.B) {
	st, svc, n := largeLog(b)
	defer st.Close()
	p, err := svc.InclusionProof(ctx, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	size := p.Size
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx := rand.Uint64N(uint64(n))
		p, err := svc.InclusionProof(ctx, idx, size)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			b.StopTimer()
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, size, p.LeafHash, p.Hashes, p.Root); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}

// BenchmarkConsistencyProofAt1M: a consistency proof from a random size to the whole tree.
func BenchmarkConsistencyProofAt1M(b *testing.B) {
	st, svc, n := largeLog(b)
	defer st.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.ConsistencyProof(ctx, 1+rand.Uint64N(uint64(n-1)), 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExportAt1M: write an export of the whole log from the store (no HTTP).
// BenchmarkVerifyExportAt1M: verify that export offline (the file is read from memory).
func BenchmarkExportAt1M(b *testing.B) {
	st, svc, _ := largeLog(b)
	defer st.Close()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		if _, err := auditlog.Export(ctx, svc.Source(), &buf, true); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(buf.Len()), "bytes")
	}
}

func BenchmarkVerifyExportAt1M(b *testing.B) {
	st, svc, _ := largeLog(b)
	var buf bytes.Buffer
	if _, err := auditlog.Export(ctx, svc.Source(), &buf, true); err != nil {
		b.Fatal(err)
	}
	st.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := auditlog.Verify(bytes.NewReader(buf.Bytes()), svc.VerifierKey())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Size), "events")
	}
}
