//go:build pkcs11 && cgo

package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/app"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
)

func TestMain(m *testing.M) { hsmtest.Main(m) }

// ceremonyServer runs the dev server in this process with its keys in token label.
func ceremonyServer(t *testing.T, label, pin string) (app.DevInfo, map[string]string) {
	t.Helper()
	kp, err := pkcs11.Open(pkcs11.Config{ModulePath: hsmtest.Module, Token: label, PIN: keys.Secret(pin)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.Options{Dev: true, DataDir: dir, Listen: "127.0.0.1:0", DevKeys: kp}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
		kp.Close()
	})
	var info app.DevInfo
	for deadline := time.Now().Add(60 * time.Second); ; {
		if b, err := os.ReadFile(filepath.Join(dir, "dev.json")); err == nil && json.Unmarshal(b, &info) == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("dev server exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("dev server did not start within 60 s")
		}
	}
	var tokens map[string]string
	b, err := os.ReadFile(info.TokenFile)
	if err != nil || json.Unmarshal(b, &tokens) != nil {
		t.Fatalf("tokens: %v", err)
	}
	return info, tokens
}

// TestCeremonyEndToEnd scripts docs/ceremony.md: a root whose key is made in an offline token
// signs itself; the issuing CA's key is made in the server's token with a CSR; the root signs
// it; the server imports the issuing CA by certificate and key URI (no private key crosses
// the API, and the import is audited with the URI); the imported CA then issues a device
// certificate that chains to the root, and signs its CRL and OCSP responder in the token.
func TestCeremonyEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	rootLabel, rootPIN := hsmtest.Token(t, "acme-root")
	onLabel, onPIN := hsmtest.Token(t, "hallmark")
	info, tokens := ceremonyServer(t, onLabel, onPIN)
	dir := t.TempDir()
	pinFile := func(name, pin string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(pin+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rootPINFile, onPINFile := pinFile("root.pin", rootPIN), pinFile("hallmark.pin", onPIN)
	file := func(name string) string { return filepath.Join(dir, name) }
	step := func(args ...string) map[string]string {
		t.Helper()
		code, out, errOut := run(t, append(args, "-o", "json", "--transcript", file("ceremony.jsonl"))...)
		if code != ExitOK {
			t.Fatalf("hallmark %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		var rec map[string]string
		if err := json.Unmarshal([]byte(out), &rec); err != nil {
			t.Fatalf("transcript record: %v: %s", err, out)
		}
		return rec
	}

	// 1. The root: key in the offline token, self-signed.
	root := step("ceremony", "root", "--module", hsmtest.Module, "--pin-file", rootPINFile, "--key-uri", "pkcs11:token="+rootLabel+";object=acme-root-2026",
		"--name", "Acme Root CA", "--org", "Acme Devices", "--out", file("root.pem"))
	// 2. The issuing CA's key in the server's token, and its CSR.
	t.Setenv(EnvHSMPIN, onPIN) // this step reads the PIN from the environment
	iss := step("ceremony", "issuing-csr", "--module", hsmtest.Module, "--key-uri", "pkcs11:token="+onLabel+";object=acme-issuing-2026",
		"--name", "Acme Issuing CA 2026", "--org", "Acme Devices", "--out", file("issuing.csr"))
	// 3. The root signs it (module and PIN file given in the key URI this time).
	signed := step("ceremony", "sign", "--root-cert", file("root.pem"), "--csr", file("issuing.csr"), "--out", file("issuing.pem"), "--lifetime", "87600h",
		"--root-key-uri", root["key_uri"]+"?module-path="+hsmtest.Module+"&pin-source=file:"+rootPINFile)
	if signed["key_uri"] != root["key_uri"] || !strings.Contains(signed["subject"], "Acme Issuing CA 2026") || signed["issuer"] != root["subject"] {
		t.Fatalf("sign record %v does not match root %v", signed, root)
	}
	if out, err := exec.Command("openssl", "verify", "-CAfile", file("root.pem"), file("issuing.pem")).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify issuing.pem: %v: %s", err, out)
	}
	trn, err := os.ReadFile(file("ceremony.jsonl"))
	if err != nil || strings.Count(string(trn), "\n") != 3 || !strings.Contains(string(trn), `"step":"issuing-csr"`) {
		t.Fatalf("transcript: %v\n%s", err, trn)
	}
	if bytes.Contains(trn, []byte(rootPIN)) || bytes.Contains(trn, []byte(onPIN)) {
		t.Fatal("the transcript contains a PIN")
	}

	// 4. The server imports the issuing CA by certificate and key URI.
	apiFlags := []string{"--server", info.APIURL, "--token", tokens["acme/alice"], "--cacert", info.TLSCAFile}
	imp := func(args ...string) (int, string, string) {
		return run(t, append(append([]string{"ca", "import", "--manufacturer", "acme"}, args...), apiFlags...)...)
	}
	// Refusals first: the root's key is not in the server's token; a key of the server's token
	// that is not the certificate's; a private key sent over the API to an HSM server.
	code, _, errOut := imp("--name", "bad-1", "--cert", file("issuing.pem"), "--key-uri", root["key_uri"])
	if code != ExitInvalid || !strings.Contains(errOut, "names token \""+rootLabel+"\"") {
		t.Errorf("import with the root's key URI: exit %d: %s", code, errOut)
	}
	spare := step("ceremony", "issuing-csr", "--module", hsmtest.Module, "--pin-file", onPINFile, "--key-uri", "pkcs11:token="+onLabel+";object=spare",
		"--name", "Spare", "--out", file("spare.csr"))
	code, _, errOut = imp("--name", "bad-2", "--cert", file("issuing.pem"), "--key-uri", spare["key_uri"])
	if code != ExitInvalid || !strings.Contains(errOut, "does not belong to the certificate") {
		t.Errorf("import with another key's URI: exit %d: %s", code, errOut)
	}
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file("file.key"),
		"-subj", "/O=Acme Devices/CN=Acme File CA", "-days", "365", "-out", file("file.pem"),
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign").CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v: %s", err, out)
	}
	code, _, errOut = imp("--name", "bad-3", "--cert", file("file.pem"), "--key", file("file.key"))
	if code != ExitInvalid || !strings.Contains(errOut, "warning: sending a CA private key over the API") || !strings.Contains(errOut, "does not take private keys over its API") {
		t.Errorf("import of a private key into an HSM server: exit %d: %s", code, errOut)
	}
	code, out, errOut := imp("--name", "acme-issuing-2026", "--cert", file("issuing.pem"), "--key-uri", iss["key_uri"], "-o", "json")
	if code != ExitOK {
		t.Fatalf("ca import --key-uri: exit %d: %s", code, errOut)
	}
	var ca api.CA
	if err := json.Unmarshal([]byte(out), &ca); err != nil {
		t.Fatal(err)
	}
	if ca.KeyID != iss["key_uri"] || !ca.Imported || ca.Role != "issuing" {
		t.Fatalf("imported CA: key %q imported %v role %s; want key %s", ca.KeyID, ca.Imported, ca.Role, iss["key_uri"])
	}

	// The import is audited with the key URI.
	hc, err := client.New(info.APIURL, tokens["auditco/audrey"], client.WithCAFile(info.TLSCAFile))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := hc.AuditEvents(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	audited := false
	for _, e := range evs {
		if e.Action == "ca.import" && strings.Contains(string(e.Detail), iss["key_uri"]) && !strings.Contains(string(e.Detail), "private_key_sent") {
			audited = true
		}
	}
	if !audited {
		t.Errorf("no ca.import audit event names the key URI %s", iss["key_uri"])
	}

	// 5. The imported CA issues a device certificate, CRLs and OCSP answers, signing in the token.
	alice, _ := client.New(info.APIURL, tokens["acme/alice"], client.WithCAFile(info.TLSCAFile))
	station, _ := client.New(info.APIURL, tokens["fabrikam/station-1"], client.WithCAFile(info.TLSCAFile))
	ctx := context.Background()
	models, err := alice.ListModels(ctx, "acme")
	if err != nil || len(models) == 0 {
		t.Fatalf("models: %v", err)
	}
	lot, err := alice.CreateLot(ctx, api.CreateLotRequest{ModelID: models[0].ID, Name: "lot-ceremony", Line: "line-a", IssuingCAID: ca.ID, DelegateTo: "fabrikam"})
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "SN-C1"}}, dk)
	br, _ := json.Marshal(map[string]any{
		"manufacturer": "acme", "model": models[0].Name, "hardwareRevision": "B", "serial": "SN-C1", "lot": "lot-ceremony", "line": "line-a",
		"components":     []map[string]any{{"name": "mcu", "version": "1.2", "digest": map[string]string{"sha256": strings.Repeat("ab", 32)}}},
		"firmwareDigest": map[string]string{"sha256": strings.Repeat("0f", 32)}, "testResult": "pass", "builtAt": "2026-11-28T10:00:00Z",
	})
	fi, err := station.IssueFactory(ctx, lot.ID, api.IssueFactoryRequest{CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})), BuildRecord: br})
	if err != nil {
		t.Fatalf("factory issuance from the imported CA: %v", err)
	}
	if err := os.WriteFile(file("dev.pem"), []byte(fi.CertificatePEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("openssl", "verify", "-CAfile", file("root.pem"), "-untrusted", file("issuing.pem"), file("dev.pem")).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify of the device certificate up to the ceremony's root: %v: %s", err, out)
	}
	blk, _ := pem.Decode([]byte(fi.CertificatePEM))
	devCert, _ := x509.ParseCertificate(blk.Bytes)
	issPEM, _ := os.ReadFile(file("issuing.pem"))
	blk, _ = pem.Decode(issPEM)
	issCert, _ := x509.ParseCertificate(blk.Bytes)
	pool := x509.NewCertPool()
	tlsCA, _ := os.ReadFile(info.TLSCAFile)
	pool.AppendCertsFromPEM(tlsCA)
	web := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if len(devCert.CRLDistributionPoints) == 0 || len(devCert.OCSPServer) == 0 {
		t.Fatalf("device certificate names no CRL or OCSP URL: %v %v", devCert.CRLDistributionPoints, devCert.OCSPServer)
	}
	// The status service picks a new CA up from the store's change feed within a second.
	var der []byte
	var res *http.Response
	for i := 0; i < 50; i++ {
		if res, err = web.Get(devCert.CRLDistributionPoints[0]); err != nil {
			t.Fatal(err)
		}
		der, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || crl.CheckSignatureFrom(issCert) != nil {
		t.Fatalf("the CRL of the imported CA: %v (status %d)", err, res.StatusCode)
	}
	req, _ := ocsp.CreateRequest(devCert, issCert, nil)
	res, err = web.Post(devCert.OCSPServer[0], "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	ans, err := ocsp.ParseResponseForCert(body, devCert, issCert)
	if err != nil || ans.Status != ocsp.Good {
		t.Fatalf("OCSP answer for the device: %v %+v", err, ans)
	}
}
