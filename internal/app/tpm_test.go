//go:build swtpm

package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/keys/tpm"
	"github.com/hallmark-id/hallmark/internal/keys/tpm/swtpmtest"
)

// The tests in this file need swtpm; .ci/run runs them with
// `go test -tags swtpm -run TPM ./internal/app/ ./internal/cli/ ./internal/keys/tpm/`.

// tpmKeys starts a swtpm and returns the keys a deployment with keys.kinds {"ca": "tpm"} has:
// CA keys in the TPM, every other kind (the audit key is Ed25519) in encrypted files.
func tpmKeys(t testing.TB) (keys.Provider, *tpm.Provider, *swtpmtest.TPM, string) {
	t.Helper()
	sw := swtpmtest.Start(t)
	blobs := filepath.Join(t.TempDir(), "tpm")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tp, err := tpm.Open(ctx, tpm.Config{Device: sw.Socket, StorageDir: blobs})
	if err != nil {
		t.Fatalf("opening the TPM: %v", err)
	}
	files, err := keyfile.New(filepath.Join(t.TempDir(), "keys"), keys.Secret("tpm-test"))
	if err != nil {
		t.Fatal(err)
	}
	r := keys.NewRouter(files, map[keys.Kind]keys.Provider{keys.KindCA: tp}, map[string]keys.Locator{tpm.Scheme: tp})
	return routedKeys{r, []namedStats{{"tpm", tp}}}, tp, sw, blobs
}

// tpmMetrics reads hallmark_keys_operations_total{backend="tpm"} by operation/result, and
// hallmark_keys_up{backend="tpm"}.
func tpmMetrics(t *testing.T, a *App) (map[string]float64, float64) {
	t.Helper()
	mfs, err := a.Metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	ops, up := map[string]float64{}, -1.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var backend, op, result string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "backend":
					backend = l.GetValue()
				case "operation":
					op = l.GetValue()
				case "result":
					result = l.GetValue()
				}
			}
			if backend != "tpm" {
				continue
			}
			switch mf.GetName() {
			case "hallmark_keys_operations_total":
				ops[op+"/"+result] = m.GetCounter().GetValue()
			case "hallmark_keys_up":
				up = m.GetGauge().GetValue()
			}
		}
	}
	return ops, up
}

// within polls fn for up to 10 s (a bound, not a performance assertion).
func within(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTPMIssuanceCRLOCSP runs the demo deployment with every CA key in a TPM (swtpm) and the
// other kinds in files: factory and operational issuance, a revocation seen over OCSP and in
// the CRL (both checked by openssl), and an audit checkpoint signed by the Ed25519 key in a
// file, all through the HTTP API. No CA key is in a file; the TPM's storage folder holds only
// wrapped blobs.
func TestTPMIssuanceCRLOCSP(t *testing.T) {
	requireTool(t, "openssl")
	kp, _, _, blobs := tpmKeys(t)
	s, a := statusServerKeys(t, kp)
	dir := t.TempDir()

	lotID := demoLot(t, s, "lot-tpm")
	envID := opEnv(t, s, "plant-tpm", nil)
	good := deliveredDevice(t, s, dir, lotID, "lot-tpm", "SN-TG")
	onboard(t, s, dir, envID, "SN-TG", "tg-op", 201)
	bad := deliveredDevice(t, s, dir, lotID, "lot-tpm", "SN-TR")
	onboard(t, s, dir, envID, "SN-TR", "tr-op", 201)
	mf := splitPEM(t, good.ChainPEM)
	writeFile(t, dir, "mf-chain.pem", mf[0]+mf[1])
	if out := run(t, dir, "openssl", "verify", "-CAfile", "mf-chain.pem", "SN-TG.factory.pem"); !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify of a factory certificate signed in the TPM:\n%s", out)
	}
	s.must(t, 200, oscar, "POST", "/v1/devices/"+bad.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	var cas struct {
		Items []struct {
			ID, Name       string
			CertificatePEM string `json:"certificate_pem"`
		} `json:"items"`
	}
	s.must(t, 200, oscar, "GET", "/v1/cas", nil).json(t, &cas)
	var opIssuing, opRoot string
	for _, c := range cas.Items {
		switch c.Name {
		case "contoso-ops":
			opIssuing = c.CertificatePEM
		case "contoso-ops-root":
			opRoot = c.CertificatePEM
		}
	}
	writeFile(t, dir, "op-issuing.pem", opIssuing)
	writeFile(t, dir, "op-root.pem", opRoot)
	writeFile(t, dir, "op-chain.pem", opIssuing+opRoot)
	if got := ocspCheck(t, dir, "op-issuing.pem", "tg-op.pem", "op-root.pem"); got != "good" {
		t.Errorf("OCSP of a good certificate: %q", got)
	}
	within(t, "OCSP and the CRL show the revocation", func() bool {
		return strings.HasPrefix(ocspCheck(t, dir, "op-issuing.pem", "tr-op.pem", "op-root.pem"), "revoked") &&
			strings.Contains(crlCheck(t, s, dir, "tr-op.pem", "op-chain.pem"), "certificate revoked")
	})
	if out := crlCheck(t, s, dir, "SN-TG.factory.pem", "mf-chain.pem"); !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify -crl_check with a manufacturing CRL signed in the TPM:\n%s", out)
	}

	// The audit checkpoint is signed by the Ed25519 key, which lives in a file.
	vkey := strings.TrimSpace(string(s.must(t, 200, "", "GET", "/v1/audit/key", nil).Body))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	cp := s.must(t, 200, audrey, "POST", "/v1/audit/checkpoint", nil).Body
	if _, err := note.Open(cp, note.VerifierList(v)); err != nil {
		t.Fatalf("the checkpoint does not verify with %s: %v", vkey, err)
	}

	// Every CA's key is a blob in the TPM's folder; none is a file key; nothing there is clear.
	n := 0
	for _, c := range cas.Items {
		if m, _ := filepath.Glob(filepath.Join(s.dir, "keys", c.ID+"*")); len(m) != 0 {
			t.Errorf("CA %s has a key file: %v", c.Name, m)
		}
	}
	err = filepath.WalkDir(blobs, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if strings.Contains(string(b), "PRIVATE KEY") {
			t.Errorf("%s holds a PEM private key", path)
		}
		if strings.Contains(string(b), `"name":"ca-`) {
			n++
		}
		return err
	})
	if err != nil || n < 4 {
		t.Errorf("%d CA keys in the TPM's folder (%v), want at least 4", n, err)
	}
	ops, up := tpmMetrics(t, a)
	if ops["sign/ok"] < 10 || up != 1 || ops["sign/device"] != 0 {
		t.Errorf("metrics: %v, up %v", ops, up)
	}
}

// TestTPMBadInputAndLoss: through the API, a CA import by a key URI that does not resolve or
// names another TPM storage is refused with 400 and stores nothing; then the TPM goes away
// mid-run: issuance answers 503 saying the TPM cannot be reached and stores no device, the
// server keeps serving reads, and the metrics say the TPM is down; once it is back, issuance
// works again without a restart.
func TestTPMBadInputAndLoss(t *testing.T) {
	requireTool(t, "openssl")
	kp, tp, sw, blobs := tpmKeys(t)
	s, a := statusServerKeys(t, kp)
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-tloss")
	issueFactory(t, s, dir, lotID, "lot-tloss", "SN-TL1")

	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ext.key",
		"-subj", "/O=Acme Devices/CN=Acme External CA", "-days", "3650", "-out", "ext.pem",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	_, spare, err := tp.CreateURI(context.Background(), "tpmkms:name=spare", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := read(t, dir, "ext.pem")
	var casBefore items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &casBefore)
	before := auditCount(t, s)
	imp := func(uri string) resp {
		return s.call(t, alice, "POST", "/v1/manufacturing/imports", map[string]any{"manufacturer_id": "acme", "name": "ext", "certificate_pem": certPEM, "key_uri": uri})
	}
	for _, bad := range []struct{ name, uri, says string }{
		{"does not resolve", "tpmkms:name=nope", `holds no key named "nope"`},
		{"another storage", "tpmkms:name=spare;storage-directory=/elsewhere", "keeps its TPM keys in " + blobs},
		{"attestation options", "tpmkms:name=spare;ak=true", `"ak" is not supported`},
		{"key of another certificate", spare, "does not belong to the certificate"},
	} {
		res := imp(bad.uri)
		if res.Status != 400 {
			t.Errorf("import, key URI %s: status %d, want 400: %s", bad.name, res.Status, res.Body)
			continue
		}
		if d, _ := res.problem(t)["detail"].(string); !strings.Contains(d, bad.says) {
			t.Errorf("import, key URI %s: detail %q, want it to say %q", bad.name, d, bad.says)
		}
	}

	// The TPM goes away.
	sw.Stop()
	var devs struct {
		Items []struct{ ID string } `json:"items"`
	}
	s.must(t, 200, alice, "GET", "/v1/devices?lot="+lotID, nil).json(t, &devs)
	devicesBefore := len(devs.Items)
	csr := newCSR(t, dir, "SN-TL2")
	issue := func() resp {
		return s.call(t, station, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": csr, "build_record": record("SN-TL2", "lot-tloss")})
	}
	start := time.Now()
	res := issue()
	if res.Status != http.StatusServiceUnavailable {
		t.Fatalf("issuance with the TPM gone: status %d, want 503: %s", res.Status, res.Body)
	}
	if d, _ := res.problem(t)["detail"].(string); !strings.Contains(d, "cannot be reached") {
		t.Errorf("issuance with the TPM gone: detail %q does not say the TPM cannot be reached", d)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("the failed issuance took %s; want an answer within 30 s", time.Since(start))
	}
	if res := imp(spare); res.Status != http.StatusServiceUnavailable {
		t.Errorf("import with the TPM gone: status %d, want 503: %s", res.Status, res.Body)
	}
	if res, err := s.http.Get(s.info.APIURL + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz with the TPM gone: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	s.must(t, 200, alice, "GET", "/v1/devices?lot="+lotID, nil).json(t, &devs)
	if len(devs.Items) != devicesBefore {
		t.Errorf("a failed issuance stored a device: %d → %d", devicesBefore, len(devs.Items))
	}
	ops, up := tpmMetrics(t, a)
	if up != 0 || ops["sign/device"]+ops["find/device"] == 0 {
		t.Errorf("metrics with the TPM gone: up %v, ops %v; want down, device failures counted", up, ops)
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("refused or failed requests appended audit events: %d → %d", before, after)
	}
	var casAfter items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &casAfter)
	if len(casAfter.Items) != len(casBefore.Items) {
		t.Errorf("refused imports stored a CA: %d → %d", len(casBefore.Items), len(casAfter.Items))
	}

	// The TPM comes back (the same TPM: its state survived): issuance works, no restart.
	sw.Restart()
	for i := 0; ; i++ {
		res = issue()
		if res.Status == 201 {
			break
		}
		if i == 40 {
			t.Fatalf("issuance after the TPM came back: status %d: %s", res.Status, res.Body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if _, up := tpmMetrics(t, a); up != 1 {
		t.Errorf("hallmark_keys_up{backend=\"tpm\"} = %v after recovery, want 1", up)
	}
}

// TestTPMServeConfig runs `hallmark serve --config` with keys.backend "tpm": without a
// placement for the audit key the configuration is refused at start, naming the fix; with
// keys.kinds.audit "file" the server starts, keeps its audit key in a file, and its metrics
// show the TPM up.
func TestTPMServeConfig(t *testing.T) {
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir}
	c.writeTLS()
	addr := freeAddr(t)
	metricsAddr := freeAddr(t)
	keysCfg := map[string]any{"backend": "tpm", "tpm": map[string]any{"device": sw.Socket, "storage_dir": filepath.Join(dir, "tpm")}}
	write := func() Options {
		cfg := map[string]any{
			"listen": addr, "public_url": "https://" + addr, "store": map[string]any{"driver": "sqlite", "path": filepath.Join(dir, "hallmark.db")},
			"keys":    keysCfg,
			"tls":     map[string]any{"cert_file": filepath.Join(dir, "tls.pem"), "key_file": filepath.Join(dir, "tls.key")},
			"metrics": map[string]any{"listen": metricsAddr},
			"log":     map[string]any{"level": "info", "format": "json"},
		}
		b, _ := json.Marshal(cfg)
		writeFile(t, dir, "hallmark.json", string(b))
		return Options{ConfigFile: filepath.Join(dir, "hallmark.json")}
	}
	err := Serve(context.Background(), write(), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the audit checkpoint key is Ed25519, which a TPM 2.0 cannot hold") {
		t.Fatalf("serve with the audit key in a TPM: %v; want it refused at start", err)
	}
	keysCfg["kinds"] = map[string]any{"audit": "file"}
	keysCfg["dir"] = filepath.Join(dir, "keys")
	t.Setenv("HALLMARK_KEY_PASSPHRASE", "tpm-serve-test")
	opts := write()
	var logs lockedLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, opts, io.Discard, &logs) }()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool}}}
	var metrics string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := hc.Get("https://" + addr + "/v1/audit/key"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				if m, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
					b, _ := io.ReadAll(m.Body)
					m.Body.Close()
					metrics = string(b)
					break
				}
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
	if m, _ := filepath.Glob(filepath.Join(dir, "keys", "audit-checkpoint*")); len(m) != 1 {
		t.Errorf("the audit key is not in a file: %v", m)
	}
	if !strings.Contains(metrics, `hallmark_keys_up{backend="tpm"} 1`) {
		t.Errorf("metrics do not show the TPM up:\n%s", grepLines(metrics, "hallmark_keys"))
	}
	if l := logs.String(); !strings.Contains(l, `"backend":"tpm"`) || !strings.Contains(l, `"kind":"audit","backend":"file"`) {
		t.Errorf("logs do not name the TPM backend and the audit key's placement:\n%s", l)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// lockedLog is a log a server writes and a test reads.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
