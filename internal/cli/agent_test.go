package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgentRefusedExitsNonZero: a server refusal ends `agent --once` with exit code 3 and the
// server's reason on stderr.
func TestAgentRefusedExitsNonZero(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/simpleenroll") || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		http.Error(w, "device dev_x is held by fabrikam, not by operator contoso: transfer custody first", http.StatusForbidden)
	}))
	srv.TLS.ClientAuth = 1 // tls.RequestClientCert
	defer srv.Close()
	dir := t.TempDir()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o600)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "SN-1"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	os.WriteFile(filepath.Join(dir, "f.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "f.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)

	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"agent", "--once", "--est", srv.URL + "/.well-known/est", "--cacert", filepath.Join(dir, "ca.pem"),
		"--factory-cert", filepath.Join(dir, "f.pem"), "--factory-key", filepath.Join(dir, "f.key"), "--dir", filepath.Join(dir, "state")}, &out, &errb)
	if code != ExitInvalid || !strings.Contains(errb.String(), "HTTP 403") || !strings.Contains(errb.String(), "transfer custody first") {
		t.Fatalf("exit %d, stderr %q; want %d with the server's reason", code, errb.String(), ExitInvalid)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "operational.pem")); err == nil {
		t.Error("a refused enrollment wrote an identity")
	}
}

// TestAgentBRSKIRefused: with --brski, a registrar's refusal of the voucher request ends
// `agent --once` with exit code 3 and its reason, pins nothing and enrolls nothing; without
// --masa-anchor the flags are refused before anything is sent.
func TestAgentBRSKIRefused(t *testing.T) {
	var enrolls int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/.well-known/brski/requestvoucher" && r.TLS != nil && len(r.TLS.PeerCertificates) == 1:
			http.Error(w, "the MASA refused the voucher request (HTTP 403): party contoso does not hold device dev_x", http.StatusForbidden)
		case strings.HasSuffix(r.URL.Path, "/simpleenroll"):
			enrolls++
			http.Error(w, "unexpected", http.StatusBadRequest)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.TLS.ClientAuth = 1 // tls.RequestClientCert
	defer srv.Close()
	dir := t.TempDir()
	anchor := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	os.WriteFile(filepath.Join(dir, "masa.pem"), anchor, 0o600)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "SN-1", SerialNumber: "SN-1"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	os.WriteFile(filepath.Join(dir, "f.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "f.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	args := []string{"agent", "--once", "--brski", "--est", srv.URL + "/.well-known/est",
		"--factory-cert", filepath.Join(dir, "f.pem"), "--factory-key", filepath.Join(dir, "f.key"), "--dir", filepath.Join(dir, "state")}

	var out, errb bytes.Buffer
	if code := Run(context.Background(), args, &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), "--masa-anchor") {
		t.Fatalf("without --masa-anchor: exit %d, stderr %q; want %d", code, errb.String(), ExitUsage)
	}
	errb.Reset()
	code := Run(context.Background(), append(args, "--masa-anchor", filepath.Join(dir, "masa.pem")), &out, &errb)
	if code != ExitInvalid || !strings.Contains(errb.String(), "HTTP 403") || !strings.Contains(errb.String(), "does not hold") {
		t.Fatalf("exit %d, stderr %q; want %d with the registrar's reason", code, errb.String(), ExitInvalid)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "domain-ca.pem")); err == nil {
		t.Error("a refused voucher request pinned a domain certificate")
	}
	if enrolls != 0 {
		t.Errorf("the agent enrolled %d times without a voucher", enrolls)
	}
}
