// Package simulate drives a fleet of virtual devices through a real Hallmark server: factory
// issuance over the REST API, custody to the operator, onboarding over EST (a new mTLS
// connection each) and renewals. It is the demo (`hallmark simulate --devices 1000` against
// `serve --dev`) and the load generator of BENCHMARKS.md. It talks to loopback servers only,
// and is bounded by a device count and a deadline.
package simulate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/agent"
	"github.com/hallmark-id/hallmark/internal/certpem"
)

// Config says what to simulate and against which server.
type Config struct {
	APIURL, ESTURL string
	CAPEM          []byte            // the servers' TLS CA
	Tokens         map[string]string // party/principal → token; needs the dev principals below
	Devices        int
	Concurrency    int
	Renewals       int           // renewals per device after onboarding
	Deadline       time.Duration // the whole run
	Progress       io.Writer     // progress bar; nil for none
	// ProgressLines writes plain progress lines to Progress (one every PlainProgressEvery and
	// one as each phase ends) instead of a bar redrawn with carriage returns: for a file or a
	// pipe, where a bar is noise.
	ProgressLines bool
	// RenewalConcurrency is how many devices renew at once (a renewal storm); 0 means
	// Concurrency.
	RenewalConcurrency int
	// ServerPID, when the server runs on this machine, lets each phase report the server's
	// CPU time per operation (from /proc/PID/stat).
	ServerPID int
	// DatabasePID, when a database server runs on this machine (PostgreSQL's postmaster), lets
	// each phase also report that server's CPU time per operation, its backends included: with
	// PostgreSQL, much of the work of an operation happens there, not in Hallmark's process.
	DatabasePID int
}

// The dev principals the simulation acts as.
const (
	Manufacturer = "acme/alice"
	Factory      = "fabrikam/station-1"
	Operator     = "contoso/oscar"
)

// Phase is one stage of the simulation with its latencies.
type Phase struct {
	Name    string        `json:"name"`
	OK      int           `json:"ok"`
	Failed  int           `json:"failed"`
	Elapsed time.Duration `json:"elapsed"`
	// Deferred counts answers that said "come back later" (503 or 202 with Retry-After);
	// the device waited as told and asked again, within the deadline.
	Deferred int `json:"deferred"`
	// ServerCPU is the server process's user+system CPU time during the phase (0 when unknown).
	ServerCPU time.Duration `json:"server_cpu"`
	// DatabaseCPU is the database server's CPU time during the phase (0 when unknown).
	DatabaseCPU time.Duration   `json:"database_cpu"`
	latencies   []time.Duration // of the successful operations
}

// ServerCPUPerOp is the server's CPU time per successful operation, in milliseconds.
func (p *Phase) ServerCPUPerOp() float64 { return perOp(p.ServerCPU, p.OK) }

// DatabaseCPUPerOp is the database server's CPU time per successful operation, in milliseconds.
func (p *Phase) DatabaseCPUPerOp() float64 { return perOp(p.DatabaseCPU, p.OK) }

func perOp(d time.Duration, ok int) float64 {
	if ok == 0 || d <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / 1000 / float64(ok)
}

// Rate is successful operations per second.
func (p *Phase) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.OK) / p.Elapsed.Seconds()
}

// Percentile of the successful operations' latency (q in [0, 1]).
func (p *Phase) Percentile(q float64) time.Duration {
	if len(p.latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(p.latencies)-1))
	return p.latencies[i]
}

// Summary is the outcome.
type Summary struct {
	Devices  int            `json:"devices"`
	Phases   []*Phase       `json:"phases"`
	Refusals map[string]int `json:"refusals"` // reason → count
	Elapsed  time.Duration  `json:"elapsed"`
}

// MarshalJSON adds the derived figures.
func (p *Phase) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return json.Marshal(map[string]any{"name": p.Name, "ok": p.OK, "failed": p.Failed, "deferred": p.Deferred, "elapsed_s": p.Elapsed.Seconds(), "rate_per_s": p.Rate(),
		"server_cpu_ms_per_op": p.ServerCPUPerOp(), "database_cpu_ms_per_op": p.DatabaseCPUPerOp(),
		"p50_ms": ms(p.Percentile(0.5)), "p90_ms": ms(p.Percentile(0.9)), "p99_ms": ms(p.Percentile(0.99)), "max_ms": ms(p.Percentile(1))})
}

// Loopback refuses a URL that does not point at this machine.
func Loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	h := u.Hostname()
	if h == "localhost" {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("simulate: %s is not a loopback address; the simulator only drives a local server", raw)
}

// device is one virtual device. A run holds a million of them: keep it small.
type device struct {
	serial string
	id     string
	ks     *deviceStore // from factory issuance
	agent  *agent.Agent // from onboarding
}

// simFirmware is the firmware digest every simulated device reports, one string for all.
var simFirmware = strings.Repeat("0f", 32)

// Run simulates the fleet.
func Run(ctx context.Context, c Config) (Summary, error) {
	sum := Summary{Devices: c.Devices, Refusals: map[string]int{}}
	for _, u := range []string{c.APIURL, c.ESTURL} {
		if err := Loopback(u); err != nil {
			return sum, err
		}
	}
	if c.Devices <= 0 || c.Concurrency <= 0 {
		return sum, errors.New("simulate: devices and concurrency must be positive")
	}
	if c.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Deadline)
		defer cancel()
	}
	clients := map[string]*client.Client{}
	for _, who := range []string{Manufacturer, Factory, Operator} {
		tok, ok := c.Tokens[who]
		if !ok {
			return sum, fmt.Errorf("simulate: no token for %s (is this a dev server?)", who)
		}
		cl, err := client.New(c.APIURL, tok, client.WithCAPEM(c.CAPEM))
		if err != nil {
			return sum, err
		}
		clients[who] = cl
	}
	start := time.Now()
	lotID, lotName, err := setupLot(ctx, clients[Manufacturer])
	if err != nil {
		return sum, err
	}
	devs := make([]*device, c.Devices)
	for i := range devs {
		devs[i] = &device{serial: fmt.Sprintf("SIM-%d-%06d", start.Unix(), i)}
	}
	var mu sync.Mutex
	refuse := func(err error) {
		reason := err.Error()
		var r *agent.RefusedError
		if errors.As(err, &r) {
			reason = fmt.Sprintf("HTTP %d: %s", r.Status, r.Reason)
		}
		if len(reason) > 160 {
			reason = reason[:160] + "…"
		}
		mu.Lock()
		sum.Refusals[reason]++
		mu.Unlock()
	}

	// Manufacture: a factory identity per device, issued by the contract manufacturer.
	fc := clients[Factory]
	sum.Phases = append(sum.Phases, phase(ctx, "factory issuance (REST)", devs, c, refuse, func(ctx context.Context, d *device) error {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: d.serial}}, k)
		if err != nil {
			return err
		}
		rec, _ := json.Marshal(map[string]any{"manufacturer": "acme", "model": "sensor-x", "hardwareRevision": "B", "serial": d.serial, "lot": lotName, "line": "line-sim",
			"firmwareDigest": map[string]string{"sha256": simFirmware}, "testResult": "pass", "builtAt": start.UTC().Format(time.RFC3339)})
		fi, err := fc.IssueFactory(ctx, lotID, api.IssueFactoryRequest{CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), BuildRecord: rec})
		if err != nil {
			return err
		}
		chain, err := certpem.Parse([]byte(fi.CertificatePEM+fi.ChainPEM), certpem.Options{What: "the factory identity of " + d.serial})
		if err != nil {
			return err
		}
		ks, err := newDeviceStore(chain, k)
		if err != nil {
			return err
		}
		d.ks, d.id = ks, fi.Device.ID
		return nil
	}))

	// Custody: the whole lot to the operator, in one transfer.
	t0 := time.Now()
	custodyPhase := &Phase{Name: "custody transfer (lot)"}
	tr, err := fc.OfferTransfer(ctx, api.OfferRequest{To: "contoso", LotID: lotID, Note: "simulated delivery"})
	if err == nil {
		_, err = clients[Operator].DecideTransfer(ctx, tr.ID, api.TransferAccept)
	}
	custodyPhase.Elapsed = time.Since(t0)
	if err != nil {
		custodyPhase.Failed = 1
		refuse(err)
	} else {
		custodyPhase.OK, custodyPhase.latencies = 1, []time.Duration{custodyPhase.Elapsed}
	}
	sum.Phases = append(sum.Phases, custodyPhase)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CAPEM)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sum.Phases = append(sum.Phases, phase(ctx, "onboarding (EST simpleenroll)", devs, c, refuse, func(ctx context.Context, d *device) error {
		if d.ks == nil {
			return errors.New("no factory identity")
		}
		d.agent = agent.New(agent.Config{ESTURL: c.ESTURL, RootCAs: pool, Keystore: d.ks, Log: quiet,
			Facts: agent.Facts{FirmwareDigest: simFirmware, HardwareRevision: "B"}})
		_, err = d.agent.Step(ctx)
		return err
	}))
	rc := c
	if c.RenewalConcurrency > 0 {
		rc.Concurrency = c.RenewalConcurrency
	}
	for r := 0; r < c.Renewals; r++ {
		sum.Phases = append(sum.Phases, phase(ctx, fmt.Sprintf("renewal %d (EST simplereenroll)", r+1), devs, rc, refuse, func(ctx context.Context, d *device) error {
			if d.agent == nil {
				return errors.New("not onboarded")
			}
			_, err := d.agent.Renew(ctx)
			return err
		}))
	}
	sum.Elapsed = time.Since(start)
	return sum, ctx.Err()
}

// phase runs op for every device with the configured concurrency, timing each.
func phase(ctx context.Context, name string, devs []*device, c Config, refuse func(error), op func(context.Context, *device) error) *Phase {
	p := &Phase{Name: name}
	var next, done, deferred atomic.Int64
	var mu sync.Mutex
	cpu0, db0 := processCPU(c.ServerPID), treeCPU(c.DatabasePID)
	start := time.Now()
	stop := progress(c.Progress, c.ProgressLines, name, len(devs), &done, start)
	var wg sync.WaitGroup
	for w := 0; w < min(c.Concurrency, len(devs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(devs) || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := op(ctx, devs[i])
				// A server that sheds load or waits for an approval says when to come back:
				// do as a device would, within the deadline.
				for wait, ok := deferral(err); ok && ctx.Err() == nil; wait, ok = deferral(err) {
					deferred.Add(1)
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
					err = op(ctx, devs[i])
				}
				lat := time.Since(t)
				mu.Lock()
				if err != nil {
					p.Failed++
				} else {
					p.OK++
					p.latencies = append(p.latencies, lat)
				}
				mu.Unlock()
				if err != nil {
					refuse(err)
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	p.Elapsed = time.Since(start)
	p.Deferred = int(deferred.Load())
	if cpu0 >= 0 {
		if cpu1 := processCPU(c.ServerPID); cpu1 >= cpu0 {
			p.ServerCPU = cpu1 - cpu0
		}
	}
	if db0 >= 0 {
		if db1 := treeCPU(c.DatabasePID); db1 >= db0 {
			p.DatabaseCPU = db1 - db0
		}
	}
	stop()
	sort.Slice(p.latencies, func(i, j int) bool { return p.latencies[i] < p.latencies[j] })
	return p
}

// PlainProgressEvery is how often Config.ProgressLines writes a line during a phase.
const PlainProgressEvery = 2 * time.Second

// progress draws a bar on w every 200 ms until stopped or, with lines, writes a plain line
// every PlainProgressEvery and one when stopped.
func progress(w io.Writer, lines bool, name string, total int, done *atomic.Int64, start time.Time) func() {
	if w == nil {
		return func() {}
	}
	every := 200 * time.Millisecond
	draw := func(final bool) {
		n := int(done.Load())
		width := 30
		filled := width * n / max(total, 1)
		rate := float64(n) / max(time.Since(start).Seconds(), 1e-9)
		end := "\r"
		if final {
			end = "\n"
		}
		fmt.Fprintf(w, "%-32s [%s%s] %d/%d  %.0f/s%s", name, strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, total, rate, end)
	}
	if lines {
		every = PlainProgressEvery
		draw = func(final bool) {
			n := int(done.Load())
			state := "running"
			if final {
				state = "done in " + time.Since(start).Round(time.Millisecond).String()
			}
			fmt.Fprintf(w, "%s: %d/%d, %.0f/s, %s\n", name, n, total, float64(n)/max(time.Since(start).Seconds(), 1e-9), state)
		}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				draw(true)
				return
			case <-t.C:
				draw(false)
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// setupLot creates a lot of the demo model, delegated to the contract manufacturer.
func setupLot(ctx context.Context, mfr *client.Client) (id, name string, err error) {
	models, err := mfr.ListModels(ctx, "acme")
	if err != nil || len(models) == 0 {
		return "", "", fmt.Errorf("simulate: the demo model: %v", err)
	}
	cas, err := mfr.ListCAs(ctx, "acme")
	if err != nil {
		return "", "", err
	}
	issuing := ""
	for _, c := range cas {
		if c.Role == "issuing" && c.Stage == "manufacturing" {
			issuing = c.ID
		}
	}
	name = fmt.Sprintf("sim-%d", time.Now().UnixNano())
	lot, err := mfr.CreateLot(ctx, api.CreateLotRequest{ModelID: models[0].ID, Name: name, Line: "line-sim", IssuingCAID: issuing, DelegateTo: "fabrikam"})
	if err != nil {
		return "", "", fmt.Errorf("simulate: creating the lot: %w", err)
	}
	return lot.ID, name, nil
}

// deferral reports whether err asks the device to come back later, and when.
func deferral(err error) (time.Duration, bool) {
	var d *agent.DeferredError
	if errors.As(err, &d) {
		return d.RetryAfter + time.Duration(mrand.N(int64(d.RetryAfter/10)+1)), true
	}
	// The API's own 503 (load shed), after its Retry-After; a connection refused or a
	// timeout is a failure.
	var p *api.Problem
	if errors.As(err, &p) && p.Status == 503 {
		wait := max(p.RetryAfter, time.Second)
		return wait + time.Duration(mrand.N(int64(wait/10)+1)), true
	}
	return 0, false
}

// processCPU is the user+system CPU time of process pid from /proc/PID/stat, or -1 when it
// cannot be read (no PID, another OS, another machine). Linux reports it in clock ticks of
// USER_HZ, which is 100 on every architecture Go supports there.
func processCPU(pid int) time.Duration {
	f := statFields(pid)
	if f == nil {
		return -1
	}
	return ticks(f[11], f[12])
}

// treeCPU is the CPU time of a server process and its children: its own user and system
// time, what its exited children used (cutime, cstime), and the live children's own time.
// PostgreSQL runs each connection in a child of the postmaster.
func treeCPU(pid int) time.Duration {
	f := statFields(pid)
	if f == nil {
		return -1
	}
	total := ticks(f[11], f[12], f[13], f[14])
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	parent := strconv.Itoa(pid)
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if cf := statFields(child); cf != nil && cf[1] == parent {
			total += ticks(cf[11], cf[12])
		}
	}
	return total
}

// statFields are the fields of /proc/PID/stat after the command name, so field 3 (state) is
// at index 0, ppid (4) at 1, utime (14) at 11, stime at 12, cutime at 13, cstime at 14; nil
// when the process is not there.
func statFields(pid int) []string {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	// The command name (field 2) may hold spaces: start after its closing parenthesis.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil
	}
	return f
}

// ticks sums clock-tick counts (USER_HZ, 100 on Linux) as a duration.
func ticks(fields ...string) time.Duration {
	var n int64
	for _, s := range fields {
		v, _ := strconv.ParseInt(s, 10, 64)
		n += v
	}
	return time.Duration(n) * (time.Second / 100)
}
