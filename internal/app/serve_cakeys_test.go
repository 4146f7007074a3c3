package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/party"
)

// TestServeRefusesCAWithoutKey runs `serve --config` with the file key backend: a deployment
// whose issuing CA's key file went missing (as after keys.kinds moves the ca kind to a backend
// that does not hold the CAs made before) does not start, and the error names the CA and its
// key ID; with the key back, the same configuration starts again and serves.
func TestServeRefusesCAWithoutKey(t *testing.T) {
	requireTool(t, "openssl")
	dir := t.TempDir()
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key",
		"-subj", "/CN=127.0.0.1", "-days", "2", "-out", "tls.pem", "-addext", "subjectAltName=IP:127.0.0.1")
	addr := freeAddr(t)
	keyDir := filepath.Join(dir, "keys")
	cfg := map[string]any{
		"listen": addr, "public_url": "https://" + addr,
		"store": map[string]any{"driver": "sqlite", "path": filepath.Join(dir, "hallmark.db")},
		"keys":  map[string]any{"dir": keyDir, "passphrase_env": "HALLMARK_TEST_PASSPHRASE"},
		"tls":   map[string]any{"cert_file": filepath.Join(dir, "tls.pem"), "key_file": filepath.Join(dir, "tls.key")},
		"log":   map[string]any{"level": "warn", "format": "json"},
	}
	b, _ := json.Marshal(cfg)
	writeFile(t, dir, "config.json", string(b))
	cfgFile := filepath.Join(dir, "config.json")
	t.Setenv("HALLMARK_TEST_PASSPHRASE", "correct horse battery staple")
	token, err := Bootstrap(context.Background(), BootstrapRequest{ConfigFile: cfgFile, Party: party.Party{ID: "ops", Name: "Example Ops", Kind: party.Operator}, Principal: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(read(t, dir, "tls.pem")))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	// serve starts the server and returns a stop that waits for it (bounded).
	serve := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, Options{ConfigFile: cfgFile}, io.Discard, io.Discard) }()
		return func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("serve did not stop")
			}
		}
	}
	call := func(tok, method, path, body string, want int) []byte {
		t.Helper()
		var res *http.Response
		var err error
		for i := 0; i < 200; i++ { // the server may still be starting
			req, _ := http.NewRequest(method, "https://"+addr+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			if res, err = hc.Do(req); err == nil {
				break
			}
			time.Sleep(25 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, out, want)
		}
		return out
	}

	stop := serve()
	call(token, "POST", "/v1/parties", `{"id":"acme","name":"Acme","kind":"manufacturer"}`, 201)
	var padm, pr struct{ Token string }
	if err := json.Unmarshal(call(token, "POST", "/v1/principals", `{"party_id":"acme","name":"admin","kind":"person","admin":true}`, 201), &padm); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(call(padm.Token, "POST", "/v1/principals", `{"party_id":"acme","name":"alice","kind":"person"}`, 201), &pr); err != nil {
		t.Fatal(err)
	}
	var h struct {
		Root, Issuing struct {
			ID    string `json:"id"`
			KeyID string `json:"key_id"`
		}
	}
	if err := json.Unmarshal(call(pr.Token, "POST", "/v1/manufacturing/hierarchies", `{"manufacturer_id":"acme","name":"acme-mfg"}`, 201), &h); err != nil || h.Issuing.KeyID == "" {
		t.Fatalf("hierarchy %+v: %v", h, err)
	}
	issuing := h.Issuing
	stop()

	// The issuing CA's key leaves the backend the configuration names.
	keyFile := filepath.Join(keyDir, issuing.KeyID+keyfile.Suffix)
	if err := os.Rename(keyFile, keyFile+".elsewhere"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), Options{ConfigFile: cfgFile}, io.Discard, io.Discard) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve with a CA key missing neither failed nor stopped within 30 s")
	}
	if err == nil {
		t.Fatal("serve started with the issuing CA's key missing")
	}
	t.Logf("start-up refusal: %v", err)
	for _, want := range []string{"1 active CAs cannot sign", "CA " + h.Issuing.ID, "key " + issuing.KeyID, `"file" backend`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start-up error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "CA "+h.Root.ID) {
		t.Errorf("the root, whose key is there, is named:\n%v", err)
	}

	// Back where the configuration says: the server starts and serves.
	if err := os.Rename(keyFile+".elsewhere", keyFile); err != nil {
		t.Fatal(err)
	}
	stop = serve()
	call(pr.Token, "GET", "/v1/cas/"+h.Issuing.ID+"/certificate", "", 200)
	stop()
}
