package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// replicaSet is server hallmark-pg (-postgres, -replicas): several `hallmark serve --config`
// processes on one PostgreSQL database, as docs/operations.md (*Running replicas*) deploys
// them: the same database, keys folder, passphrase, audit origin and TLS certificate, each
// on its own ports. The database is seeded by `hallmark serve --dev --dev-postgres-env`
// (the demo parties, tokens and CAs of `serve --dev` on SQLite), which is then stopped.
// The timed requests of a cell go to the replicas round-robin (request i to replica
// i mod N); untimed setup goes to replica 0. CPU per certificate is the replicas' sum, peak
// RSS the sum of their peaks; the database's CPU and each replica's figures are in the
// report's own section.
type replicaSet struct {
	*hallmark // set up through replica 0; its apiURLs and estURLs list every replica
	procs     []*process
	logs      []string
	db        *pgDatabase
	keep      bool
	log       io.Writer

	mu    sync.Mutex
	cur   *cellAcc      // the cell being prepared or run
	cells []replicaCell // every cell, warm-up (round 0) included

	// CPU-ms per second at rest before the warm-up (measureIdle); idleDB < 0: not measured.
	idleReplicas, idleDB float64
	idleFor              time.Duration

	// What collect gathered at the end of the run.
	stats0, stats1 pgStats
	pgLevels       map[string]int
	pgSerial       int
	pgTop          []countedLine
	replicaLevels  []map[string]int
	replicaTop     []countedLine
}

// cellHooks is a server of several processes: runCell calls begin just before its timed
// requests and end just after, and end replaces the figures runCell read from pid() alone.
type cellHooks interface {
	begin()
	end(res *result)
}

// cellAcc gathers one cell's per-replica outcomes while it runs.
type cellAcc struct {
	mu       sync.Mutex
	lat      [][]time.Duration
	ok, fail []int
	cpu0     []time.Duration
	db0      time.Duration
	dbOK     bool
}

// replicaCell is one cell's per-replica figures.
type replicaCell struct {
	round, clients int
	sc             scenario
	elapsed        time.Duration
	ok, failed     []int
	p99            []time.Duration
	cpu            []time.Duration
	peak           []int64
	db             time.Duration // the database's CPU during the cell
	dbOK           bool
}

// The environment variable holding the replicas' database URL (never their command line).
const pgDSNEnv = "HALLMARK_BENCH_DATABASE_URL"

// startReplicaSet makes the database, seeds it, and starts o.replicas replicas in tmp/pg. A
// non-nil set is returned even on error so that its stop cleans up what was started.
func startReplicaSet(ctx context.Context, o options, bin, tmp string, log io.Writer) (*replicaSet, error) {
	dir := filepath.Join(tmp, "pg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &replicaSet{keep: o.keep, log: log}
	db, err := newPGDatabase(ctx, o.postgres, log)
	r.db = db
	if err != nil {
		return r, fmt.Errorf("hallmark-pg: %w", err)
	}
	env := []string{pgDSNEnv + "=" + db.dsn}

	// The seed: what `serve --dev` makes on SQLite, made in the PostgreSQL database.
	seed := filepath.Join(dir, "seed")
	sp, err := startProcess(dir, filepath.Join(dir, "seed.log"), env, bin, "serve", "--dev", "--dev-postgres-env", pgDSNEnv, "--data", seed, "--listen", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	err = waitReady(ctx, sp, 5*time.Minute, func() error {
		var info devInfo
		b, err := os.ReadFile(filepath.Join(seed, "dev.json"))
		if err == nil {
			err = json.Unmarshal(b, &info)
		}
		if err == nil && info.PID != sp.pid() {
			err = fmt.Errorf("dev.json names PID %d, not the seeding server (%d)", info.PID, sp.pid())
		}
		return err
	})
	sp.stop()
	if err != nil {
		return r, fmt.Errorf("hallmark-pg: seeding with serve --dev: %w (log: %s)", err, filepath.Join(dir, "seed.log"))
	}

	caFile, certFile, keyFile, err := writeReplicaTLS(dir)
	if err != nil {
		return r, err
	}
	var apis, ests []string
	for i := range o.replicas {
		api, est, statusAddr := freeAddr(), freeAddr(), freeAddr()
		if api == "" || est == "" || statusAddr == "" {
			return r, errors.New("hallmark-pg: no free loopback port")
		}
		cfg := map[string]any{
			"listen": api, "public_url": "https://" + api,
			"store": map[string]any{"driver": "postgres", "dsn_env": pgDSNEnv},
			"keys":  map[string]any{"dir": filepath.Join(seed, "keys"), "passphrase_file": filepath.Join(seed, "dev-key-passphrase")},
			"tls":   map[string]any{"cert_file": certFile, "key_file": keyFile},
			"log":   map[string]any{"level": "info", "format": "json"},
			"audit": map[string]any{"origin": "hallmark-dev/audit"}, // the seed's, shared by every replica
			"est":   map[string]any{"listen": est, "default_label": "demo"},
			// OCSP and CRLs on plain HTTP, as `serve --dev` serves them.
			"status": map[string]any{"http_listen": statusAddr},
		}
		b, _ := json.MarshalIndent(cfg, "", "  ")
		cfgPath := filepath.Join(dir, fmt.Sprintf("replica-%d.json", i))
		if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
			return r, err
		}
		logPath := filepath.Join(dir, fmt.Sprintf("replica-%d.log", i))
		args := append([]string{"serve", "--config", cfgPath}, profileArgs(o.profile, fmt.Sprintf("hallmark-pg-%d", i), bin)...)
		p, err := startProcess(dir, logPath, env, bin, args...)
		if err != nil {
			return r, err
		}
		r.procs, r.logs = append(r.procs, p), append(r.logs, logPath)
		apis, ests = append(apis, "https://"+api), append(ests, "https://"+est+"/.well-known/est")
	}
	roots := x509.NewCertPool()
	if b, err := os.ReadFile(caFile); err != nil || !roots.AppendCertsFromPEM(b) {
		return r, fmt.Errorf("hallmark-pg: reading %s: %v", caFile, err)
	}
	probe := keepAliveClient(roots, 1)
	defer probe.CloseIdleConnections()
	for i, p := range r.procs {
		err := waitReady(ctx, p, 2*time.Minute, func() error {
			res, _, err := send(ctx, probe, "GET", apis[i]+"/healthz", nil, nil)
			if err == nil && res.StatusCode != http.StatusOK {
				err = fmt.Errorf("healthz: HTTP %d", res.StatusCode)
			}
			return err
		})
		if err != nil {
			return r, fmt.Errorf("hallmark-pg replica %d: %w (log: %s)", i, err, r.logs[i])
		}
	}

	r.hallmark = &hallmark{label: "hallmark-pg", proc: r.procs[0], slots: map[*slot]*hmSlot{}, apiURLs: apis, estURLs: ests,
		info: devInfo{APIURL: apis[0], ESTURL: ests[0], TLSCAFile: caFile, TokenFile: filepath.Join(seed, "tokens.json"), PID: r.procs[0].pid()}}
	if err := r.hallmark.setup(ctx); err != nil {
		return r, fmt.Errorf("hallmark-pg: %w", err)
	}
	// One issuance through replica 0 before any concurrency: a manufacturer's first
	// issuance also creates its build-record key, which replicas starting together on one
	// keys folder should not race to create.
	sl, err := newSlot(-1, 1, 1)
	if err != nil {
		return r, err
	}
	do, err := r.hallmark.prepare(ctx, factory, sl, 1)
	if err == nil {
		_, err = do(ctx, 0)
	}
	if err != nil {
		return r, fmt.Errorf("hallmark-pg: a first issuance: %w", err)
	}
	r.stats0 = db.stats(ctx)
	r.measureIdle(ctx, idleWindow)
	return r, nil
}

// idleWindow is how long measureIdle watches the replicas and the database at rest.
const idleWindow = 10 * time.Second

// measureIdle reads the CPU the replicas and the database use with no request at all
// (elections, change feeds, the followers' CRL checks, checkpoints): it runs in every cell
// too, so a cell's CPU per certificate carries its share of it.
func (r *replicaSet) measureIdle(ctx context.Context, d time.Duration) {
	cpu := func() (total time.Duration) {
		for _, p := range r.procs {
			c, _ := processCPU(p.pid())
			total += c
		}
		return total
	}
	c0, t0 := cpu(), time.Now()
	db0, ok0 := r.db.cpu()
	select {
	case <-ctx.Done():
		return
	case <-time.After(d):
	}
	c1, el := cpu(), time.Since(t0)
	db1, ok1 := r.db.cpu()
	r.idleReplicas = float64((c1 - c0).Microseconds()) / 1000 / el.Seconds()
	r.idleDB = -1
	if ok0 && ok1 {
		r.idleDB = float64((db1 - db0).Microseconds()) / 1000 / el.Seconds()
	}
	r.idleFor = el
}

// freeAddr is a free loopback HOST:PORT, or "" when none.
func freeAddr() string {
	p, err := freePort()
	if err != nil {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(p))
}

// writeReplicaTLS makes the replicas' one TLS certificate (P-256, for 127.0.0.1, under a
// P-256 CA the harness trusts), as a load balancer's replicas would share one name.
func writeReplicaTLS(dir string) (caFile, certFile, keyFile string, err error) {
	now := time.Now()
	root, rootKey, err := makeCert(nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "hallmark-pg bench TLS CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0)})
	if err != nil {
		return "", "", "", err
	}
	leaf, leafKey, err := makeCert(root, rootKey, &x509.Certificate{Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0)})
	if err != nil {
		return "", "", "", err
	}
	caFile, certFile, keyFile = filepath.Join(dir, "tls-ca.pem"), filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls.key")
	for p, b := range map[string][]byte{caFile: pemCert(root), certFile: pemCert(leaf), keyFile: pemKey(leafKey)} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return "", "", "", err
		}
	}
	return caFile, certFile, keyFile, nil
}

// note describes the set for the report's header.
func (r *replicaSet) note(commit string) string {
	where := "a PostgreSQL server given by -postgres (its database CPU counts only this run's live backends)"
	if r.db.private {
		where = "a private PostgreSQL cluster this run started with initdb (the only load on it)"
	}
	return fmt.Sprintf("commit %s, %d `hallmark serve --config` replicas on one fresh database in %s: PostgreSQL %s, fsync=%s, synchronous_commit=%s, shared_buffers=%s; "+
		"seeded by `hallmark serve --dev --dev-postgres-env` (then stopped); one keys folder, passphrase, audit origin and TLS certificate; SERIALIZABLE writes, "+
		"group commit per replica, audit Merkle tree, zlint before every signature; logs JSON at info (each audit event a log line; `--dev` logs them at debug). "+
		"Timed requests go to the replicas round-robin. CPU-ms/cert here is the replicas' sum without the database's; peak RSS the sum of their peaks (section *PostgreSQL replicas*).",
		commit, len(r.procs), where, r.db.version, r.db.fsync, r.db.syncCommit, r.db.sharedBuffers)
}

// prepare does the untimed setup through replica 0 and wraps the timed operation so that
// each request's outcome and latency are counted for the replica it went to.
func (r *replicaSet) prepare(ctx context.Context, sc scenario, sl *slot, n int) (op, error) {
	do, err := r.hallmark.prepare(ctx, sc, sl, n)
	if err != nil {
		return nil, err
	}
	k := len(r.procs)
	acc := &cellAcc{lat: make([][]time.Duration, k), ok: make([]int, k), fail: make([]int, k), cpu0: make([]time.Duration, k)}
	r.mu.Lock()
	r.cur = acc
	r.mu.Unlock()
	return func(ctx context.Context, i int) (int, error) {
		t := time.Now()
		d, err := do(ctx, i)
		lat := time.Since(t)
		acc.mu.Lock()
		if err != nil {
			acc.fail[i%k]++
		} else {
			acc.ok[i%k]++
			acc.lat[i%k] = append(acc.lat[i%k], lat)
		}
		acc.mu.Unlock()
		return d, err
	}, nil
}

func (r *replicaSet) begin() {
	r.mu.Lock()
	acc := r.cur
	r.mu.Unlock()
	for i, p := range r.procs {
		_ = resetPeakRSS(p.pid())
		acc.cpu0[i], _ = processCPU(p.pid())
	}
	acc.db0, acc.dbOK = r.db.cpu()
}

func (r *replicaSet) end(res *result) {
	r.mu.Lock()
	acc := r.cur
	r.mu.Unlock()
	db1, ok1 := r.db.cpu()
	c := replicaCell{round: res.round, clients: res.clients, sc: res.sc, elapsed: res.elapsed, db: db1 - acc.db0, dbOK: acc.dbOK && ok1}
	res.cpu, res.peakRSS, res.peakReset = 0, 0, true
	acc.mu.Lock()
	defer acc.mu.Unlock()
	for i, p := range r.procs {
		cpu, err := processCPU(p.pid())
		if err == nil {
			cpu -= acc.cpu0[i]
		}
		peak, _ := procStatusBytes(p.pid(), "VmHWM")
		res.cpu += cpu
		res.peakRSS += peak
		slices.Sort(acc.lat[i])
		c.ok, c.failed = append(c.ok, acc.ok[i]), append(c.failed, acc.fail[i])
		c.p99, c.cpu, c.peak = append(c.p99, percentile(acc.lat[i], 0.99)), append(c.cpu, cpu), append(c.peak, peak)
	}
	r.mu.Lock()
	r.cells = append(r.cells, c)
	r.mu.Unlock()
}

// alive fails when any replica has exited.
func (r *replicaSet) alive() error {
	for i, p := range r.procs {
		if err := p.alive(); err != nil {
			return fmt.Errorf("hallmark-pg replica %d: %w (log: %s)", i, err, r.logs[i])
		}
	}
	return nil
}

// stop ends the replicas, then drops the database and stops a private cluster.
func (r *replicaSet) stop() {
	var wg sync.WaitGroup
	for _, p := range r.procs {
		wg.Go(p.stop)
	}
	wg.Wait()
	if r.db != nil {
		r.db.close(r.keep, r.log)
	}
}

// collect reads, after the last cell, the database's counters (after waiting for idle
// backends to publish them), the private cluster's log and the replicas' logs.
func (r *replicaSet) collect(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(11 * time.Second):
	}
	r.stats1 = r.db.stats(ctx)
	if r.db.private {
		r.pgLevels, r.pgSerial, r.pgTop = pgLogSummary(r.db.logPath)
	}
	msgs := map[string]int{}
	for _, path := range r.logs {
		levels := map[string]int{}
		f, err := os.Open(path)
		if err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				var rec struct {
					Level string `json:"level"`
					Msg   string `json:"msg"`
					Err   string `json:"err"`
				}
				if json.Unmarshal(sc.Bytes(), &rec) != nil {
					levels["not JSON"]++
					continue
				}
				levels[rec.Level]++
				if rec.Level == "WARN" || rec.Level == "ERROR" {
					m := rec.Level + ": " + rec.Msg
					if rec.Err != "" {
						m += ": " + rec.Err
					}
					msgs[cell(m)]++
				}
			}
			f.Close()
		}
		r.replicaLevels = append(r.replicaLevels, levels)
	}
	r.replicaTop = topLines(msgs, 6)
}

// writeReplicaSection writes the report's section on hallmark-pg: per scenario and client
// count its medians with the database's CPU, its ratios to every other server, each
// replica's figures, and what the database and the replicas logged.
func writeReplicaSection(w io.Writer, info runInfo, results []result) {
	r := info.pg
	if r == nil {
		return
	}
	sums := summarize(results)
	fmt.Fprintf(w, "\n## PostgreSQL replicas (hallmark-pg)\n\n%d replicas on PostgreSQL %s (fsync=%s, synchronous_commit=%s). \"replicas\" is the sum of the replicas' CPU per certificate; "+
		"\"database\" PostgreSQL's (%s); \"total\" both, the figure to set beside SQLite's, whose database runs inside Hallmark's process. Medians of the rounds.\n",
		len(r.procs), r.db.version, r.db.fsync, r.db.syncCommit, dbCPUNote(r.db))
	fmt.Fprintln(w, "\n| scenario | clients | req/s | p99 | CPU-ms/cert: replicas | database | total | failed |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	totals := map[[2]int]float64{}
	for _, sc := range scenarios {
		for _, c := range info.clients {
			m := sums[key(sc, c, "hallmark-pg")]
			if m == nil || m.unsupported {
				continue
			}
			var dbs []float64
			for _, rc := range r.cells {
				if rc.round > 0 && rc.sc == sc && rc.clients == c && rc.dbOK && sumInts(rc.ok) > 0 {
					dbs = append(dbs, float64(rc.db.Microseconds())/1000/float64(sumInts(rc.ok)))
				}
			}
			db, tot := "not measured", "—"
			if len(dbs) > 0 {
				dm := median(dbs)
				db, tot = fmt.Sprintf("%.2f", dm), fmt.Sprintf("%.2f", m.cpu+dm)
				totals[[2]int{int(sc), c}] = m.cpu + dm
			}
			fmt.Fprintf(w, "| %s | %d | %.1f | %s | %s | %s | %s | %d |\n", shortName(sc), c, m.rate, fmtMS(m.p99), fmtCPU(m.cpu, m.ok/max(m.rounds, 1)), db, tot, m.failed)
		}
	}

	if r.idleFor > 0 {
		db := "not measured"
		if r.idleDB >= 0 {
			db = fmt.Sprintf("%.1f", r.idleDB)
		}
		fmt.Fprintf(w, "\nAt rest, for %s before the warm-up, the replicas used %.1f CPU-ms per second together and the database %s: "+
			"that work (elections, change feeds, the followers' CRL checks) goes on during every cell and is in its CPU per certificate.\n",
			r.idleFor.Round(time.Second), r.idleReplicas, db)
	}
	fmt.Fprintln(w, "\nhallmark-pg ÷ each other server, same run (req/s: above 1 is faster; p99 and CPU-ms/cert: below 1 is better; \"CPU, total\" counts the database's CPU too):")
	fmt.Fprintln(w, "\n| scenario | clients | server | req/s | p99 | CPU-ms/cert, replicas | CPU, total |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, sc := range scenarios {
		for _, c := range info.clients {
			h := sums[key(sc, c, "hallmark-pg")]
			if h == nil || h.unsupported {
				continue
			}
			for _, s := range info.servers {
				m := sums[key(sc, c, s.name())]
				if s.name() == "hallmark-pg" || m == nil {
					continue
				}
				if m.unsupported {
					fmt.Fprintf(w, "| %s | %d | %s | no such endpoint | | | |\n", shortName(sc), c, s.name())
					continue
				}
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", shortName(sc), c, s.name(), ratio(h.rate, m.rate), ratio(h.p99.Seconds(), m.p99.Seconds()),
					ratio(h.cpu, m.cpu), ratio(totals[[2]int{int(sc), c}], m.cpu))
			}
		}
	}

	fmt.Fprintln(w, "\nEach replica (medians of the rounds; req/s = its certificates ÷ the cell's wall time; CPU-ms/cert = its CPU ÷ its certificates, leader work included):")
	fmt.Fprintln(w, "\n| scenario | clients | replica | req/s | p99 | CPU-ms/cert | peak RSS | ok | failed |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, sc := range scenarios {
		for _, c := range info.clients {
			for i := range r.procs {
				var rates, cpus []float64
				var p99s []time.Duration
				var peak int64
				ok, failed, n := 0, 0, 0
				for _, rc := range r.cells {
					if rc.round <= 0 || rc.sc != sc || rc.clients != c || i >= len(rc.ok) {
						continue
					}
					n++
					ok, failed, peak = ok+rc.ok[i], failed+rc.failed[i], max(peak, rc.peak[i])
					if rc.ok[i] > 0 && rc.elapsed > 0 {
						rates = append(rates, float64(rc.ok[i])/rc.elapsed.Seconds())
						cpus = append(cpus, float64(rc.cpu[i].Microseconds())/1000/float64(rc.ok[i]))
						p99s = append(p99s, rc.p99[i])
					}
				}
				if n == 0 {
					continue
				}
				fmt.Fprintf(w, "| %s | %d | %d | %.1f | %s | %s | %s | %d | %d |\n", shortName(sc), c, i, median(rates), fmtMS(median(p99s)),
					fmtCPU(median(cpus), ok/n), fmtMiB(peak), ok, failed)
			}
		}
	}

	fmt.Fprintln(w, "\nWhat the database and the replicas say over the whole run (warm-up included):")
	fmt.Fprintln(w)
	if s0, s1 := r.stats0, r.stats1; s0.ok && s1.ok {
		fmt.Fprintf(w, "- pg_stat_database, from the warm-up to the end: %d transactions committed, %d rolled back "+
			"(not failures: a read that finds nothing ends with ROLLBACK, as most of the followers' checks for a newer stored CRL of each CA do, "+
			"and so does a follower's try for the signing lease), %d deadlocks.\n",
			s1.commits-s0.commits, s1.rollbacks-s0.rollbacks, s1.deadlocks-s0.deadlocks)
	} else {
		fmt.Fprintln(w, "- pg_stat_database: not read.")
	}
	if !r.db.private {
		fmt.Fprintln(w, "- PostgreSQL's log: not read (a server given by URL); serialization failures not counted.")
	} else {
		fmt.Fprintf(w, "- PostgreSQL's log (seeding included): %d serialization failures (`could not serialize access`, retried by Hallmark); lines by severity: %s.\n",
			r.pgSerial, fmtLevels(r.pgLevels))
		for _, l := range r.pgTop {
			fmt.Fprintf(w, "  - %d× `%s`\n", l.n, cell(l.text))
		}
	}
	for i, lv := range r.replicaLevels {
		fmt.Fprintf(w, "- replica %d's log, lines by level: %s.\n", i, fmtLevels(lv))
	}
	if len(r.replicaTop) == 0 {
		fmt.Fprintln(w, "- No replica logged a warning or an error.")
	}
	for _, l := range r.replicaTop {
		fmt.Fprintf(w, "  - %d× `%s`\n", l.n, l.text)
	}
}

// dbCPUNote says how the database's CPU was measured.
func dbCPUNote(d *pgDatabase) string {
	switch {
	case d.postmaster == 0:
		return "not measured: the postmaster's PID was not found"
	case d.private:
		return "utime+stime of the postmaster, of its live children and of its reaped ones, from /proc"
	}
	return "utime+stime of this run's live backends only, from /proc: the server is shared, and a backend that exited is missed"
}

func fmtLevels(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}
