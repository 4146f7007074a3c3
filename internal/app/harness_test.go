package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devServer is a real `hallmark serve --dev` running in this process on a loopback port.
type devServer struct {
	dir    string
	info   DevInfo
	tokens map[string]string
	http   *http.Client
	cancel context.CancelFunc
	done   chan error
}

// startDev starts the dev server on dir (a fresh temp dir when empty) and waits for it.
func startDev(t testing.TB, dir string) *devServer {
	t.Helper()
	return startDevWith(t, dir, nil)
}

// startDevWith starts the dev server with a clock of the test's own.
func startDevWith(t testing.TB, dir string, now func() time.Time) *devServer {
	t.Helper()
	return startDevOpts(t, Options{DataDir: dir, Now: now})
}

// startDevOpts starts the dev server with the given options (Dev and Listen are set here).
func startDevOpts(t testing.TB, o Options) *devServer {
	t.Helper()
	dir := o.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	_ = os.Remove(filepath.Join(dir, "dev.json"))
	ctx, cancel := context.WithCancel(context.Background())
	s := &devServer{dir: dir, cancel: cancel, done: make(chan error, 1)}
	go func() {
		o.Dev, o.DataDir, o.Listen = true, dir, "127.0.0.1:0"
		s.done <- Serve(ctx, o, io.Discard, io.Discard)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "dev.json"))
		if err == nil && json.Unmarshal(b, &s.info) == nil {
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("dev server exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("dev server did not write dev.json within 60 s")
		}
	}
	b, err := os.ReadFile(s.info.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s.tokens); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(s.info.TLSCAFile)
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("reading the dev TLS CA: %v", err)
	}
	s.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(s.stop)
	return s
}

func (s *devServer) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
	}
	s.cancel = nil
}

// resp is a decoded API response.
type resp struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// problem decodes a problem+json body.
func (r resp) problem(t *testing.T) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p map[string]any
	r.json(t, &p)
	return p
}

// call sends a request as principal who ("" for none); body is JSON-encoded unless it is
// already []byte.
func (s *devServer) call(t *testing.T, who, method, path string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.info.APIURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		tok, ok := s.tokens[who]
		if !ok {
			t.Fatalf("no token for %s", who)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := s.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Body: b, Header: res.Header}
}

// must calls and checks the status.
func (s *devServer) must(t *testing.T, want int, who, method, path string, body any) resp {
	t.Helper()
	r := s.call(t, who, method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s as %s: status %d, want %d; body %s", method, path, who, r.Status, want, r.Body)
	}
	return r
}

// run executes an outside tool, failing the test with its output on error.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(dir, name string, args ...string) (string, error) {
	if _, err := exec.LookPath(name); err != nil {
		return "", fmt.Errorf("%s is not installed: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed; .ci/run installs it", name)
	}
}
