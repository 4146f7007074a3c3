package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// runInfo is what the report's header says about the run and the machine.
type runInfo struct {
	started            time.Time
	elapsed            time.Duration
	cpuModel           string
	cpus               int
	kernel             string
	memory             string
	loadStart, loadEnd string
	commit             string
	baseCommit         string // of -baseline, when set
	rounds             int
	clients            []int
	requests           int
	warmup             int
	quick              bool
	servers            []server
	pg                 *replicaSet // -postgres, else nil
	// wholeRun is each single-process server's CPU over the timed rounds and the certificates
	// it issued in them.
	wholeRun map[string]wholeRunCPU
}

// wholeRunCPU is a server's CPU from the first timed cell to the last, and its certificates.
type wholeRunCPU struct {
	cpu   time.Duration
	certs int
}

// writeWholeRun writes the whole-run CPU per certificate of each server, with Hallmark's
// ratio to each of the others.
func writeWholeRun(w io.Writer, info runInfo) {
	if len(info.wholeRun) == 0 {
		return
	}
	fmt.Fprintf(w, "\n## Whole run\n\nEach server's CPU (utime+stime, /proc) from the first timed cell to the last, ÷ the certificates it issued in its cells. The per-cell figures count a server's CPU only during its own cells; this one also counts what it did while the other servers were measured: background work (Hallmark's report snapshots, CRL builds and checkpoints, and any peer's). A replica set is left out (its database is shared).\n\n")
	fmt.Fprintln(w, "| server | CPU | certificates | CPU-ms/cert, whole run | hallmark ÷ server |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- |")
	per := func(x wholeRunCPU) float64 {
		if x.certs == 0 {
			return 0
		}
		return float64(x.cpu.Microseconds()) / 1000 / float64(x.certs)
	}
	h, hok := info.wholeRun["hallmark"]
	for _, s := range info.servers {
		x, ok := info.wholeRun[s.name()]
		if !ok {
			continue
		}
		ratio := ""
		if hok && s.name() != "hallmark" && per(x) > 0 {
			ratio = fmt.Sprintf("%.2f×", per(h)/per(x))
		}
		fmt.Fprintf(w, "| %s | %.2f s | %d | %.2f | %s |\n", s.name(), x.cpu.Seconds(), x.certs, per(x), ratio)
	}
}

// readMachine fills in the CPU model and count (/proc/cpuinfo), kernel and memory.
func (i *runInfo) readMachine() {
	i.cpuModel, i.cpus = cpuModel(readFile("/proc/cpuinfo"))
	i.kernel = strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))
	if b, err := parseStatusField(readFile("/proc/meminfo"), "MemTotal"); err == nil {
		i.memory = fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// cpuModel reads the first "model name" of /proc/cpuinfo and counts the "processor" entries.
func cpuModel(cpuinfo string) (string, int) {
	model, n := "", 0
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			n++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	if model == "" {
		model = "unknown (/proc/cpuinfo has no model name)"
	}
	if n == 0 {
		n = runtime.NumCPU()
	}
	return model, n
}

// loadAvg is the 1, 5 and 15-minute load averages as /proc/loadavg gives them.
func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// summary is one server's figures for one scenario and client count over all rounds.
type summary struct {
	rate, cpu          float64       // medians
	p50, p99           time.Duration // medians of the rounds' percentiles
	peakRSS            int64         // the highest of the rounds
	ok, failed, defers int           // sums
	rounds             int
	unsupported        bool
}

// summarize groups results by (scenario, clients, server).
func summarize(results []result) map[[3]string]*summary {
	type acc struct {
		rate, cpu []float64
		p50, p99  []time.Duration
		s         summary
	}
	accs := map[[3]string]*acc{}
	for _, r := range results {
		k := key(r.sc, r.clients, r.server)
		a := accs[k]
		if a == nil {
			a = &acc{}
			accs[k] = a
		}
		if r.unsupported {
			a.s.unsupported = true
			continue
		}
		a.s.rounds++
		a.s.ok += r.ok
		a.s.failed += r.failed
		a.s.defers += r.deferred
		a.s.peakRSS = max(a.s.peakRSS, r.peakRSS)
		if r.ok == 0 {
			continue
		}
		a.rate = append(a.rate, r.rate())
		a.cpu = append(a.cpu, r.cpuPerCert())
		a.p50 = append(a.p50, percentile(r.lat, 0.50))
		a.p99 = append(a.p99, percentile(r.lat, 0.99))
	}
	out := map[[3]string]*summary{}
	for k, a := range accs {
		s := a.s
		s.rate, s.cpu = median(a.rate), median(a.cpu)
		s.p50, s.p99 = median(a.p50), median(a.p99)
		out[k] = &s
	}
	return out
}

func key(sc scenario, clients int, server string) [3]string {
	return [3]string{strconv.Itoa(int(sc)), strconv.Itoa(clients), server}
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median[T float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is a/b as "0.52×", or "—" when either is missing.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// fmtCPU formats CPU-ms per certificate. /proc counts CPU time in 10 ms ticks, so a cell in
// which the server used less than one shows as an upper bound: under 10 ms ÷ certificates.
func fmtCPU(perCert float64, certs int) string {
	switch {
	case perCert > 0:
		return fmt.Sprintf("%.2f", perCert)
	case certs > 0:
		return fmt.Sprintf("< %.2f", 10/float64(certs))
	}
	return "—"
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func fmtMiB(b int64) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// scenarioNotes says what each server does per request in a scenario.
var scenarioNotes = [3]string{
	"Hallmark: `POST /v1/lots/{id}/devices` as the contract manufacturer (CSR and build record checks, build-record signature, zlint, signature, " +
		"one SQLite transaction with the device, certificate, build record and audit event). step-ca: `POST /1.0/sign` with a one-time JWK token. " +
		"cfssl: `POST /api/v1/cfssl/sign`. Keep-alive HTTPS connections, one per client.",
	"Hallmark: EST `simpleenroll` with the device's factory certificate as the TLS client certificate (the lot was handed to the operator " +
		"beforehand, untimed). step-ca and cfssl: their sign request as in factory issuance. Every request opens a new TLS connection " +
		"(a full handshake, no session resumption).",
	"Hallmark: EST `simplereenroll` with the operational certificate from the enrollment cell and a new CSR. step-ca: `POST /1.0/renew` " +
		"authenticated by the same kind of certificate (it keeps the key; no CSR). cfssl has no renewal endpoint and is not measured. " +
		"Every request opens a new mTLS connection.",
}

// writeReport writes the markdown report: the run, each scenario's medians with Hallmark's
// ratios to each peer, and every cell.
func writeReport(w io.Writer, info runInfo, results []result) {
	sums := summarize(results)
	fmt.Fprintf(w, "# Hallmark beside step-ca %s and cfssl %s\n\n", stepVersion, cfsslVersion)
	if info.quick {
		fmt.Fprintf(w, "**Smoke run (`-quick`): %d requests per cell, one round. It shows that every server and scenario works; its figures are not fit to quote.**\n\n", info.requests)
	}
	fmt.Fprintf(w, "- Run: %s, %s; %d round(s) × clients %s × %d requests per server and scenario; servers' order rotated each round; "+
		"before the first round a warm-up of %d requests per server and scenario at %d clients, not reported.\n",
		info.started.UTC().Format("2006-01-02 15:04 UTC"), info.elapsed.Round(time.Second), info.rounds, joinInts(info.clients), info.requests,
		info.warmup, slices.Max(info.clients))
	fmt.Fprintf(w, "- Machine: %s, %d logical CPUs (/proc/cpuinfo), %s RAM, Linux %s, %s. Load average (1, 5, 15 min) %s at the start, %s at the end. "+
		"Client and servers share the machine.\n", info.cpuModel, info.cpus, info.memory, info.kernel, goVersion(), info.loadStart, info.loadEnd)
	for _, s := range info.servers {
		note := serverNote(s.name(), info.commit)
		if s.name() == "hallmark-base" {
			note = "the -baseline checkout, set up as hallmark: " + serverNote("hallmark", info.baseCommit)
		}
		if n, ok := s.(interface{ note(commit string) string }); ok {
			note = n.note(info.commit)
		}
		fmt.Fprintf(w, "- %s: %s TLS: %s.\n", s.name(), note, s.tlsInfo())
	}
	fmt.Fprintln(w, "- Figures: req/s = certificates issued ÷ wall time of the cell; p50 and p99 of the successful requests as the client saw them; "+
		"CPU-ms/cert = the server process's utime+stime (/proc/PID/stat, in 10 ms ticks: \"< x\" when a cell used less than one) during the cell ÷ certificates issued; peak RSS = VmHWM (/proc/PID/status), "+
		"reset at the start of each cell. Per scenario and client count: the median of the rounds (peak RSS: the highest). "+
		"The same P-256 CSRs (CN = a device serial) go to every server.")
	peers := []string{}
	for _, s := range info.servers {
		if s.name() != "hallmark" {
			peers = append(peers, s.name())
		}
	}
	for _, sc := range scenarios {
		fmt.Fprintf(w, "\n## %s\n\n%s\n\n", capitalize(sc.String()), scenarioNotes[sc])
		fmt.Fprintln(w, "| clients | server | req/s | p50 | p99 | CPU-ms/cert | peak RSS | ok | failed | deferred |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
		for _, c := range info.clients {
			for _, s := range info.servers {
				m := sums[key(sc, c, s.name())]
				if m == nil {
					continue
				}
				if m.unsupported {
					fmt.Fprintf(w, "| %d | %s | not supported | | | | | | | |\n", c, s.name())
					continue
				}
				fmt.Fprintf(w, "| %d | %s | %.1f | %s | %s | %s | %s | %d | %d | %d |\n", c, s.name(), m.rate, fmtMS(m.p50), fmtMS(m.p99),
					fmtCPU(m.cpu, m.ok/max(m.rounds, 1)), fmtMiB(m.peakRSS), m.ok, m.failed, m.defers)
			}
		}
		if len(peers) == 0 || sums[key(sc, info.clients[0], "hallmark")] == nil {
			continue
		}
		fmt.Fprintln(w, "\nHallmark ÷ peer, same run (req/s: above 1 is faster; p99, CPU-ms/cert and peak RSS: below 1 is better):")
		fmt.Fprintln(w, "\n| clients | peer | req/s | p99 | CPU-ms/cert | peak RSS |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
		for _, c := range info.clients {
			h := sums[key(sc, c, "hallmark")]
			for _, p := range peers {
				m := sums[key(sc, c, p)]
				if h == nil || m == nil {
					continue
				}
				if m.unsupported {
					fmt.Fprintf(w, "| %d | %s | no such endpoint | | | |\n", c, p)
					continue
				}
				fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s |\n", c, p, ratio(h.rate, m.rate), ratio(h.p99.Seconds(), m.p99.Seconds()),
					ratio(h.cpu, m.cpu), ratio(float64(h.peakRSS), float64(m.peakRSS)))
			}
		}
	}
	writeReplicaSection(w, info, results)
	writeWholeRun(w, info)
	fmt.Fprintln(w, "\n## Every cell")
	fmt.Fprintln(w, "\nIn run order. \"order\" is the server's place in its round; \"load\" the 1-minute load average as the cell started.")
	fmt.Fprintln(w, "\n| round | clients | scenario | order | server | req/s | p99 | CPU-ms/cert | peak RSS | ok | failed | deferred | load | first error |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range results {
		if r.unsupported {
			fmt.Fprintf(w, "| %d | %d | %s | %d | %s | not supported | | | | | | | | |\n", r.round, r.clients, shortName(r.sc), r.position, r.server)
			continue
		}
		rss := fmtMiB(r.peakRSS)
		if !r.peakReset {
			rss += " (lifetime)"
		}
		fmt.Fprintf(w, "| %d | %d | %s | %d | %s | %.1f | %s | %s | %s | %d | %d | %d | %.2f | %s |\n", r.round, r.clients, shortName(r.sc), r.position, r.server,
			r.rate(), fmtMS(percentile(r.lat, 0.99)), fmtCPU(r.cpuPerCert(), r.ok), rss, r.ok, r.failed, r.deferred, r.load1, cell(r.firstErr))
	}
}

// serverNote describes how a server was set up.
func serverNote(name, commit string) string {
	switch name {
	case "hallmark":
		return "commit " + commit + ", `hallmark serve --dev` in a fresh folder: SQLite (WAL, synchronous=FULL, group commit), " +
			"audit Merkle tree, zlint before every signature, P-256 CAs; default logging to a file."
	case "step-ca":
		return stepVersion + ", `go install`ed; `step ca init --deployment-type standalone` (P-256 root and intermediate, Badger v2 database " +
			"with synchronous writes, its default), one JWK provisioner, tokens minted before the timer; no pre-issuance linting; default logging to a file."
	case "cfssl":
		return cfsslVersion + ", `go install`ed; `cfssl serve` with a P-256 issuing CA under a P-256 root, 24 h signing profile, " +
			"no database and no linting (its defaults); default logging to a file."
	case "floor":
		return "`tools/floor` from commit " + commit + ": factory issuance, EST onboarding and renewal with only the work Hallmark's guarantees require, done by Hallmark's own code " +
			"(strict JSON, CSR proof of possession, DSSE build record signed and, on onboarding, verified, zlint before signing, TBS compared and signature verified after), " +
			"the presented certificate checked against the stored one, a record of intent and a completion with its audit leaf and Merkle nodes, group-committed on SQLite (WAL, synchronous=FULL); " +
			"no authorization, catalog, custody, policy, metrics or background work. An instrument, not a server to run."
	}
	return ""
}

func shortName(sc scenario) string { return [...]string{"factory", "enroll", "renew"}[sc] }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// cell makes text safe in a markdown table cell: one line, no pipes, at most 120 characters.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
