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
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/app"
)

// deployment is a dev server of its own (directory, database, keys) in this process.
type deployment struct {
	info   app.DevInfo
	tokens map[string]string
	http   *http.Client
}

func startDeployment(t *testing.T) *deployment {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.Options{Dev: true, DataDir: dir, Listen: "127.0.0.1:0"}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
	})
	d := &deployment{}
	for deadline := time.Now().Add(60 * time.Second); ; {
		if b, err := os.ReadFile(filepath.Join(dir, "dev.json")); err == nil && json.Unmarshal(b, &d.info) == nil {
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
	b, err := os.ReadFile(d.info.TokenFile)
	if err != nil || json.Unmarshal(b, &d.tokens) != nil {
		t.Fatalf("tokens: %v", err)
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(d.info.TLSCAFile)
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("reading the dev TLS CA: %v", err)
	}
	d.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return d
}

// call sends a request as who; body is JSON-encoded unless it is []byte.
func (d *deployment) call(t *testing.T, who, method, path string, body any) (int, []byte) {
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
	req, err := http.NewRequest(method, d.info.APIURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+d.tokens[who])
	}
	res, err := d.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, out
}

func (d *deployment) must(t *testing.T, want int, who, method, path string, body, out any) {
	t.Helper()
	code, b := d.call(t, who, method, path, body)
	if code != want {
		t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, who, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
	}
}

// cli runs hallmark against d as who.
func (d *deployment) cli(t *testing.T, who string, args ...string) (int, string, string) {
	t.Helper()
	return run(t, append(args, "--server", d.info.APIURL, "--token", d.tokens[who], "--cacert", d.info.TLSCAFile)...)
}

// changes counts d's audit events other than refusals, and its devices seen by contoso.
func (d *deployment) changes(t *testing.T) (events, devices int) {
	t.Helper()
	var evs struct{ Items []struct{ Action string } }
	d.must(t, 200, "auditco/audrey", "GET", "/v1/audit/events?limit=1000", nil, &evs)
	for _, e := range evs.Items {
		if e.Action != "refusal" {
			events++
		}
	}
	var devs struct{ Items []any }
	d.must(t, 200, "contoso/oscar", "GET", "/v1/devices?limit=1000", nil, &devs)
	return events, len(devs.Items)
}

func writeKeyPair(t *testing.T, dir, name string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, dir, name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	writeTestFile(t, dir, name+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

func writeTestFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// makeDevices issues factory identities at the maker deployment m (acme's lot, fabrikam's
// station) and returns the device IDs by serial.
func makeDevices(t *testing.T, m *deployment, serials ...string) (ids map[string]string, issuingID, rootFile string) {
	t.Helper()
	var cas struct {
		Items []struct{ ID, Role string }
	}
	m.must(t, 200, "acme/alice", "GET", "/v1/cas", nil, &cas)
	rootID := ""
	for _, c := range cas.Items {
		switch {
		case c.Role == "issuing" && issuingID == "":
			issuingID = c.ID
		case c.Role == "root" && rootID == "":
			rootID = c.ID
		}
	}
	var models struct{ Items []struct{ ID string } }
	m.must(t, 200, "acme/alice", "GET", "/v1/models?manufacturer=acme", nil, &models)
	var lot struct{ ID string }
	m.must(t, 201, "acme/alice", "POST", "/v1/lots", map[string]any{"model_id": models.Items[0].ID, "name": "lot-v", "line": "line-a",
		"issuing_ca_id": issuingID, "delegate_to": "fabrikam"}, &lot)
	ids = map[string]string{}
	for _, serial := range serials {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: serial}}, k)
		if err != nil {
			t.Fatal(err)
		}
		var fi struct{ Device struct{ ID string } }
		m.must(t, 201, "fabrikam/station-1", "POST", "/v1/lots/"+lot.ID+"/devices", map[string]any{
			"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})),
			"build_record": map[string]any{"manufacturer": "acme", "model": "sensor-x", "serial": serial, "lot": "lot-v", "line": "line-a", "components": []any{},
				"firmwareDigest": map[string]string{"sha256": strings.Repeat("0f", 32)}, "testResult": "pass", "builtAt": "2026-11-28T10:00:00Z"}}, &fi)
		ids[serial] = fi.Device.ID
	}
	return ids, issuingID, m.info.CAFiles[rootID]
}

// mutate rewrites a voucher file through its JSON form.
func mutate(t *testing.T, file []byte, f func(v map[string]any)) []byte {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(file, &v); err != nil {
		t.Fatal(err)
	}
	f(v)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCustodyVouchers hands devices from a maker's deployment through a distributor that runs
// none to an operator's deployment, and checks that each refusal of issue 18 point 1 is
// refused with a clear error through the HTTP API and the CLI alike, and changes nothing.
func TestCustodyVouchers(t *testing.T) {
	maker, op := startDeployment(t), startDeployment(t)
	dir := t.TempDir()
	ids, issuingID, rootFile := makeDevices(t, maker, "SN-V1", "SN-V2", "SN-V3")
	code, brk := maker.call(t, "", "GET", "/v1/manufacturers/acme/build-record-key", nil)
	if code != 200 {
		t.Fatalf("build-record key: %d %s", code, brk)
	}
	brFile := writeTestFile(t, dir, "acme-br.pub", brk)
	for _, k := range []string{"dist", "op", "stranger"} {
		writeKeyPair(t, dir, k)
	}
	p := func(name string) string { return filepath.Join(dir, name) }

	// The operator registers the maker (its anchor, build-record key and OCSP) and its own
	// custody key.
	if c, out, errs := op.cli(t, "contoso/oscar", "maker", "register", "--name", "acme-devices", "--anchor", rootFile, "--build-record-key", brFile,
		"--ocsp", maker.info.StatusURL+"/ocsp/"+issuingID); c != 0 {
		t.Fatalf("maker register: %d %s %s", c, out, errs)
	}
	if c, out, errs := op.cli(t, "contoso/oscar", "voucher", "key", "register", "--name", "op-custody", "--key", p("op.pub")); c != 0 {
		t.Fatalf("voucher key register: %d %s %s", c, out, errs)
	}

	// The holder (fabrikam) exports two devices to the distributor; they are handed off.
	if c, out, errs := maker.cli(t, "fabrikam/station-1", "voucher", "export", ids["SN-V1"], ids["SN-V2"], "--to", "dist", "--to-key", p("dist.pub"), "--out", p("v0.json")); c != 0 {
		t.Fatalf("voucher export: %d %s %s", c, out, errs)
	}
	var dev struct{ State string }
	maker.must(t, 200, "fabrikam/station-1", "GET", "/v1/devices/"+ids["SN-V1"], nil, &dev)
	if dev.State != "handed-off" {
		t.Errorf("an exported device is %s, want handed-off", dev.State)
	}
	if code, b := maker.call(t, "fabrikam/station-1", "POST", "/v1/custody/vouchers/export", map[string]any{"device_ids": []string{ids["SN-V1"]}, "to": "x",
		"to_key_pem": string(readTest(t, p("op.pub")))}); code != 409 || !strings.Contains(string(b), "handed off already") {
		t.Errorf("a second export of a handed-off device: %d %s", code, b)
	}
	if code, b := maker.call(t, "fabrikam/station-1", "POST", "/v1/transfers", map[string]any{"to": "northwind", "device_ids": []string{ids["SN-V1"]}}); code != 409 {
		t.Errorf("a transfer of a handed-off device: %d %s", code, b)
	}

	// The distributor extends it offline with its own key; nobody else can.
	if c, _, errs := run(t, "voucher", "extend", "--voucher", p("v0.json"), "--key", p("stranger.key"), "--to", "x", "--to-key", p("op.pub"), "--out", p("bad.json")); c != ExitDenied ||
		!strings.Contains(errs, "only the current addressee") {
		t.Errorf("extend by a key the voucher is not addressed to: exit %d, %s", c, errs)
	}
	if _, err := os.Stat(p("bad.json")); err == nil {
		t.Error("a refused extend wrote its output")
	}
	if c, out, errs := run(t, "voucher", "extend", "--voucher", p("v0.json"), "--key", p("dist.key"), "--from", "dist", "--to", "contoso", "--to-key", p("op.pub"), "--out", p("v1.json")); c != 0 {
		t.Fatalf("voucher extend: %d %s %s", c, out, errs)
	}
	// ... and hands the same devices to a stranger as well (a double hand-over).
	if c, out, errs := run(t, "voucher", "extend", "--voucher", p("v0.json"), "--key", p("dist.key"), "--to", "stranger", "--to-key", p("stranger.pub"), "--out", p("v1s.json")); c != 0 {
		t.Fatalf("voucher extend: %d %s %s", c, out, errs)
	}
	// Anyone verifies it offline, with no server.
	if c, out, errs := run(t, "voucher", "verify", "--voucher", p("v1.json"), "--anchor", rootFile, "--build-record-key", brFile, "--addressee", p("op.pub")); c != 0 ||
		!strings.Contains(out, "custody voucher OK: 2 devices (SN-V1, SN-V2)") || !strings.Contains(out, "link 1: dist -> contoso") {
		t.Fatalf("voucher verify: %d %s %s", c, out, errs)
	}
	v1 := readTest(t, p("v1.json"))

	// A third device goes straight to the operator, and the maker then revokes it.
	if c, out, errs := maker.cli(t, "fabrikam/station-1", "voucher", "export", ids["SN-V3"], "--to", "contoso", "--to-key", p("op.pub"), "--out", p("vrev.json")); c != 0 {
		t.Fatalf("voucher export: %d %s %s", c, out, errs)
	}
	maker.must(t, 201, "acme/alice", "POST", "/v1/manufacturing/revocations", map[string]any{
		"selector": map[string]string{"manufacturer_id": "acme", "device_id": ids["SN-V3"]}, "reason": "keyCompromise", "dry_run": false}, nil)

	refusals := []struct {
		name   string
		file   []byte
		status int
		exit   int
		want   string
	}{
		{"wrong addressee", readTest(t, p("v1s.json")), 403, ExitDenied, "wrong addressee"},
		{"truncated at the end", readTest(t, p("v0.json")), 403, ExitDenied, "wrong addressee"},
		{"truncated at the start", mutate(t, v1, func(v map[string]any) { v["links"] = v["links"].([]any)[1:] }), 400, ExitInvalid, "re-ordered or truncated"},
		{"re-ordered", mutate(t, v1, func(v map[string]any) {
			l := v["links"].([]any)
			l[0], l[1] = l[1], l[0]
		}), 400, ExitInvalid, "re-ordered or truncated"},
		{"tampered build record", mutate(t, v1, func(v map[string]any) {
			br := v["devices"].([]any)[0].(map[string]any)["buildRecord"].(map[string]any)
			payload, _ := base64.StdEncoding.DecodeString(br["payload"].(string))
			br["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(payload, []byte(`"lot-v"`), []byte(`"lot-w"`), 1))
		}), 400, ExitInvalid, "no valid signature"},
		{"revoked factory identity", readTest(t, p("vrev.json")), 403, ExitDenied, "device SN-V3 of the voucher"},
	}
	events, devices := op.changes(t)
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			code, b := op.call(t, "contoso/oscar", "POST", "/v1/custody/vouchers/import", r.file)
			if code != r.status || !strings.Contains(string(b), r.want) {
				t.Errorf("HTTP import: %d %s, want %d naming %q", code, b, r.status, r.want)
			}
			f := writeTestFile(t, dir, strings.ReplaceAll(r.name, " ", "-")+".json", r.file)
			if c, _, errs := op.cli(t, "contoso/oscar", "voucher", "import", "--file", f); c != r.exit || !strings.Contains(errs, r.want) {
				t.Errorf("hallmark voucher import: exit %d %s, want %d naming %q", c, errs, r.exit, r.want)
			}
			if e, d := op.changes(t); e != events || d != devices {
				t.Errorf("a refused import changed something: events %d -> %d, devices %d -> %d", events, e, devices, d)
			}
		})
	}
	// The tampered voucher fails offline too.
	f := writeTestFile(t, dir, "tampered.json", refusals[4].file)
	if c, _, errs := run(t, "voucher", "verify", "--voucher", f, "--anchor", rootFile, "--build-record-key", brFile); c != ExitInvalid || !strings.Contains(errs, "no valid signature") {
		t.Errorf("offline verify of a tampered voucher: exit %d %s", c, errs)
	}

	// The good voucher imports: the devices are contoso's, registered, of the maker.
	c, out, errs := op.cli(t, "contoso/oscar", "voucher", "import", "--file", p("v1.json"), "-o", "json")
	if c != 0 {
		t.Fatalf("voucher import: %d %s %s", c, out, errs)
	}
	var imp struct {
		DeviceIDs []string `json:"device_ids"`
		MakerName string   `json:"maker_name"`
	}
	if err := json.Unmarshal([]byte(out), &imp); err != nil || len(imp.DeviceIDs) != 2 || imp.MakerName != "acme-devices" {
		t.Fatalf("import answer %s (%v)", out, err)
	}
	for _, id := range imp.DeviceIDs {
		var d struct {
			State       string
			CustodianID string `json:"custodian_id"`
		}
		op.must(t, 200, "contoso/oscar", "GET", "/v1/devices/"+id, nil, &d)
		if d.State != "registered" || d.CustodianID != "contoso" {
			t.Errorf("imported device %s: %+v", id, d)
		}
	}
	var evs struct{ Items []struct{ Action string } }
	op.must(t, 200, "auditco/audrey", "GET", "/v1/audit/events?limit=1000", nil, &evs)
	if !strings.Contains(fmt.Sprint(evs.Items), "custody.voucher.import") {
		t.Error("no custody.voucher.import audit event")
	}

	// A replay, through either door, and the double hand-over, are refused and change nothing.
	events, devices = op.changes(t)
	if code, b := op.call(t, "contoso/oscar", "POST", "/v1/custody/vouchers/import", v1); code != 409 || !strings.Contains(string(b), "replay") {
		t.Errorf("HTTP replay: %d %s", code, b)
	}
	if c, _, errs := op.cli(t, "contoso/oscar", "voucher", "import", "--file", p("v1.json")); c != ExitConflict || !strings.Contains(errs, "replay") {
		t.Errorf("CLI replay: exit %d %s", c, errs)
	}
	// The distributor hands the same devices to the operator a second time.
	if c, out, errs := run(t, "voucher", "extend", "--voucher", p("v0.json"), "--key", p("dist.key"), "--to", "contoso", "--to-key", p("op.pub"), "--out", p("v1b.json")); c != 0 {
		t.Fatalf("voucher extend: %d %s %s", c, out, errs)
	}
	if code, b := op.call(t, "contoso/oscar", "POST", "/v1/custody/vouchers/import", readTest(t, p("v1b.json"))); code != 409 || !strings.Contains(string(b), "link 0 of this voucher") {
		t.Errorf("HTTP double hand-over: %d %s", code, b)
	}
	if c, _, errs := op.cli(t, "contoso/oscar", "voucher", "import", "--file", p("v1b.json")); c != ExitConflict || !strings.Contains(errs, "link 0 of this voucher") {
		t.Errorf("CLI double hand-over: exit %d %s", c, errs)
	}
	if code, b := op.call(t, "northwind/dana", "POST", "/v1/custody/vouchers/import", v1); code == 201 {
		t.Errorf("import by a party without the maker: %d %s", code, b)
	}
	if e, d := op.changes(t); e != events || d != devices {
		t.Errorf("a refused replay changed something: events %d -> %d, devices %d -> %d", events, e, devices, d)
	}
}

func readTest(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
