//go:build swtpm

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
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/keys/tpm"
	"github.com/hallmark-id/hallmark/internal/keys/tpm/swtpmtest"
)

// tpmServer runs the dev server in this process with its CA keys in the TPM at sock (blobs in
// storage) and every other kind of key in encrypted files, as keys.kinds {"ca": "tpm"} does.
func tpmServer(t *testing.T, sock, storage string) (app.DevInfo, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tp, err := tpm.Open(c, tpm.Config{Device: sock, StorageDir: storage})
	if err != nil {
		t.Fatal(err)
	}
	files, err := keyfile.New(filepath.Join(dir, "keys"), keys.Secret("tpm-ceremony"))
	if err != nil {
		t.Fatal(err)
	}
	kp := keys.NewRouter(files, map[keys.Kind]keys.Provider{keys.KindCA: tp}, map[string]keys.Locator{tpm.Scheme: tp})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.Options{Dev: true, DataDir: dir, Listen: "127.0.0.1:0", DevKeys: kp}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
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

// TestTPMCeremony runs the key ceremony with TPM keys: a root whose key is made in the TPM
// (its blobs in a folder of its own, kept offline) signs itself; the issuing CA's key is made
// in the TPM with the server's storage folder, with a CSR; the root signs it; the server
// imports the issuing CA by certificate and key URI; the imported CA issues a device
// certificate that openssl verifies up to the root, and signs its CRL and OCSP answers in
// the TPM. A key URI that does not resolve, or names a PKCS#11 key, is refused.
func TestTPMCeremony(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }
	serverBlobs, rootBlobs := file("server-tpm"), file("root-tpm")
	info, tokens := tpmServer(t, sw.Socket, serverBlobs)
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
	root := step("ceremony", "root", "--tpm-device", sw.Socket, "--tpm-storage-dir", rootBlobs, "--key-uri", "tpmkms:name=acme-root-2026",
		"--name", "Acme Root CA", "--org", "Acme Devices", "--out", file("root.pem"))
	if root["key_uri"] != "tpmkms:name=acme-root-2026" || root["algorithm"] != "ecdsa-p384" {
		t.Fatalf("root record: %v", root)
	}
	iss := step("ceremony", "issuing-csr", "--key-uri", "tpmkms:name=acme-issuing-2026;device="+sw.Socket+";storage-directory="+serverBlobs,
		"--name", "Acme Issuing CA 2026", "--org", "Acme Devices", "--out", file("issuing.csr"))
	step("ceremony", "sign", "--tpm-device", sw.Socket, "--tpm-storage-dir", rootBlobs, "--root-cert", file("root.pem"), "--root-key-uri", root["key_uri"],
		"--csr", file("issuing.csr"), "--out", file("issuing.pem"), "--lifetime", "87600h")
	if out, err := exec.Command("openssl", "verify", "-CAfile", file("root.pem"), file("issuing.pem")).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify issuing.pem: %v: %s", err, out)
	}
	// A second key of that name cannot be made: the name is taken.
	if code, _, errOut := run(t, "ceremony", "issuing-csr", "--tpm-device", sw.Socket, "--tpm-storage-dir", serverBlobs, "--key-uri", iss["key_uri"],
		"--name", "Again", "--out", file("again.csr")); code == ExitOK || !strings.Contains(errOut, "exists already") {
		t.Errorf("a second key under the same name: exit %d: %s", code, errOut)
	}

	apiFlags := []string{"--server", info.APIURL, "--token", tokens["acme/alice"], "--cacert", info.TLSCAFile}
	imp := func(args ...string) (int, string, string) {
		return run(t, append(append([]string{"ca", "import", "--manufacturer", "acme"}, args...), apiFlags...)...)
	}
	for _, bad := range []struct{ uri, want string }{
		{"tpmkms:name=nope", `no key named "nope"`},
		{root["key_uri"], `no key named "acme-root-2026"`}, // the root's blobs are not the server's
		{"pkcs11:token=hallmark;object=acme-issuing-2026", `no configured key backend resolves "pkcs11" key URIs`},
		{"tpmkms:name=acme-issuing-2026;storage-directory=/elsewhere", "keeps its TPM keys in " + serverBlobs},
	} {
		if code, _, errOut := imp("--name", "bad", "--cert", file("issuing.pem"), "--key-uri", bad.uri); code == ExitOK || !strings.Contains(errOut, bad.want) {
			t.Errorf("import with key URI %s: exit %d: %s; want it to say %q", bad.uri, code, errOut, bad.want)
		}
	}
	code, out, errOut := imp("--name", "acme-issuing-2026", "--cert", file("issuing.pem"), "--key-uri", iss["key_uri"], "-o", "json")
	if code != ExitOK {
		t.Fatalf("ca import --key-uri: exit %d: %s", code, errOut)
	}
	var ca api.CA
	if err := json.Unmarshal([]byte(out), &ca); err != nil {
		t.Fatal(err)
	}
	if ca.KeyID != "tpmkms:name=acme-issuing-2026" || !ca.Imported || ca.Role != "issuing" {
		t.Fatalf("imported CA: key %q imported %v role %s", ca.KeyID, ca.Imported, ca.Role)
	}

	alice, _ := client.New(info.APIURL, tokens["acme/alice"], client.WithCAFile(info.TLSCAFile))
	station, _ := client.New(info.APIURL, tokens["fabrikam/station-1"], client.WithCAFile(info.TLSCAFile))
	ctx := context.Background()
	models, err := alice.ListModels(ctx, "acme")
	if err != nil || len(models) == 0 {
		t.Fatalf("models: %v", err)
	}
	lot, err := alice.CreateLot(ctx, api.CreateLotRequest{ModelID: models[0].ID, Name: "lot-tpm", Line: "line-a", IssuingCAID: ca.ID, DelegateTo: "fabrikam"})
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "SN-T1"}}, dk)
	br, _ := json.Marshal(map[string]any{
		"manufacturer": "acme", "model": models[0].Name, "hardwareRevision": "B", "serial": "SN-T1", "lot": "lot-tpm", "line": "line-a",
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
	var der []byte
	var status int
	for i := 0; i < 50; i++ { // the status service picks a new CA up from the store's change feed
		res, err := web.Get(devCert.CRLDistributionPoints[0])
		if err != nil {
			t.Fatal(err)
		}
		der, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if status = res.StatusCode; status == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || crl.CheckSignatureFrom(issCert) != nil {
		t.Fatalf("the CRL of the imported CA, signed in the TPM: %v (status %d)", err, status)
	}
	req, _ := ocsp.CreateRequest(devCert, issCert, nil)
	res, err := web.Post(devCert.OCSPServer[0], "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if ans, err := ocsp.ParseResponseForCert(body, devCert, issCert); err != nil || ans.Status != ocsp.Good {
		t.Fatalf("OCSP answer for the device: %v %+v", err, ans)
	}
}
