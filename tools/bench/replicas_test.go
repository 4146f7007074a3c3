package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// After the command name: state (0), ppid (1), ..., utime (11), stime (12), cutime (13),
	// cstime (14).
	st, err := parseProcStat("812 (postgres: x (db) idle) S 700 812 812 0 -1 4194560 10 0 0 0 30 20 7 3 20 0 1 0")
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 700 || st.self != 500*time.Millisecond || st.children != 100*time.Millisecond {
		t.Errorf("got %+v", st)
	}
	for _, bad := range []string{"812 postgres S 700", "812 (p) S 700 1 2 3", "812 (p) S x 812 812 0 -1 0 0 0 0 0 1 2 3 4", "812 (p) S 700 812 812 0 -1 0 0 0 0 0 1 2 -3 4"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// This process's own entry parses, and its parent is who /proc/self says.
	if st, err := readStat(os.Getpid()); err != nil {
		t.Skipf("no /proc here: %v", err)
	} else if st.ppid != os.Getppid() {
		t.Errorf("ppid %d, want %d", st.ppid, os.Getppid())
	}
}

func TestWithDatabaseAndRedact(t *testing.T) {
	got, err := withDatabase("postgres://u:secret@127.0.0.1:5432/postgres?sslmode=disable", "hallmark_bench_1")
	if err != nil || got != "postgres://u:secret@127.0.0.1:5432/hallmark_bench_1?sslmode=disable" {
		t.Errorf("got %q, %v", got, err)
	}
	for _, bad := range []string{"host=127.0.0.1 dbname=x", "http://127.0.0.1/x", "postgres:///x"} {
		if _, err := withDatabase(bad, "y"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := withDatabase("postgres://u:hunter2@h/db", "y"); err != nil {
		t.Fatal(err)
	}
	if r := redactURL("postgres://u:hunter2@h/db"); strings.Contains(r, "hunter2") {
		t.Errorf("redactURL kept the password: %q", r)
	}
	if _, err := withDatabase("postgres://u:hunter2@/db", "y"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad URL's error must not show its password: %v", err)
	}
}

// A real PostgreSQL 15 log's line shapes: severities are counted, serialization failures
// counted apart, and the most frequent errors listed first.
func TestPGLogSummary(t *testing.T) {
	log := `2026-12-06 08:00:01.123 UTC [812] LOG:  database system is ready to accept connections
2026-12-06 08:00:02.001 UTC [901] ERROR:  could not serialize access due to read/write dependencies among transactions
2026-12-06 08:00:02.001 UTC [901] DETAIL:  Reason code: Canceled on identification as a pivot, during commit attempt.
2026-12-06 08:00:02.001 UTC [901] STATEMENT:  COMMIT
2026-12-06 08:00:02.002 UTC [902] ERROR:  could not serialize access due to read/write dependencies among transactions
2026-12-06 08:00:03.000 UTC [903] ERROR:  deadlock detected
2026-12-06 08:00:04.000 UTC [904] FATAL:  terminating connection due to administrator command
`
	p := filepath.Join(t.TempDir(), "server.log")
	if err := os.WriteFile(p, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	levels, serial, top := pgLogSummary(p)
	if levels["LOG"] != 1 || levels["ERROR"] != 3 || levels["FATAL"] != 1 || serial != 2 {
		t.Errorf("levels %v, serialization failures %d", levels, serial)
	}
	if len(top) != 3 || top[0].n != 2 || !strings.Contains(top[0].text, "could not serialize") {
		t.Errorf("top %+v", top)
	}
	if l, s, _ := pgLogSummary(filepath.Join(t.TempDir(), "missing")); l != nil || s != 0 {
		t.Errorf("a missing log: %v %d", l, s)
	}
}

func TestParseFlagsPostgres(t *testing.T) {
	o, err := parseFlags([]string{"-postgres", "auto", "-replicas", "2"}, io.Discard)
	if err != nil || o.postgres != "auto" || o.replicas != 2 {
		t.Errorf("got %+v, %v", o, err)
	}
	if o, _ := parseFlags(nil, io.Discard); o.postgres != "" || o.replicas != 3 {
		t.Errorf("defaults: %+v", o)
	}
	for _, args := range [][]string{{"-replicas", "0"}, {"-replicas", "17"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// The replicas' section sums what it should: the database's CPU per certificate beside the
// replicas', the total's ratio to a peer, each replica's share, and what the logs said.
func TestWriteReplicaSection(t *testing.T) {
	lat := func(ms, n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(ms) * time.Millisecond
		}
		return out
	}
	results := []result{
		{server: "hallmark-pg", sc: factory, round: 1, clients: 64, ok: 300, elapsed: time.Second, cpu: 900 * time.Millisecond, lat: lat(50, 300)},
		{server: "step-ca", sc: factory, round: 1, clients: 64, ok: 600, elapsed: time.Second, cpu: 600 * time.Millisecond, lat: lat(25, 600)},
	}
	r := &replicaSet{
		hallmark: &hallmark{label: "hallmark-pg"}, procs: make([]*process, 2),
		db: &pgDatabase{private: true, postmaster: 1, version: "15.18", fsync: "on", syncCommit: "on"},
		cells: []replicaCell{
			{round: 0, clients: 64, sc: factory, elapsed: time.Second, ok: []int{5, 5}, failed: []int{0, 0}, p99: []time.Duration{0, 0}, cpu: []time.Duration{0, 0}, peak: []int64{0, 0}, db: time.Hour, dbOK: true},
			{round: 1, clients: 64, sc: factory, elapsed: time.Second, ok: []int{150, 150}, failed: []int{0, 0},
				p99: []time.Duration{40 * time.Millisecond, 60 * time.Millisecond}, cpu: []time.Duration{400 * time.Millisecond, 500 * time.Millisecond},
				peak: []int64{50 << 20, 60 << 20}, db: 600 * time.Millisecond, dbOK: true},
		},
		stats0: pgStats{commits: 10, rollbacks: 1, ok: true}, stats1: pgStats{commits: 110, rollbacks: 6, deadlocks: 0, ok: true},
		pgLevels: map[string]int{"ERROR": 4, "LOG": 2}, pgSerial: 4, pgTop: []countedLine{{"ERROR: could not serialize access due to x", 4}},
		replicaLevels: []map[string]int{{"INFO": 9}, {"INFO": 8, "WARN": 1}}, replicaTop: []countedLine{{"WARN: leader: lost the lease", 1}},
		idleReplicas: 12.5, idleDB: 3.5, idleFor: 10 * time.Second,
	}
	info := runInfo{clients: []int{64}, servers: []server{r, &stepCA{}}, pg: r}
	var b strings.Builder
	writeReplicaSection(&b, info, results)
	out := b.String()
	for _, want := range []string{
		"| factory | 64 | 300.0 | 50.0 ms | 3.00 | 2.00 | 5.00 | 0 |", // 900 ms ÷ 300 and 600 ms ÷ 300 (the warm-up's hour is left out)
		"| factory | 64 | step-ca | 0.50× | 2.00× | 3.00× | 5.00× |",  // 3 and 5 CPU-ms against step-ca's 1
		"| factory | 64 | 0 | 150.0 | 40.0 ms | 2.67 | 50 MiB | 150 | 0 |",
		"| factory | 64 | 1 | 150.0 | 60.0 ms | 3.33 | 60 MiB | 150 | 0 |",
		"100 transactions committed, 5 rolled back",
		"4 serialization failures",
		"4× `ERROR: could not serialize access due to x`",
		"replica 1's log, lines by level: INFO 8, WARN 1.",
		"1× `WARN: leader: lost the lease`",
		"for 10s before the warm-up, the replicas used 12.5 CPU-ms per second together and the database 3.5:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("section lacks %q\n%s", want, out)
		}
	}
	var none strings.Builder
	writeReplicaSection(&none, runInfo{clients: []int{64}}, results)
	if none.Len() != 0 {
		t.Errorf("a run without -postgres wrote a section: %q", none.String())
	}
}

// TestPostgresSmoke runs `-quick -servers hallmark -postgres ... -replicas 2` end to end:
// hallmark on SQLite beside two replicas on PostgreSQL, every scenario. It needs
// HALLMARK_BENCH_SMOKE=1 and HALLMARK_BENCH_POSTGRES (auto, for a private cluster made with
// initdb, or the URL of a server it may create a database in).
func TestPostgresSmoke(t *testing.T) {
	pg := os.Getenv("HALLMARK_BENCH_POSTGRES")
	if os.Getenv("HALLMARK_BENCH_SMOKE") != "1" || pg == "" {
		t.Skip("set HALLMARK_BENCH_SMOKE=1 and HALLMARK_BENCH_POSTGRES=auto (or a server's URL) to run the PostgreSQL replicas end to end")
	}
	o, err := parseFlags([]string{"-quick", "-servers", "hallmark", "-postgres", pg, "-replicas", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var report strings.Builder
	results, err := run(ctx, o, &report, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cells := 0
	for _, r := range results {
		if r.server != "hallmark-pg" {
			continue
		}
		cells++
		if r.ok != o.requests || r.failed != 0 || r.peakRSS <= 0 {
			t.Errorf("hallmark-pg %s: %d ok, %d failed, peak RSS %d (first error: %s)", shortName(r.sc), r.ok, r.failed, r.peakRSS, r.firstErr)
		}
	}
	if cells != 3 {
		t.Errorf("%d hallmark-pg cells, want 3", cells)
	}
	for _, want := range []string{"## PostgreSQL replicas (hallmark-pg)", "| factory | 4 | 1 |", "replica 1's log"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
