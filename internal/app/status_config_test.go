package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/party"
)

// freeAddr is a free loopback HOST:PORT.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestStatusListenerWithConfig runs `serve --config` with a "status" section naming a
// plain-HTTP listener and no base URL: certificates issued through the API point at
// http://<status.http_listen>, and that listener serves the root's CRL and certificate without
// TLS, while the API listener keeps the status paths for older certificates.
func TestStatusListenerWithConfig(t *testing.T) {
	requireTool(t, "openssl")
	dir := t.TempDir()
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key",
		"-subj", "/CN=127.0.0.1", "-days", "2", "-out", "tls.pem", "-addext", "subjectAltName=IP:127.0.0.1")
	addr, statusAddr := freeAddr(t), freeAddr(t)
	cfg := map[string]any{
		"listen": addr, "public_url": "https://" + addr,
		"store":  map[string]any{"driver": "sqlite", "path": filepath.Join(dir, "hallmark.db")},
		"keys":   map[string]any{"dir": filepath.Join(dir, "keys"), "passphrase_env": "HALLMARK_TEST_PASSPHRASE"},
		"tls":    map[string]any{"cert_file": filepath.Join(dir, "tls.pem"), "key_file": filepath.Join(dir, "tls.key")},
		"log":    map[string]any{"level": "warn", "format": "json"},
		"status": map[string]any{"http_listen": statusAddr, "root_crl_lifetime": "240h"},
	}
	b, _ := json.Marshal(cfg)
	writeFile(t, dir, "config.json", string(b))
	cfgFile := filepath.Join(dir, "config.json")
	t.Setenv("HALLMARK_TEST_PASSPHRASE", "correct horse battery staple")
	token, err := Bootstrap(context.Background(), BootstrapRequest{ConfigFile: cfgFile, Party: party.Party{ID: "ops", Name: "Example Ops", Kind: party.Operator}, Principal: "admin"})
	if err != nil {
		t.Fatal(err)
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
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
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
	call(token, "POST", "/v1/parties", `{"id":"acme","name":"Acme","kind":"manufacturer"}`, 201)
	// The deployment administrator makes acme's first administrator, who makes alice.
	var padm, pr struct{ Token string }
	if err := json.Unmarshal(call(token, "POST", "/v1/principals", `{"party_id":"acme","name":"admin","kind":"person","admin":true}`, 201), &padm); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(call(padm.Token, "POST", "/v1/principals", `{"party_id":"acme","name":"alice","kind":"person"}`, 201), &pr); err != nil {
		t.Fatal(err)
	}
	var h struct {
		Root, Issuing struct {
			ID             string `json:"id"`
			CertificatePEM string `json:"certificate_pem"`
		}
	}
	if err := json.Unmarshal(call(pr.Token, "POST", "/v1/manufacturing/hierarchies", `{"manufacturer_id":"acme","name":"acme-mfg"}`, 201), &h); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(h.Issuing.CertificatePEM))
	issuing, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + statusAddr
	if len(issuing.CRLDistributionPoints) != 1 || issuing.CRLDistributionPoints[0] != base+"/crl/"+h.Root.ID+".crl" ||
		len(issuing.OCSPServer) != 1 || issuing.OCSPServer[0] != base+"/ocsp/"+h.Root.ID ||
		len(issuing.IssuingCertificateURL) != 1 || issuing.IssuingCertificateURL[0] != base+"/ca/"+h.Root.ID+".cer" {
		t.Fatalf("issuing CA: CDP %v AIA %v caIssuers %v; want the root's, under %s", issuing.CRLDistributionPoints, issuing.OCSPServer, issuing.IssuingCertificateURL, base)
	}
	blk, _ = pem.Decode([]byte(h.Root.CertificatePEM))
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// The status service learns of the new root from the change feed (the root signed its
	// issuing CA), within a poll (at most a second): wait for it, boundedly.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(issuing.CRLDistributionPoints[0])
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the root CRL is not served within 10 s: %v %v", res, err)
		}
	}
	crl, err := x509.ParseRevocationList(plainGet(t, issuing.CRLDistributionPoints[0], "application/pkix-crl"))
	if err != nil || crl.CheckSignatureFrom(root) != nil {
		t.Fatalf("the root CRL over plain HTTP: %v", err)
	}
	if life := crl.NextUpdate.Sub(crl.ThisUpdate); life != 240*time.Hour {
		t.Errorf("root CRL lifetime %s, want status.root_crl_lifetime 240h", life)
	}
	// The API listener serves the same CRL path (for certificates that name it).
	call("", "GET", "/crl/"+h.Root.ID+".crl", "", 200)
}
