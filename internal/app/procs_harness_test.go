package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The deployment harness: whole Hallmark deployments as separate `hallmark serve --config`
// processes, each with its own data folder, database, keys, TLS certificate and listeners on
// loopback, driven through the real CLI. Tests of two deployments (an operator onboarding the
// devices of a maker that runs its own Hallmark; BRSKI between a registrar and a MASA) start
// one procSpec each with startProcess. buildBinary (replica_harness_test.go) builds the binary
// once per test; pass it to every startProcess of the test.

// procSpec is one deployment to start.
type procSpec struct {
	// Name labels the deployment in failures and names its folder (a slug: "maker", "operator").
	Name string
	// Config is the text of the configuration file (docs/operations.md). Before it is written,
	// these placeholders are replaced:
	//   {{DIR}}                   the deployment's data folder (absolute)
	//   {{API}} {{EST}} {{STATUS}} {{METRICS}}
	//                             a free loopback HOST:PORT each, taken when the spec starts
	//   {{TLS_CERT}} {{TLS_KEY}}  a self-signed certificate for 127.0.0.1 and its key, written
	//                             to the folder (the CLI trusts it with --cacert)
	// procConfig makes a complete one.
	Config string
	// Env is added to the process's environment (the PostgreSQL URL a store.dsn_env names).
	// HALLMARK_KEY_PASSPHRASE is set by the harness.
	Env []string
	// Bootstrap, when set, runs `hallmark admin bootstrap` on the fresh database before the
	// first start, creating this party, and keeps the deployment administrator's token.
	Bootstrap *procParty
}

// procParty is the first party of a deployment.
type procParty struct {
	ID, Name, Kind string // Kind: operator, manufacturer, ...
}

// procConfig is a complete configuration for a deployment on SQLite in its folder, with the
// API, EST (serving estLabel on its bare path; "" for none), the plain-HTTP status listener
// (its base URL in the certificates issued) and metrics on the placeholders' ports. sections
// replace or add top-level keys (for example "makers", or "store" for PostgreSQL).
func procConfig(estLabel string, sections map[string]any) string {
	cfg := map[string]any{
		"listen": "{{API}}", "public_url": "https://{{API}}",
		"store":   map[string]any{"driver": "sqlite", "path": "{{DIR}}/hallmark.db"},
		"keys":    map[string]any{"dir": "{{DIR}}/keys"},
		"tls":     map[string]any{"cert_file": "{{TLS_CERT}}", "key_file": "{{TLS_KEY}}"},
		"log":     map[string]any{"level": "info", "format": "json"},
		"audit":   map[string]any{"checkpoint_interval": "1s", "origin": "hallmark-test/audit"},
		"est":     map[string]any{"listen": "{{EST}}", "default_label": estLabel},
		"status":  map[string]any{"http_listen": "{{STATUS}}", "base_url": "http://{{STATUS}}"},
		"metrics": map[string]any{"listen": "{{METRICS}}"},
		"limits":  map[string]any{"full_crl_min_interval": "1s"},
	}
	for k, v := range sections {
		cfg[k] = v
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		panic(err) // the maps above always marshal
	}
	return string(b)
}

// hallmarkProc is one running deployment.
type hallmarkProc struct {
	t    *testing.T
	bin  string
	Name string
	// Dir is the data folder; ConfigFile the configuration written there.
	Dir, ConfigFile string
	// The URLs of its listeners: the API (https), EST (https, ending in /.well-known/est),
	// revocation status (http) and metrics (http, ending in /metrics).
	APIURL, ESTURL, StatusURL, MetricsURL string
	// TLSCert is the PEM file of its TLS certificate, the CA to trust (--cacert, curl --cacert).
	TLSCert string
	// AdminToken is the deployment administrator's token, when the spec bootstrapped one.
	AdminToken string
	// HTTP trusts TLSCert.
	HTTP *http.Client

	env  []string
	log  string
	mu   sync.Mutex
	stop context.CancelFunc // ends the running process; nil when none runs
	done chan error         // receives the process's exit once
}

// startProcess writes spec's configuration into a fresh folder, bootstraps it when asked,
// starts `bin serve --config` and waits (at most 60 s) until its API answers /healthz. The
// process is stopped at the end of the test.
func startProcess(t *testing.T, bin string, spec procSpec) *hallmarkProc {
	t.Helper()
	dir := filepath.Join(t.TempDir(), spec.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &hallmarkProc{t: t, bin: bin, Name: spec.Name, Dir: dir, ConfigFile: filepath.Join(dir, "config.json"), log: filepath.Join(dir, "serve.log")}
	c := &cluster{t: t, dir: dir}
	c.writeTLS()
	p.TLSCert = filepath.Join(dir, "tls.pem")
	api, est, status, metrics := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	p.APIURL, p.ESTURL, p.StatusURL, p.MetricsURL = "https://"+api, "https://"+est+"/.well-known/est", "http://"+status, "http://"+metrics+"/metrics"
	cfg := strings.NewReplacer("{{DIR}}", dir, "{{API}}", api, "{{EST}}", est, "{{STATUS}}", status, "{{METRICS}}", metrics,
		"{{TLS_CERT}}", p.TLSCert, "{{TLS_KEY}}", filepath.Join(dir, "tls.key")).Replace(spec.Config)
	writeFile(t, dir, "config.json", cfg)
	p.env = append(append(os.Environ(), "HALLMARK_KEY_PASSPHRASE="+rand.Text(), "HALLMARK_SERVER=", "HALLMARK_TOKEN=", "HALLMARK_CACERT="), spec.Env...)
	p.HTTP = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool}}}
	if b := spec.Bootstrap; b != nil {
		out, errOut, err := p.run(context.Background(), "", "admin", "bootstrap", "--config", p.ConfigFile, "--party-id", b.ID, "--party-name", b.Name, "--party-kind", b.Kind, "--principal", "root")
		if err != nil {
			t.Fatalf("%s: hallmark admin bootstrap: %v\n%s%s", p.Name, err, out, errOut)
		}
		p.AdminToken = strings.TrimSpace(out)
	}
	t.Cleanup(p.Stop)
	p.Start()
	return p
}

// Start starts the process (again, after Stop) and waits until it answers /healthz.
func (p *hallmarkProc) Start() {
	t := p.t
	t.Helper()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, p.bin, "serve", "--config", p.ConfigFile)
	cmd.Env, cmd.Stdout, cmd.Stderr = p.env, logf, logf
	// Stop cancels ctx: the process gets SIGTERM, and is killed if it has not exited
	// WaitDelay later.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		logf.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logf.Close() }()
	p.mu.Lock()
	p.stop, p.done = cancel, done
	p.mu.Unlock()
	for deadline := time.Now().Add(60 * time.Second); ; {
		if p.healthy() {
			return
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%s exited while starting: %v\n%s", p.Name, err, p.Tail())
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer /healthz within 60 s\n%s", p.Name, p.Tail())
		}
	}
}

func (p *hallmarkProc) healthy() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.APIURL+"/healthz", nil)
	res, err := p.HTTP.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode == 200
}

// Stop ends the process with SIGTERM (SIGKILL 15 s later, by exec.Cmd.WaitDelay) and waits
// for it; it does nothing when the process is not running.
func (p *hallmarkProc) Stop() {
	p.mu.Lock()
	stop, done := p.stop, p.done
	p.stop = nil
	p.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-done // at most WaitDelay after the SIGTERM
}

// Tail is the end of the process's log, for failure messages.
func (p *hallmarkProc) Tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// run runs the hallmark CLI against the deployment as token (none when "") within 2 minutes,
// in the deployment's folder, and returns its stdout and stderr.
func (p *hallmarkProc) run(ctx context.Context, token string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	full := args
	if len(args) == 0 || args[0] != "admin" {
		full = append(args[:len(args):len(args)], "--server", p.APIURL, "--cacert", p.TLSCert)
	}
	cmd := exec.CommandContext(ctx, p.bin, full...)
	cmd.Dir, cmd.Env = p.Dir, append(p.env, "HALLMARK_TOKEN="+token)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// CLI runs `hallmark ARGS` against the deployment as token and returns its stdout; it fails
// the test when the command fails. The server is named with --server and --cacert (admin
// commands, which open the database, get neither).
func (p *hallmarkProc) CLI(token string, args ...string) string {
	p.t.Helper()
	out, errOut, err := p.run(context.Background(), token, args...)
	if err != nil {
		p.t.Fatalf("%s: hallmark %s: %v\n%s%s", p.Name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// CLIErr runs `hallmark ARGS` as CLI does and returns its stdout, stderr and exit error, for
// commands expected to fail.
func (p *hallmarkProc) CLIErr(token string, args ...string) (string, string, error) {
	return p.run(context.Background(), token, args...)
}

// CLIJSON runs `hallmark ARGS -o json` as CLI does and decodes its stdout into v.
func (p *hallmarkProc) CLIJSON(token string, v any, args ...string) {
	p.t.Helper()
	out := p.CLI(token, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		p.t.Fatalf("%s: hallmark %s -o json: %v\n%s", p.Name, strings.Join(args, " "), err, out)
	}
}

// Principal creates a principal of party as token (an administrator of the party, or the
// deployment administrator for the party's first administrator) and returns its token.
func (p *hallmarkProc) Principal(token, party, name string, admin bool) string {
	p.t.Helper()
	args := []string{"principal", "create", "--party", party, "--name", name}
	if admin {
		args = append(args, "--admin")
	}
	var out struct {
		Token string `json:"token"`
	}
	p.CLIJSON(token, &out, args...)
	if out.Token == "" {
		p.t.Fatalf("%s: principal create %s/%s returned no token", p.Name, party, name)
	}
	return out.Token
}

// certPool reads a PEM bundle into a pool.
func certPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no PEM certificate", file)
	}
	return pool
}
