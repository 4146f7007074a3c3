// Command bench runs Hallmark beside its peers, step-ca v0.30.2 and cfssl v1.6.5, in one run
// on one machine, and prints a markdown report (BENCHMARKS.md, issue 21).
//
//	cd tools/bench && go run . -rounds 3 -clients 4,16,64 -out results.md
//	cd tools/bench && go run . -quick          # a smoke run: 1 round, 4 clients, 20 requests
//
// It builds cmd/hallmark from this repository into a temporary folder and starts
// `hallmark serve --dev` there (SQLite with WAL and synchronous=FULL, group commit, the audit
// Merkle tree and pre-issuance zlint: the defaults). It installs the peers with
// `CGO_ENABLED=0 GOBIN=DIR go install ...@version` into a cache folder outside the
// repository (-peers), so neither they nor their dependencies enter any go.mod, and sets them
// up as their guides do: step-ca standalone with a JWK provisioner, cfssl serve with an ECDSA
// P-256 CA, both over TLS on loopback.
//
// The same P-256 CSRs go to every server for each of three scenarios: factory issuance over
// HTTPS keep-alive, enrollment with a new TLS connection per device, and renewal with a new
// mTLS connection per device (cfssl has no renewal endpoint). Each (round, client count) is
// a slot with its own CSRs; within it every server runs each scenario once, n requests from
// a closed loop of that many clients, and the servers' order rotates from round to round.
// Per cell it records requests per second, p50 and p99 latency, the server's CPU time per
// certificate (utime+stime from /proc/PID/stat) and its peak RSS (VmHWM from
// /proc/PID/status, reset at the start of each cell). Client and servers share the machine,
// so a busy machine lowers every rate; CPU per certificate is each server's own. Per server
// it also records the CPU from the first timed cell to the last over the certificates it
// issued ("Whole run"): the per-cell figures leave out what a server does while the others
// are measured, such as Hallmark's report snapshots (BENCHMARKS.md, issue 21's fifth round).
//
// With -servers ...,floor it also runs tools/floor, built from the same checkout: the same
// three scenarios doing only the work Hallmark's guarantees require, with Hallmark's code for
// it (BENCHMARKS.md, issue 21's tenth round).
//
// With -postgres (auto: a private cluster made with initdb; or a server's URL) it also runs
// hallmark-pg: -replicas `hallmark serve --config` processes on one fresh database, the
// requests round-robin over them (replicas.go, postgres.go).
//
// Linux only (it reads /proc). Every server listens on 127.0.0.1 only and every loop is
// bounded by a request count and -deadline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	rounds   int
	clients  []int
	requests int // per server, scenario and slot
	warmup   int // requests per server and scenario before the first round, not reported
	out      string
	quick    bool
	repo     string
	peers    string
	keep     bool
	deadline time.Duration
	servers  []string
	baseline string // a second Hallmark checkout, run as server hallmark-base
	profile  string // folder for the Hallmark servers' CPU profiles
	postgres string // "auto" or a server URL: also run hallmark-pg, replicas on PostgreSQL (postgres.go)
	replicas int
	// The memory run (long.go).
	long      int
	longEvery time.Duration
}

var allServers = []string{"hallmark", "step-ca", "cfssl", "floor"}

// defaultServers are those a run without -servers compares: Hallmark and the peers.
var defaultServers = []string{"hallmark", "step-ca", "cfssl"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if _, err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// profileArgs are the serve flags that make Hallmark server name write its CPU profile into
// dir (none when dir is ""), after copying its binary bin there for pprof.
func profileArgs(dir, name, bin string) []string {
	if dir == "" {
		return nil
	}
	if b, err := os.ReadFile(bin); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".bin"), b, 0o755)
	}
	args := []string{"--cpuprofile", filepath.Join(dir, name+".cpu")}
	if serveHas(bin, "--memprofile") {
		args = append(args, "--memprofile", filepath.Join(dir, name+".heap"))
	}
	return args
}

// serveHas reports whether bin's serve command documents flag. A -baseline checkout from
// before --memprofile existed gets only a CPU profile instead of failing to start. A binary
// that cannot be run is assumed to have it (the start then reports the real error).
func serveHas(bin, flag string) bool {
	out, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil && len(out) == 0 {
		return true
	}
	return strings.Contains(string(out), flag)
}

// parseFlags reads and checks the flags; -quick overrides rounds, clients and requests.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clients := fs.String("clients", "4,16,64", "client counts, comma-separated: each is a closed loop of that many concurrent clients")
	servers := fs.String("servers", strings.Join(defaultServers, ","), "servers to run, comma-separated (hallmark, step-ca, cfssl, floor); floor is tools/floor, issuance with only the guarantees' work (not run by default)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; the servers' order rotates each round")
	fs.IntVar(&o.requests, "n", 1000, "requests per server, scenario, round and client count")
	fs.IntVar(&o.warmup, "warmup", 100, "requests per server and scenario at the highest client count before the first round (not reported; 0 for none)")
	fs.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: 1 round, 4 clients, 20 requests (figures not fit to quote)")
	fs.StringVar(&o.repo, "repo", "", "the Hallmark repository to build (default: found above the current folder)")
	fs.StringVar(&o.profile, "profile", "", "have each Hallmark server write a CPU profile of its whole run to this folder (NAME.cpu; `go tool pprof -top BINARY FILE`) and a heap profile at its stop (NAME.heap); the binaries are kept beside them")
	fs.IntVar(&o.long, "long", 0, "instead of the comparison: the memory run, N factory issuances to Hallmark alone from the highest -clients count, sampling its RSS and Go heap (long.go)")
	fs.DurationVar(&o.longEvery, "long-every", 5*time.Second, "with -long: the interval between samples and progress lines")
	fs.StringVar(&o.baseline, "baseline", "", "also build the Hallmark checkout in this folder and run it as server hallmark-base, beside the others (before/after in one run)")
	fs.StringVar(&o.peers, "peers", defaultPeerDir(), "folder the peers are installed into and reused from")
	fs.StringVar(&o.postgres, "postgres", "", "also run server hallmark-pg: -replicas `hallmark serve` processes on one fresh PostgreSQL database, made in this server (a URL) or in a private cluster started with initdb (auto)")
	fs.IntVar(&o.replicas, "replicas", 3, "with -postgres: how many replicas; the clients' requests go to them round-robin")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder (servers' data and logs)")
	fs.DurationVar(&o.deadline, "deadline", 2*time.Hour, "stop the whole run after this long")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, s := range strings.Split(*clients, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 || c > 1024 {
			return o, fmt.Errorf("-clients: %q is not a count from 1 to 1024", s)
		}
		if !slices.Contains(o.clients, c) {
			o.clients = append(o.clients, c)
		}
	}
	for _, s := range strings.Split(*servers, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(allServers, s) {
			return o, fmt.Errorf("-servers: unknown server %q (have %s)", s, strings.Join(allServers, ", "))
		}
		if !slices.Contains(o.servers, s) {
			o.servers = append(o.servers, s)
		}
	}
	if o.quick {
		o.rounds, o.clients, o.requests, o.warmup = 1, []int{4}, 20, 10
	}
	switch {
	case o.rounds < 1 || o.rounds > 20:
		return o, errors.New("-rounds must be 1 to 20")
	case o.requests < 1 || o.requests > 100000:
		return o, errors.New("-n must be 1 to 100000")
	case o.warmup < 0 || o.warmup > 100000:
		return o, errors.New("-warmup must be 0 to 100000")
	case o.replicas < 1 || o.replicas > 16:
		return o, errors.New("-replicas must be 1 to 16")
	case o.deadline <= 0:
		return o, errors.New("-deadline must be positive")
	case o.long < 0 || o.long > 100_000_000 || o.longEvery < 100*time.Millisecond:
		return o, errors.New("-long must be 0 to 100000000 and -long-every at least 100ms")
	}
	return o, nil
}

// run does the whole benchmark, writes the report to stdout (and -out) and returns the
// measured cells; progress goes to stderr. The temporary folder is removed unless -keep, or
// the run failed (its logs help).
func run(ctx context.Context, o options, stdout, stderr io.Writer) (results []result, err error) {
	if o.profile != "" {
		// Each server opens its CPU profile in this folder as it starts; without the folder
		// the first start fails.
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return nil, fmt.Errorf("-profile: %w", err)
		}
	}
	if o.long > 0 {
		return nil, runLong(ctx, o, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(ctx, o.deadline)
	defer cancel()
	info := runInfo{started: time.Now(), rounds: o.rounds, clients: o.clients, requests: o.requests, warmup: o.warmup, quick: o.quick}
	info.readMachine()
	repo := o.repo
	if repo == "" {
		if repo, err = findRepo("."); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "hallmark-bench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.keep || err != nil {
			fmt.Fprintf(stderr, "servers' data and logs kept in %s\n", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()

	fmt.Fprintf(stderr, "building hallmark from %s\n", repo)
	bin, commit, err := buildHallmark(ctx, repo, tmp)
	if err != nil {
		return nil, err
	}
	info.commit = commit
	var baseBin string
	if o.baseline != "" {
		baseDir := filepath.Join(tmp, "base")
		if err := os.MkdirAll(baseDir, 0o755); err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "building the baseline hallmark from %s\n", o.baseline)
		if baseBin, info.baseCommit, err = buildHallmark(ctx, o.baseline, baseDir); err != nil {
			return nil, err
		}
		o.servers = append(o.servers, "hallmark-base")
	}
	if slices.Contains(o.servers, "step-ca") || slices.Contains(o.servers, "cfssl") {
		if err := installPeers(ctx, o.peers, stderr); err != nil {
			return nil, err
		}
	}

	t0 := time.Now()
	slots := make([][]*slot, o.rounds)
	for r := range slots {
		for _, c := range o.clients {
			sl, err := newSlot(r+1, c, o.requests)
			if err != nil {
				return nil, err
			}
			slots[r] = append(slots[r], sl)
		}
	}
	fmt.Fprintf(stderr, "generated %d P-256 CSRs in %s\n", o.rounds*len(o.clients)*len(scenarios)*o.requests, time.Since(t0).Round(time.Millisecond))

	var servers []server
	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	for _, name := range o.servers {
		fmt.Fprintf(stderr, "starting %s\n", name)
		var s server
		switch name {
		case "hallmark":
			h, err := startHallmark(ctx, bin, tmp, profileArgs(o.profile, "hallmark", bin)...)
			if err != nil {
				return nil, err
			}
			s, stops = h, append(stops, h.proc.stop)
		case "hallmark-base":
			h, err := startHallmark(ctx, baseBin, filepath.Dir(baseBin), profileArgs(o.profile, "hallmark-base", baseBin)...)
			if err != nil {
				return nil, err
			}
			h.label = "hallmark-base"
			s, stops = h, append(stops, h.proc.stop)
		case "step-ca":
			p, err := startStepCA(ctx, o.peers, tmp)
			if err != nil {
				return nil, err
			}
			s, stops = p, append(stops, p.proc.stop)
		case "cfssl":
			p, err := startCFSSL(ctx, o.peers, tmp)
			if err != nil {
				return nil, err
			}
			s, stops = p, append(stops, p.proc.stop)
		case "floor":
			fbin, err := buildFloor(ctx, repo, tmp)
			if err != nil {
				return nil, err
			}
			var extra []string
			if o.profile != "" {
				extra = []string{"-cpuprofile", filepath.Join(o.profile, "floor.cpu")}
				if b, err := os.ReadFile(fbin); err == nil {
					_ = os.WriteFile(filepath.Join(o.profile, "floor.bin"), b, 0o755)
				}
			}
			p, err := startFloor(ctx, fbin, tmp, extra...)
			if err != nil {
				return nil, err
			}
			s, stops = p, append(stops, p.proc.stop)
		}
		servers = append(servers, s)
	}
	if o.postgres != "" {
		fmt.Fprintf(stderr, "starting hallmark-pg: %d replicas on PostgreSQL (%s)\n", o.replicas, redactURL(o.postgres))
		pg, err := startReplicaSet(ctx, o, bin, tmp, stderr)
		if pg != nil {
			stops = append(stops, pg.stop)
		}
		if err != nil {
			return nil, err
		}
		servers, info.pg = append(servers, pg), pg
	}
	info.servers = servers
	info.loadStart = loadAvg()

	if o.warmup > 0 {
		wsl, err := newSlot(0, slices.Max(o.clients), o.warmup)
		if err != nil {
			return nil, err
		}
		for _, sc := range scenarios {
			for _, s := range servers {
				res := runCell(ctx, s, sc, wsl, o.warmup)
				fmt.Fprintln(stderr, "warm-up", progressLine(&res))
			}
		}
	}
	// Each server's CPU from the first timed cell to the last: what the per-cell figures leave
	// out is the work a server does while the others are measured (background work, such as
	// Hallmark's report snapshots, CRL builds and checkpoints). A replica set is left out: its
	// database is shared, and the per-cell figures already sum its processes.
	runCPU0 := map[string]time.Duration{}
	for _, s := range servers {
		if _, ok := s.(*replicaSet); ok {
			continue
		}
		if c, err := processCPU(s.pid()); err == nil {
			runCPU0[s.name()] = c
		}
	}
	for r := range o.rounds {
		order := rotate(servers, r)
		for _, sl := range slots[r] {
			for _, sc := range scenarios {
				for pos, s := range order {
					if err := ctx.Err(); err != nil {
						return nil, fmt.Errorf("stopped before round %d, %d clients, %s: %w", r+1, sl.clients, sc, err)
					}
					if err := alive(s); err != nil {
						return nil, err
					}
					res := runCell(ctx, s, sc, sl, o.requests)
					res.position = pos + 1
					results = append(results, res)
					fmt.Fprintln(stderr, progressLine(&res))
				}
			}
		}
	}
	info.loadEnd = loadAvg()
	info.wholeRun = map[string]wholeRunCPU{}
	for _, s := range servers {
		c0, ok := runCPU0[s.name()]
		if !ok {
			continue
		}
		c1, err := processCPU(s.pid())
		if err != nil {
			continue
		}
		w := wholeRunCPU{cpu: c1 - c0}
		for _, res := range results {
			if res.server == s.name() {
				w.certs += res.ok
			}
		}
		info.wholeRun[s.name()] = w
	}
	if info.pg != nil {
		info.pg.collect(ctx)
	}
	info.elapsed = time.Since(info.started)

	var report strings.Builder
	writeReport(&report, info, results)
	if _, err := io.WriteString(stdout, report.String()); err != nil {
		return nil, err
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report.String()), 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", o.out, err)
		}
	}
	return results, nil
}

// rotate is servers started at index r (mod len): round r's order.
func rotate(servers []server, r int) []server {
	if len(servers) == 0 {
		return nil
	}
	r %= len(servers)
	return append(slices.Clone(servers[r:]), servers[:r]...)
}

// alive fails when a server's process has exited.
func alive(s server) error {
	var p *process
	switch v := s.(type) {
	case *hallmark:
		p = v.proc
	case *stepCA:
		p = v.proc
	case *cfssl:
		p = v.proc
	case *floor:
		p = v.proc
	case *replicaSet:
		return v.alive()
	}
	if p == nil {
		return nil
	}
	return p.alive()
}

// progressLine is one cell's outcome on stderr.
func progressLine(r *result) string {
	if r.unsupported {
		return fmt.Sprintf("round %d  %3d clients  %-44s %-8s  not supported", r.round, r.clients, r.sc, r.server)
	}
	line := fmt.Sprintf("round %d  %3d clients  %-44s %-8s  %5d ok %4d failed  %8.1f req/s  p99 %8s  %6s CPU-ms/cert",
		r.round, r.clients, r.sc, r.server, r.ok, r.failed, r.rate(), fmtMS(percentile(r.lat, 0.99)), fmtCPU(r.cpuPerCert(), r.ok))
	if r.firstErr != "" {
		line += "  first error: " + r.firstErr
	}
	return line
}

// goVersion is the toolchain this harness (and so hallmark and the peers) was built with.
func goVersion() string { return runtime.Version() }
