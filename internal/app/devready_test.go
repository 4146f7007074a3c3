package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a buffer the server writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDevConsoleSaysReady: serve --dev prints its banner and then one ready line naming the
// API, EST and console URLs, and only once its listeners complete TLS handshakes; the seed's
// audit events stay out of its console (they are DEBUG there), yet are in the audit log.
func TestDevConsoleSaysReady(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, Options{Dev: true, DataDir: dir, Listen: "127.0.0.1:0"}, &stdout, &stderr) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("the dev server did not stop within 15 s")
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stdout.String(), ReadyLine) {
		select {
		case err := <-done:
			t.Fatalf("dev server exited: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line within 60 s:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	var info DevInfo
	b, err := os.ReadFile(filepath.Join(dir, "dev.json"))
	if err != nil || json.Unmarshal(b, &info) != nil {
		t.Fatalf("dev.json: %v", err)
	}
	out := stdout.String()
	banner, ready := strings.Index(out, "hallmark dev server\n"), strings.Index(out, ReadyLine)
	if banner < 0 || ready < banner {
		t.Errorf("the ready line does not follow the banner:\n%s", out)
	}
	line, _, _ := strings.Cut(out[ready:], "\n")
	for _, want := range []string{info.APIURL + "/v1", info.ESTURL, info.APIURL + "/ui/"} {
		if !strings.Contains(line, want) {
			t.Errorf("ready line %q does not name %s", line, want)
		}
	}
	if n := strings.Count(out, ReadyLine); n != 1 {
		t.Errorf("%d ready lines, want 1", n)
	}
	if strings.Contains(stderr.String(), "audit_event") {
		t.Errorf("audit events in the dev console:\n%.2000s", stderr.String())
	}
	// The server answers once it said so, and its audit log holds the seed's events.
	s := &devServer{dir: dir, info: info}
	b, err = os.ReadFile(info.TokenFile)
	if err != nil || json.Unmarshal(b, &s.tokens) != nil {
		t.Fatalf("tokens: %v", err)
	}
	pool := x509.NewCertPool()
	if caPEM, err := os.ReadFile(info.TLSCAFile); err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("reading the dev TLS CA: %v", err)
	}
	s.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var evs struct {
		Items []json.RawMessage `json:"items"`
	}
	s.must(t, 200, audrey, "GET", "/v1/audit/events", nil).json(t, &evs)
	if len(evs.Items) == 0 {
		t.Error("the audit log is empty after the seed")
	}
}
