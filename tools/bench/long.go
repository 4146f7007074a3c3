package main

// The memory run (-long N, issue 21: "server memory ≤ 256 MiB through a million
// issuances"): N factory issuances to one Hallmark server at the highest -clients count,
// with the server's resident memory sampled from /proc and its Go heap from its /metrics.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// longLotSize is the most devices the memory run puts in one lot, so that no lot is larger
// than a factory's would be and the lot pages stay in their usual range.
const longLotSize = 100_000

// longMaxFailures stops the memory run once this many issuances failed: the server is not
// serving and the memory figures would mean nothing.
const longMaxFailures = 1000

// longSample is one reading of the server during the memory run.
type longSample struct {
	at       time.Duration // since the timer started
	issued   int64
	rss, hwm int64         // VmRSS and VmHWM, bytes
	cpu      time.Duration // server utime+stime since the timer started
	heap     goHeap
	load1    float64
}

// goHeap is what the server's /metrics says of its Go heap (zero when it could not be read).
type goHeap struct {
	inuse, alloc, sys, released float64 // bytes: go_memstats_heap_inuse_bytes, _heap_alloc_bytes, _sys_bytes, _heap_released_bytes
	gcs                         float64 // go_gc_duration_seconds_count
	ok                          bool
}

// runLong starts Hallmark alone, issues o.long factory certificates from the highest
// -clients count of clients, prints a progress line every o.longEvery and then a markdown
// table of the server's memory at 10%, 50% and 100% of the run and its peak.
func runLong(ctx context.Context, o options, stdout, stderr io.Writer) (err error) {
	ctx, cancel := context.WithTimeout(ctx, o.deadline)
	defer cancel()
	info := runInfo{started: time.Now()}
	info.readMachine()
	repo := o.repo
	if repo == "" {
		if repo, err = findRepo("."); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "hallmark-bench-long-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			fmt.Fprintf(stderr, "server's data and log kept in %s\n", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()
	fmt.Fprintf(stderr, "building hallmark from %s\n", repo)
	bin, commit, err := buildHallmark(ctx, repo, tmp)
	if err != nil {
		return err
	}
	h, err := startHallmark(ctx, bin, tmp, profileArgs(o.profile, "hallmark-long", bin)...)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			h.proc.stop()
		}
	}()
	metricsURL, err := devMetricsURL(filepath.Join(tmp, "hallmark-data", "dev.json"))
	if err != nil {
		fmt.Fprintf(stderr, "no Go heap figures: %v\n", err)
	}
	clients := slices.Max(o.clients)
	lots, err := h.longLots(ctx, o.long)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "issuing %d factory certificates into %d lots from %d clients; a line every %s\n", o.long, len(lots), clients, o.longEvery)

	pid := h.pid()
	cpu0, err := processCPU(pid)
	if err != nil {
		return err
	}
	loadStart := loadAvg()
	// The readings after the run still happen when it was interrupted (SIGINT): the table
	// then covers what was issued.
	measure := context.WithoutCancel(ctx)
	sample := func(issued int64, at time.Duration) longSample {
		s := longSample{at: at, issued: issued, load1: loadAvg1()}
		s.rss, _ = procStatusBytes(pid, "VmRSS")
		s.hwm, _ = procStatusBytes(pid, "VmHWM")
		if c, err := processCPU(pid); err == nil {
			s.cpu = c - cpu0
		}
		if metricsURL != "" {
			s.heap = readGoHeap(measure, h.idle, metricsURL)
		}
		return s
	}
	var (
		next, issued, failed atomic.Int64
		mu                   sync.Mutex
		firstErr             string
		wg                   sync.WaitGroup
	)
	issue := h.longIssue(lots)
	start := time.Now()
	samples := []longSample{sample(0, 0)}
	work, stopWork := context.WithCancel(ctx)
	defer stopWork()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(o.long) || work.Err() != nil {
					return
				}
				if err := issue(work, int(i)); err != nil {
					if work.Err() != nil {
						return // interrupted (or stopped): not a failure of the server
					}
					mu.Lock()
					if firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
					if failed.Add(1) >= longMaxFailures {
						stopWork()
					}
					continue
				}
				issued.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(o.longEvery)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			prev := samples[len(samples)-1]
			s := sample(issued.Load(), time.Since(start))
			samples = append(samples, s)
			fmt.Fprintln(stderr, longProgress(prev, s, o.long, failed.Load()))
			if o.profile != "" && metricsURL != "" && prev.issued*10 < int64(o.long) && s.issued*10 >= int64(o.long) {
				if err := saveLiveHeap(ctx, metricsURL, filepath.Join(o.profile, "hallmark-long-10pct.heap")); err != nil {
					fmt.Fprintf(stderr, "heap profile at 10%%: %v\n", err)
				}
			}
		}
	}
	end := sample(issued.Load(), time.Since(start))
	samples = append(samples, end)
	fmt.Fprintln(stderr, longProgress(samples[len(samples)-2], end, o.long, failed.Load()))
	loadEnd := loadAvg()
	if o.profile != "" && metricsURL != "" {
		if err := saveLiveHeap(measure, metricsURL, filepath.Join(o.profile, "hallmark-long-end.heap")); err != nil {
			fmt.Fprintf(stderr, "heap profile at the end: %v\n", err)
		}
	}
	dbBytes := dirBytes(filepath.Join(tmp, "hallmark-data"), "hallmark.db")
	h.idle.CloseIdleConnections()
	h.proc.stop() // a clean stop, so that --memprofile writes the heap profile
	stopped = true

	fmt.Fprintf(stdout, "# Hallmark memory through %d factory issuances (of %d asked)\n\n", end.issued, o.long)
	fmt.Fprintf(stdout, "%s UTC, %s elapsed. CPU: %s, %d logical CPUs; %s; Linux %s; %s. Hallmark %s. Load average %s at the start, %s at the end. "+
		"%d clients over HTTPS keep-alive, lots of at most %d devices.\n\n",
		info.started.UTC().Format("2006-01-02 15:04"), end.at.Round(time.Second), info.cpuModel, info.cpus, info.memory, info.kernel, goVersion(), commit,
		loadStart, loadEnd, clients, longLotSize)
	writeLongTable(stdout, samples, end.issued)
	fmt.Fprintf(stdout, "\nIssued %d, failed %d. Server CPU %.2f ms per certificate over the run. SQLite database with its WAL at the end: %s.\n",
		end.issued, failed.Load(), cpuPerCertMS(end), fmtMiB(dbBytes))
	if firstErr != "" {
		fmt.Fprintf(stdout, "First failure: %s\n", cell(firstErr))
	}
	if o.profile != "" {
		bin, p := filepath.Join(o.profile, "hallmark-long.bin"), func(n string) string { return filepath.Join(o.profile, "hallmark-long"+n+".heap") }
		fmt.Fprintf(stdout, "Heap profiles of the running server in %s: hallmark-long-10pct.heap and hallmark-long-end.heap (what is live after a collection); "+
			"what grew between them: go tool pprof -sample_index=inuse_space -top -base %s %s %s. Allocations over the whole run, at the stop: %s.\n",
			o.profile, p("-10pct"), bin, p("-end"), p(""))
	}
	if failed.Load() >= longMaxFailures {
		return fmt.Errorf("stopped after %d failed issuances; first: %s", failed.Load(), firstErr)
	}
	return ctx.Err()
}

// longLot is one lot of the memory run.
type longLot struct{ id, name string }

// longLots creates the lots for n devices, each of at most longLotSize, delegated to the
// contract manufacturer as the other scenarios' lots are.
func (h *hallmark) longLots(ctx context.Context, n int) ([]longLot, error) {
	c := keepAliveClient(h.roots, 1)
	defer c.CloseIdleConnections()
	stamp := time.Now().UTC().Format("20060102-150405")
	var lots []longLot
	for i := 0; i*longLotSize < n; i++ {
		var lot struct {
			ID string `json:"id"`
		}
		name := fmt.Sprintf("long-%s-%02d", stamp, i)
		req := map[string]string{"model_id": h.modelID, "name": name, "line": "line-bench", "issuing_ca_id": h.issuerID, "delegate_to": "fabrikam"}
		if _, err := h.api(ctx, c, hmManufacturer, "POST", "/v1/lots", req, 201, &lot); err != nil {
			return nil, fmt.Errorf("creating lot %d: %w", i, err)
		}
		lots = append(lots, longLot{lot.ID, name})
	}
	return lots, nil
}

// longIssue is one factory issuance of the memory run: device i of lot i/longLotSize, with a
// key and CSR made for it (a million devices' CSRs are not held in memory at once).
func (h *hallmark) longIssue(lots []longLot) func(ctx context.Context, i int) error {
	c := keepAliveClient(h.roots, 1024)
	h.idle = c
	hdr := http.Header{"Authorization": {"Bearer " + h.tokens[hmFactory]}, "Content-Type": {"application/json"}, "Accept": {"application/json"}}
	built := time.Now().UTC().Format(time.RFC3339)
	return func(ctx context.Context, i int) error {
		lot := i / longLotSize
		it, err := newCSR(fmt.Sprintf("LONG-%07d", i))
		if err != nil {
			return err
		}
		rec := map[string]any{"manufacturer": "acme", "model": "sensor-x", "hardwareRevision": "B", "serial": it.serial, "lot": lots[lot].name,
			"line": "line-bench", "firmwareDigest": map[string]string{"sha256": hmFirmware}, "testResult": "pass", "builtAt": built}
		body, err := json.Marshal(map[string]any{"csr": it.pem, "build_record": rec})
		if err != nil {
			return err
		}
		u := h.info.APIURL + "/v1/lots/" + url.PathEscape(lots[lot].id) + "/devices"
		_, res, b, err := deferrable(ctx, func() (*http.Response, []byte, error) { return send(ctx, c, "POST", u, body, hdr) })
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusCreated {
			return statusError("factory issuance", res, b)
		}
		if !strings.Contains(string(b), "BEGIN CERTIFICATE") {
			return errors.New("factory issuance: the answer holds no certificate")
		}
		return nil
	}
}

// longProgress is one progress line: issued so far, the rate since the previous sample, the
// server's RSS, peak RSS and Go heap.
func longProgress(prev, s longSample, n int, failed int64) string {
	rate := 0.0
	if d := (s.at - prev.at).Seconds(); d > 0 {
		rate = float64(s.issued-prev.issued) / d
	}
	line := fmt.Sprintf("%8s  issued %8d / %d (%5.1f%%)  failed %d  %7.1f/s  RSS %s  peak %s",
		s.at.Round(time.Second), s.issued, n, 100*float64(s.issued)/float64(n), failed, rate, fmtMiB(s.rss), fmtMiB(s.hwm))
	if s.heap.ok {
		line += fmt.Sprintf("  heap in use %s  GCs %.0f", fmtMiB(int64(s.heap.inuse)), s.heap.gcs)
	}
	return line + fmt.Sprintf("  load %.2f", s.load1)
}

// writeLongTable writes the server's memory at the first samples past 10% and 50% of n (the
// certificates issued in the whole run, fewer than -long if it was interrupted), at the end,
// and its peak.
func writeLongTable(w io.Writer, samples []longSample, n int64) {
	fmt.Fprintln(w, "| point | issued | elapsed | VmRSS | VmHWM (peak so far) | Go heap in use | Go heap allocated | Go sys | GCs | server CPU-ms/cert | load |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	row := func(name string, s longSample) {
		heap := []string{"—", "—", "—", "—"}
		if s.heap.ok {
			heap = []string{fmtMiB(int64(s.heap.inuse)), fmtMiB(int64(s.heap.alloc)), fmtMiB(int64(s.heap.sys)), fmt.Sprintf("%.0f", s.heap.gcs)}
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n", name, s.issued, s.at.Round(time.Second),
			fmtMiB(s.rss), fmtMiB(s.hwm), heap[0], heap[1], heap[2], heap[3], cpuPerCertMS(s), s.load1)
	}
	row("start", samples[0])
	for _, p := range []int64{10, 50} {
		for _, s := range samples {
			if s.issued*100 >= p*n {
				row(fmt.Sprintf("%d%%", p), s)
				break
			}
		}
	}
	last := samples[len(samples)-1]
	row("end", last)
	peak := samples[0]
	for _, s := range samples {
		if s.rss > peak.rss {
			peak = s
		}
	}
	row("highest VmRSS sampled", peak)
}

// cpuPerCertMS is the server's CPU milliseconds per certificate up to sample s.
func cpuPerCertMS(s longSample) float64 {
	if s.issued == 0 {
		return 0
	}
	return float64(s.cpu.Microseconds()) / 1000 / float64(s.issued)
}

// saveLiveHeap writes the running server's heap profile, taken after a collection, from the
// pprof handlers the dev server serves beside its metrics, to path.
func saveLiveHeap(ctx context.Context, metricsURL, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := strings.TrimSuffix(metricsURL, "/metrics") + "/debug/pprof/heap?gc=1"
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return os.WriteFile(path, b, 0o644)
}

// devMetricsURL reads the metrics URL the dev server wrote to dev.json.
func devMetricsURL(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var d struct {
		MetricsURL string `json:"metrics_url"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if d.MetricsURL == "" {
		return "", fmt.Errorf("%s names no metrics_url", path)
	}
	return d.MetricsURL, nil
}

// readGoHeap scrapes the Go runtime's heap figures from a Prometheus text exposition.
func readGoHeap(ctx context.Context, c *http.Client, u string) goHeap {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, body, err := send(ctx, c, "GET", u, nil, nil)
	if err != nil || res.StatusCode != http.StatusOK {
		return goHeap{}
	}
	return parseGoHeap(string(body))
}

// parseGoHeap reads the Go collector's heap metrics from the text exposition format.
func parseGoHeap(text string) goHeap {
	var g goHeap
	fields := map[string]*float64{
		"go_memstats_heap_inuse_bytes":    &g.inuse,
		"go_memstats_heap_alloc_bytes":    &g.alloc,
		"go_memstats_sys_bytes":           &g.sys,
		"go_memstats_heap_released_bytes": &g.released,
		"go_gc_duration_seconds_count":    &g.gcs,
	}
	seen := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if p := fields[name]; p != nil {
			if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
				*p = v
				seen++
			}
		}
	}
	g.ok = seen == len(fields)
	return g
}

// dirBytes is the total size of the files in dir whose names start with prefix (a SQLite
// database with its -wal and -shm files).
func dirBytes(dir, prefix string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}
