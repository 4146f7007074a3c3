package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/party"
)

// TestServeWithConfig runs the production path: a strict config file, a bootstrap of the first
// administrator, and `serve --config` over TLS with an operator-supplied certificate.
func TestServeWithConfig(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { serveWithConfig(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("HALLMARK_TEST_POSTGRES")
		if base == "" {
			t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES (.ci/run starts a server)")
		}
		t.Setenv("HALLMARK_TEST_DATABASE_URL", pgSchema(t))
		serveWithConfig(t, map[string]any{"driver": "postgres", "dsn_env": "HALLMARK_TEST_DATABASE_URL"})
	})
}

func serveWithConfig(t *testing.T, storeCfg map[string]any) {
	requireTool(t, "openssl")
	dir := t.TempDir()
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key",
		"-subj", "/CN=127.0.0.1", "-days", "2", "-out", "tls.pem", "-addext", "subjectAltName=IP:127.0.0.1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsURL := "http://" + mln.Addr().String() + "/metrics"
	mln.Close()
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	statusAddr := sln.Addr().String()
	sln.Close()
	cfg := map[string]any{
		"listen": addr, "public_url": "https://" + addr,
		"store":   map[string]any{"driver": "sqlite", "path": filepath.Join(dir, "hallmark.db")},
		"keys":    map[string]any{"dir": filepath.Join(dir, "keys"), "passphrase_env": "HALLMARK_TEST_PASSPHRASE"},
		"tls":     map[string]any{"cert_file": filepath.Join(dir, "tls.pem"), "key_file": filepath.Join(dir, "tls.key")},
		"log":     map[string]any{"level": "warn", "format": "json"},
		"metrics": map[string]any{"listen": mln.Addr().String()},
		// OCSP and CRLs on a listener of their own too, and loopback exempt from the
		// per-source cap (a deployment lists its load balancer there).
		"status_listen": statusAddr,
		"limits":        map[string]any{"per_source_exempt": []string{"127.0.0.0/8"}, "body_timeout": "2s"},
	}
	if storeCfg != nil {
		cfg["store"] = storeCfg
	}
	cfgFile := filepath.Join(dir, "config.json")
	b, _ := json.Marshal(cfg)
	writeFile(t, dir, "config.json", string(b))

	// Strict: an unknown key and a missing passphrase are refused with what to do.
	writeFile(t, dir, "bad.json", strings.Replace(string(b), `"listen"`, `"lisen":"x","listen"`, 1))
	if err := Serve(context.Background(), Options{ConfigFile: filepath.Join(dir, "bad.json")}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown field "lisen"`) {
		t.Errorf("unknown key: %v", err)
	}
	t.Setenv("HALLMARK_TEST_PASSPHRASE", "")
	if err := Serve(context.Background(), Options{ConfigFile: cfgFile}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "HALLMARK_TEST_PASSPHRASE") {
		t.Errorf("missing passphrase: %v", err)
	}
	t.Setenv("HALLMARK_TEST_PASSPHRASE", "correct horse battery staple")

	token, err := Bootstrap(context.Background(), BootstrapRequest{ConfigFile: cfgFile, Party: party.Party{ID: "ops", Name: "Example Ops", Kind: party.Operator}, Principal: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Bootstrap(context.Background(), BootstrapRequest{ConfigFile: cfgFile, Party: party.Party{ID: "ops2", Name: "Again", Kind: party.Operator}, Principal: "admin"}); err == nil {
		t.Error("a second bootstrap succeeded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, Options{ConfigFile: cfgFile}, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(read(t, dir, "tls.pem")))
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var res *http.Response
	for i := 0; i < 200; i++ {
		req, _ := http.NewRequest("POST", "https://"+addr+"/v1/parties", strings.NewReader(`{"id":"acme","name":"Acme","kind":"manufacturer"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if res, err = hc.Do(req); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("server did not answer: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("create party: %d %s", res.StatusCode, body)
	}
	// The metrics listener (config "metrics") counted it.
	fams := scrapeMetrics(t, metricsURL)
	if v, ok := metricValue(fams, "hallmark_http_requests_total", map[string]string{"listener": "api", "method": "POST", "route": "/v1/parties", "code": "201"}); !ok || v != 1 {
		t.Errorf("POST /v1/parties 201 counted %v (%v), want 1", v, ok)
	}
	if _, ok := metricValue(fams, "process_resident_memory_bytes", nil); !ok && runtime.GOOS == "linux" {
		t.Error("process_resident_memory_bytes is missing")
	}
	// The status listener serves OCSP (a garbage request gets OCSP's malformedRequest) and
	// nothing else, through its own handshake gate.
	res, err = hc.Post("https://"+statusAddr+"/ocsp", "application/ocsp-request", strings.NewReader("not DER"))
	if err != nil {
		t.Fatalf("OCSP on the status listener: %v", err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/ocsp-response" || string(body) != "\x30\x03\x0a\x01\x01" {
		t.Errorf("OCSP on the status listener: %d %q %x", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if res, err := hc.Get("https://" + statusAddr + "/v1/whoami"); err != nil || res.StatusCode != 404 {
		t.Errorf("GET /v1/whoami on the status listener: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	fams = scrapeMetrics(t, metricsURL)
	for _, l := range []string{"api", "status"} {
		if v, ok := metricValue(fams, "hallmark_tls_handshake_limit", map[string]string{"listener": l}); !ok || v != float64(DefaultHandshakes()) {
			t.Errorf("the %s listener's handshake limit: %v (%v)", l, v, ok)
		}
	}
	if v, ok := metricValue(fams, "hallmark_http_requests_total", map[string]string{"listener": "status", "method": "POST", "route": "/ocsp", "code": "200"}); !ok || v != 1 {
		t.Errorf("OCSP on the status listener counted %v (%v), want 1", v, ok)
	}
	// Go's profiles are served only when metrics.pprof says so.
	if res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + mln.Addr().String() + "/debug/pprof/"); err != nil || res.StatusCode != 404 {
		t.Errorf("GET /debug/pprof/ without metrics.pprof: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	// The key store holds no clear key after a hierarchy is made.
	req, _ := http.NewRequest("POST", "https://"+addr+"/v1/manufacturing/hierarchies", strings.NewReader(`{"manufacturer_id":"acme","name":"acme-ca"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	if res, err = hc.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 { // the admin's party (ops) does not own manufacturing/issue for acme
		t.Errorf("admin creating acme's CA: %d, want 403 (administrators do not bypass the matrix)", res.StatusCode)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "keys"))
	for _, e := range entries {
		if c := read(t, filepath.Join(dir, "keys"), e.Name()); !strings.Contains(c, "ENCRYPTED PRIVATE KEY") {
			t.Errorf("key file %s is not encrypted", e.Name())
		}
	}
}
