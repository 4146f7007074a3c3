package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// server is one certificate authority under test.
type server interface {
	name() string
	// pid is the server's process, whose /proc entries the harness reads.
	pid() int
	// prepare does the untimed work for n requests of scenario sc in slot sl (tokens, lots,
	// custody) and returns the timed operation, or errUnsupported.
	prepare(ctx context.Context, sc scenario, sl *slot, n int) (op, error)
	// tlsInfo names the TLS version and key exchange a first request negotiated.
	tlsInfo() string
}

// Peer versions: the issue fixes them. step-ca's HEAD does not build here; v0.30.2 does.
// The install folder's name carries them, so a change of version installs afresh.
const (
	stepVersion  = "v0.30.2"
	cfsslVersion = "v1.6.5"
)

// peerModules are the binaries installPeers puts in the peer folder.
var peerModules = []struct{ pkg, bin string }{
	{"github.com/smallstep/certificates/cmd/step-ca@" + stepVersion, "step-ca"},
	{"github.com/smallstep/cli/cmd/step@" + stepVersion, "step"},
	{"github.com/cloudflare/cfssl/cmd/cfssl@" + cfsslVersion, "cfssl"},
}

// defaultPeerDir is where peers are installed and reused between runs: the user's cache,
// never the repository and never the project's go.mod.
func defaultPeerDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "hallmark-bench", "peers-step-ca-"+stepVersion+"-cfssl-"+cfsslVersion)
}

// installPeers runs `CGO_ENABLED=0 GOBIN=dir go install pkg@version` for each peer binary
// that dir lacks. It runs outside any module so no go.mod is read or changed.
func installPeers(ctx context.Context, dir string, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the peer folder: %w", err)
	}
	for _, m := range peerModules {
		if fi, err := os.Stat(filepath.Join(dir, m.bin)); err == nil && fi.Mode().IsRegular() {
			continue
		}
		fmt.Fprintf(log, "installing %s into %s\n", m.pkg, dir)
		cmd := exec.CommandContext(ctx, "go", "install", m.pkg)
		cmd.Dir = os.TempDir()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+dir, "GOFLAGS=", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go install %s: %w\n%s", m.pkg, err, tail(out, 2000))
		}
	}
	return nil
}

// buildHallmark builds cmd/hallmark from the repository at repo into dir, and names the
// commit it was built from ("+dirty" when the work tree has changes).
func buildHallmark(ctx context.Context, repo, dir string) (bin, commit string, err error) {
	bin = filepath.Join(dir, "hallmark")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hallmark")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building hallmark: %w\n%s", err, tail(out, 2000))
	}
	commit = "unknown"
	if out, err := exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if st, err := exec.CommandContext(ctx, "git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			commit += "+dirty"
		}
	}
	return bin, commit, nil
}

// findRepo walks up from dir to the folder whose go.mod declares the Hallmark module.
func findRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/hallmark-id/hallmark\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no Hallmark repository above the current folder; give -repo")
		}
		dir = parent
	}
}

// process is a server the harness started; stop ends it.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // of Wait, once done is closed
}

// startProcess starts bin with args, its output appended to logPath. The child gets SIGKILL
// if the harness dies, so no server outlives a run.
func startProcess(dir, logPath string, env []string, bin string, args ...string) (*process, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, lf, lf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(bin), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); lf.Close(); close(p.done) }()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// alive reports an error when the process has exited.
func (p *process) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v", filepath.Base(p.cmd.Path), p.err)
	default:
		return nil
	}
}

// stop sends SIGTERM, and SIGKILL after 10 s.
func (p *process) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitReady polls probe every 100 ms until it succeeds, the process exits, or timeout.
func waitReady(ctx context.Context, p *process, timeout time.Duration, probe func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := probe()
		if err == nil {
			return nil
		}
		if aerr := p.alive(); aerr != nil {
			return aerr
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a free loopback port. (A peer whose configuration needs a
// fixed port gets this one; another process could take it first, which fails the start.)
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// requestTimeout bounds every request the harness sends.
const requestTimeout = 60 * time.Second

// keepAliveClient reuses up to conns HTTP/1.1 connections to one server, as a factory
// station or a back-end service would.
func keepAliveClient(roots *x509.CertPool, conns int) *http.Client {
	return &http.Client{Timeout: requestTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		MaxIdleConns:    conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
	}}
}

// oneShotClient opens a new TLS connection for its one request (no keep-alive, no session
// resumption: a full handshake, as a device that wakes up to enroll does), presenting cert
// when it is not nil.
func oneShotClient(roots *x509.CertPool, cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: requestTimeout, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
}

// send does one request and reads the answer's body (at most 1 MiB).
func send(ctx context.Context, c *http.Client, method, url string, body []byte, header http.Header) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return res, b, nil
}

// statusError describes an unexpected answer.
func statusError(what string, res *http.Response, body []byte) error {
	return fmt.Errorf("%s: HTTP %d: %s", what, res.StatusCode, tail(bytes.TrimSpace(body), 300))
}

// describeTLS names a connection's protocol version and key exchange.
func describeTLS(cs *tls.ConnectionState) string {
	if cs == nil {
		return "plain HTTP"
	}
	return tls.VersionName(cs.Version) + ", " + cs.CurveID.String() + ", " + tls.CipherSuiteName(cs.CipherSuite)
}

// tail is the last n bytes of b, for error messages.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
