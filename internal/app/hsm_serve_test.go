//go:build pkcs11 && cgo

package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
)

// syncBuffer is a bytes.Buffer safe for a server writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestHSMServeConfig runs `hallmark serve --config` with keys.backend "pkcs11": a wrong PIN
// stops the start with a clear error (and is not retried), the right one starts a server
// whose audit key is in the token; the PIN appears in no log line.
func TestHSMServeConfig(t *testing.T) {
	label, pin := hsmtest.Token(t, "hsm-serve")
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir}
	c.writeTLS()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := map[string]any{
		"listen": addr, "public_url": "https://" + addr, "store": map[string]any{"driver": "sqlite", "path": filepath.Join(dir, "hallmark.db")},
		"keys": map[string]any{"backend": "pkcs11", "pkcs11": map[string]any{"module_path": hsmtest.Module, "token": label, "pin_env": "HALLMARK_TEST_HSM_PIN", "max_sessions": 4}},
		"tls":  map[string]any{"cert_file": filepath.Join(dir, "tls.pem"), "key_file": filepath.Join(dir, "tls.key")},
		"log":  map[string]any{"level": "debug", "format": "json"},
	}
	b, _ := json.Marshal(cfg)
	writeFile(t, dir, "hallmark.json", string(b))
	opts := Options{ConfigFile: filepath.Join(dir, "hallmark.json")}

	t.Setenv("HALLMARK_TEST_HSM_PIN", "0000")
	var logs syncBuffer
	err = Serve(context.Background(), opts, io.Discard, &logs)
	if err == nil || !strings.Contains(err.Error(), "refused the PIN (CKR_PIN_INCORRECT)") || strings.Contains(err.Error(), "0000") {
		t.Fatalf("serve with a wrong PIN: %v; want a clear refusal that does not repeat the PIN", err)
	}

	t.Setenv("HALLMARK_TEST_HSM_PIN", pin)
	logs = syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, opts, io.Discard, &logs) }()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool}}}
	var key []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := hc.Get("https://" + addr + "/v1/audit/key"); err == nil {
			key, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer within 30 s:\n%s", logs.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !regexp.MustCompile(`^[^+]+\+[0-9a-f]{8}\+\S+\n$`).Match(key) {
		t.Errorf("audit key %q", key)
	}
	out := hsmtest.PKCS11Tool(t, "--token-label", label, "--login", "--pin", pin, "--list-objects", "--type", "privkey")
	if !strings.Contains(out, "label:      audit-checkpoint") {
		t.Errorf("the audit key is not in the token:\n%s", out)
	}
	if l := logs.String(); !strings.Contains(l, `"backend":"pkcs11"`) || strings.Contains(l, pin) {
		t.Errorf("logs: want the HSM backend named and never the PIN:\n%s", l)
	}
}
