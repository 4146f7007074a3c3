package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// scenario is one of the three workloads every server is measured on.
type scenario int

const (
	// factory: one certificate per CSR over HTTPS keep-alive connections (a factory line's
	// issuing station). Hallmark: POST /v1/lots/{id}/devices; step-ca: /1.0/sign; cfssl:
	// /api/v1/cfssl/sign.
	factory scenario = iota
	// enroll: a device's first operational certificate over a new TLS connection per device.
	// Hallmark: EST simpleenroll with the factory certificate as the TLS client certificate;
	// the peers: their sign endpoint over a new connection.
	enroll
	// renew: a device renews over a new mTLS connection with its current certificate.
	// Hallmark: EST simplereenroll with a new CSR; step-ca: /1.0/renew; cfssl has no renewal.
	renew
)

var scenarios = []scenario{factory, enroll, renew}

func (s scenario) String() string {
	return [...]string{"factory issuance", "enrollment, new TLS connection per device", "renewal, new mTLS connection per device"}[s]
}

// errUnsupported is what a server's prepare returns for a scenario it has no endpoint for.
var errUnsupported = errors.New("not supported by this server")

// csrItem is one device's request: a fresh P-256 key and its CSR, CN = serial. Every server
// gets the same items.
type csrItem struct {
	serial string
	key    *ecdsa.PrivateKey
	der    []byte
	pem    string
}

// slot is one (round, client count) cell of the run: the CSRs each scenario sends, the same
// for every server. Device i of a slot uses factory[i], enroll[i] and renew[i], in that order.
type slot struct {
	round, clients int
	csrs           [3][]*csrItem // by scenario
}

// name is a slug unique in the run, used for Hallmark's lot name.
func (s *slot) name() string { return fmt.Sprintf("bench-r%d-c%d", s.round, s.clients) }

// newSlot generates n CSRs per scenario; it runs before any timer.
func newSlot(round, clients, n int) (*slot, error) {
	s := &slot{round: round, clients: clients}
	for _, sc := range scenarios {
		s.csrs[sc] = make([]*csrItem, n)
		for i := range n {
			it, err := newCSR(fmt.Sprintf("%s-%06d", s.name(), i))
			if err != nil {
				return nil, fmt.Errorf("generating CSR %d of %s: %w", i, s.name(), err)
			}
			s.csrs[sc][i] = it
		}
	}
	return s, nil
}

func newCSR(serial string) (*csrItem, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: serial}}, k)
	if err != nil {
		return nil, err
	}
	return &csrItem{serial: serial, key: k, der: der, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))}, nil
}

// op performs request i of a cell. It returns whether the server deferred it (503, 429 or
// 202: "come back later") before it succeeded or failed.
type op func(ctx context.Context, i int) (deferred int, err error)

// result is one server's figures for one scenario in one slot.
type result struct {
	server      string
	sc          scenario
	round       int
	clients     int
	position    int // the server's place in this round's order, from 1
	unsupported bool
	ok, failed  int
	deferred    int
	elapsed     time.Duration
	cpu         time.Duration // server user+system CPU during the cell
	peakRSS     int64         // bytes: VmHWM after resetting it at the start of the cell
	peakReset   bool          // whether the reset worked (else VmHWM is the process's lifetime peak)
	lat         []time.Duration
	load1       float64 // 1-minute load average when the cell started
	firstErr    string
}

// rate is successful requests per second.
func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// cpuPerCert is the server's CPU milliseconds per certificate issued.
func (r *result) cpuPerCert() float64 {
	if r.ok == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / 1000 / float64(r.ok)
}

// percentile is the nearest-rank percentile (q in (0, 1]) of the successful requests'
// latencies, which must be sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// runCell runs n requests of one scenario against one server from `clients` workers that
// take the next request as soon as they finish one (a closed loop), and reads the server's
// CPU time and peak RSS around it. The server's untimed preparation (tokens, lots, custody)
// happens before the clock and the CPU counter start.
func runCell(ctx context.Context, s server, sc scenario, sl *slot, n int) result {
	res := result{server: s.name(), sc: sc, round: sl.round, clients: sl.clients, load1: loadAvg1()}
	do, err := s.prepare(ctx, sc, sl, n)
	if errors.Is(err, errUnsupported) {
		res.unsupported = true
		return res
	}
	if err != nil {
		res.failed, res.firstErr = n, fmt.Sprintf("preparing: %v", err)
		return res
	}
	pid := s.pid()
	res.peakReset = resetPeakRSS(pid) == nil
	cpu0, err := processCPU(pid)
	if err != nil {
		res.failed, res.firstErr = n, err.Error()
		return res
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	res.lat = make([]time.Duration, 0, n)
	hooks, _ := s.(cellHooks) // a server of several processes measures them all (postgres.go)
	if hooks != nil {
		hooks.begin()
	}
	start := time.Now()
	for range min(sl.clients, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				d, err := do(ctx, i)
				lat := time.Since(t)
				mu.Lock()
				res.deferred += d
				if err != nil {
					res.failed++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
				} else {
					res.ok++
					res.lat = append(res.lat, lat)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if cpu1, err := processCPU(pid); err == nil {
		res.cpu = cpu1 - cpu0
	}
	res.peakRSS, _ = procStatusBytes(pid, "VmHWM")
	if hooks != nil {
		hooks.end(&res)
	}
	slices.Sort(res.lat)
	return res
}

// deferrable sends one request with send, and while the server answers "come back later"
// (202, 429 or 503) waits and asks again, at most maxDeferrals times. The wait is the
// server's Retry-After capped at maxDeferWait (a device would wait the full time; a benchmark
// cell must end), with up to a tenth of jitter. It returns how many times it was deferred.
func deferrable(ctx context.Context, send func() (*http.Response, []byte, error)) (int, *http.Response, []byte, error) {
	for d := 0; ; d++ {
		res, body, err := send()
		if err != nil {
			return d, nil, nil, err
		}
		if !deferral(res.StatusCode) || d == maxDeferrals {
			return d, res, body, nil
		}
		wait := maxDeferWait
		if s, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After"))); err == nil && s >= 0 {
			wait = min(time.Duration(s)*time.Second, maxDeferWait)
		}
		wait += time.Duration(mrand.Int64N(int64(wait/10) + 1))
		select {
		case <-ctx.Done():
			return d + 1, nil, nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// The bounds of deferrable.
const (
	maxDeferrals = 3
	maxDeferWait = 2 * time.Second
)

func deferral(status int) bool {
	return status == http.StatusAccepted || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// processCPU is the user+system CPU time of pid from /proc/PID/stat (fields 14 and 15, in
// USER_HZ ticks, which Linux fixes at 100 per second for user space).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the server's CPU time: %w", err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime+stime from the text of /proc/PID/stat. The command name (field 2)
// is in parentheses and may hold spaces or parentheses, so fields are counted after its last
// closing parenthesis: state is then field 0, utime field 11 and stime field 12.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc/PID/stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/PID/stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("/proc/PID/stat: CPU field %q", s)
		}
		ticks += v
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

// procStatusBytes reads a "kB" field of /proc/PID/status (VmHWM, VmRSS) in bytes.
func procStatusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusField(string(b), field)
}

// parseStatusField finds "FIELD:   N kB" in the text of /proc/PID/status.
func parseStatusField(status, field string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc/PID/status: %s is %q", field, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("/proc/PID/status: %s is %q", field, f[0])
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/PID/status: no %s", field)
}

// resetPeakRSS sets the process's VmHWM back to its current RSS (writing 5 to
// /proc/PID/clear_refs, Linux 4.0 and later), so the next VmHWM is the peak of one cell.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// loadAvg1 is the 1-minute load average, or -1 when unknown.
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
