package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// addSection adds a top-level section to a running deployment's configuration and restarts
// it with that configuration.
func (p *hallmarkProc) addSection(key string, v any) {
	p.t.Helper()
	b, err := os.ReadFile(p.ConfigFile)
	if err != nil {
		p.t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		p.t.Fatal(err)
	}
	cfg[key] = v
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(p.ConfigFile, b, 0o600); err != nil {
		p.t.Fatal(err)
	}
	p.Stop()
	p.Start()
}

// passphrase is the key passphrase the harness gave the deployment.
func (p *hallmarkProc) passphrase() string {
	for _, e := range p.env {
		if v, ok := strings.CutPrefix(e, "HALLMARK_KEY_PASSPHRASE="); ok {
			return v
		}
	}
	p.t.Fatal("no HALLMARK_KEY_PASSPHRASE")
	return ""
}

// auditText reads the audit events of a deployment on SQLite whose action starts with prefix,
// as JSON lines.
func auditText(t *testing.T, db, prefix string) string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b strings.Builder
	err = st.View(context.Background(), func(tx store.Tx) error {
		for after := int64(0); ; {
			evs, err := tx.Audit().List(after, 500)
			if err != nil || len(evs) == 0 {
				return err
			}
			for _, e := range evs {
				if strings.HasPrefix(e.Action, prefix) {
					line, _ := json.Marshal(e)
					b.Write(append(line, '\n'))
				}
				after = e.Seq
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestBRSKITwoDeployments is issue 18's test: two real deployments, separate processes and
// databases (the maker on SQLite, the operator on PostgreSQL when HALLMARK_TEST_POSTGRES is
// set). A device made at the maker is exported in a custody voucher to a distributor that runs
// nothing, which extends it offline with `hallmark voucher extend` to the key of the
// operator's registrar; the operator imports it; the device joins the operator's environment
// by BRSKI with `hallmark agent --brski`, the registrar carrying the custody voucher to the
// maker's MASA; the maker revokes its lot and the operator's external-makers watcher suspends
// it. Refused by the MASA: a handed-off device whose registrar carries no voucher, and one
// whose voucher ends at another key than the registrar's.
func TestBRSKITwoDeployments(t *testing.T) {
	for _, tool := range []string{"openssl"} {
		requireTool(t, tool)
	}
	bin := buildBinary(t)
	m := startProcess(t, bin, procSpec{Name: "maker", Config: procConfig("", nil), Bootstrap: &procParty{ID: "acme", Name: "Acme Devices", Kind: "manufacturer"}})
	oSections := map[string]any{"makers": map[string]any{"watch_interval": "1s"}}
	var oEnv []string
	if base := os.Getenv("HALLMARK_TEST_POSTGRES"); base != "" {
		oSections["store"] = map[string]any{"driver": "postgres", "dsn_env": "HALLMARK_TEST_DATABASE_URL"}
		oEnv = append(oEnv, "HALLMARK_TEST_DATABASE_URL="+pgSchema(t))
	}
	o := startProcess(t, bin, procSpec{Name: "operator", Config: procConfig("plant-1", oSections), Env: oEnv, Bootstrap: &procParty{ID: "contoso", Name: "Contoso Utilities", Kind: "operator"}})
	work := t.TempDir()
	path := func(name string) string { return filepath.Join(work, name) }

	// The maker's MASA: a voucher signing key in its key provider and a self-signed
	// certificate, the anchor its devices get. It serves the operator's registrar, whose
	// signing certificate is the operator's TLS certificate.
	run(t, work, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "masa-plain.key")
	run(t, work, "openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "masa-plain.key", "-out", filepath.Join(m.Dir, "keys", "brski-masa.key.pem"), "-passout", "pass:"+m.passphrase())
	run(t, work, "openssl", "req", "-x509", "-new", "-key", "masa-plain.key", "-subj", "/O=Acme Devices/CN=Acme MASA", "-days", "30", "-out", "masa.pem")
	m.addSection("brski", map[string]any{"masa": map[string]any{"url": m.APIURL, "certificate_file": path("masa.pem"), "key": "brski-masa",
		"registrars": []map[string]any{{"party": "contoso", "domain_ca_file": o.TLSCert}}}})
	o.addSection("brski", map[string]any{"registrar": map[string]any{"party": "contoso", "masa_ca_file": m.TLSCert}})

	// M: a hierarchy, a lot, three devices, whose factory certificates name M's MASA.
	alice := m.Principal(m.AdminToken, "acme", "alice", true)
	cas := strings.Fields(m.CLI(alice, "ca", "create-hierarchy", "--manufacturer", "acme", "--name", "acme-mfg", "-o", "id"))
	m.CLI("", "ca", "cert", cas[0], "--out", path("m-root.pem"))
	m.CLI("", "ca", "cert", cas[1], "--out", path("m-issuing.pem"))
	model := strings.TrimSpace(m.CLI(alice, "model", "create", "--manufacturer", "acme", "--name", "sensor-x", "-o", "id"))
	lot := strings.TrimSpace(m.CLI(alice, "lot", "create", "--model", model, "--name", "lot-001", "--line", "line-a", "--issuing-ca", cas[1], "-o", "id"))
	serials := []string{"SN-0001", "SN-0002", "SN-0003"}
	ids := map[string]string{}
	for _, sn := range serials {
		run(t, work, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", sn+".key", "-subj", "/CN="+sn, "-out", sn+".csr")
		writeFile(t, work, sn+".json", fmt.Sprintf(`{"manufacturer": "acme", "model": "sensor-x", "hardwareRevision": "B", "serial": %q,
 "lot": "lot-001", "line": "line-a", "firmwareDigest": {"sha256": "%s"}, "testResult": "pass", "builtAt": "2026-11-28T10:00:00Z"}`, sn, fw))
		ids[sn] = strings.TrimSpace(m.CLI(alice, "factory", "issue", "--lot", lot, "--csr", path(sn+".csr"), "--record", path(sn+".json"), "--cert-out", path(sn+".pem"), "-o", "id"))
	}
	m.CLI("", "buildrecord", "key", "acme", "--out", path("m-brk.pem")) // made with the first build record
	if c := readCert(t, path("SN-0001.pem")); !strings.Contains(string(c.Raw), strings.TrimPrefix(m.APIURL, "https://")) {
		t.Fatalf("the factory certificate does not carry M's MASA URL %s (id-pe-masa-url)", m.APIURL)
	}

	// The distributor runs nothing: a key pair. The operator's custody keys: its registrar's
	// (the EST certificate's) and another.
	run(t, work, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "dist.key")
	run(t, work, "openssl", "pkey", "-in", "dist.key", "-pubout", "-out", "dist.pub")
	run(t, work, "openssl", "x509", "-in", o.TLSCert, "-pubkey", "-noout", "-out", "registrar.pub")
	run(t, work, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "vault.key")
	run(t, work, "openssl", "pkey", "-in", "vault.key", "-pubout", "-out", "vault.pub")
	for _, sn := range serials {
		m.CLI(alice, "voucher", "export", ids[sn], "--to", "dist", "--to-key", path("dist.pub"), "--out", path(sn+".v1.json"))
	}
	extend := func(sn, toKey string) {
		cmd := exec.Command(bin, "voucher", "extend", "--voucher", path(sn+".v1.json"), "--key", path("dist.key"), "--from", "dist", "--to", "contoso",
			"--to-key", path(toKey), "--ttl", "24h", "--out", path(sn+".v2.json"))
		cmd.Env = append(os.Environ(), "HALLMARK_SERVER=", "HALLMARK_TOKEN=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("hallmark voucher extend (offline) of %s: %v\n%s", sn, err, out)
		}
	}
	extend("SN-0001", "registrar.pub")
	extend("SN-0003", "vault.pub")

	// O: an environment, M registered as a maker, its custody keys, the two vouchers imported.
	oscar := o.Principal(o.AdminToken, "contoso", "oscar", true)
	ops := strings.Fields(o.CLI(oscar, "operational", "create-hierarchy", "--operator", "contoso", "--name", "contoso-ops", "-o", "id"))
	o.CLI(oscar, "env", "create", "--operator", "contoso", "--name", "plant-1", "--site", "berlin", "--issuing-ca", ops[len(ops)-1],
		"--trust-domain", "contoso.example", "--lifetime", "24h", "--max-age", "72h")
	makerID := strings.TrimSpace(o.CLI(oscar, "maker", "register", "--name", "acme", "--anchor", path("m-root.pem"), "--intermediate", path("m-issuing.pem"),
		"--build-record-key", path("m-brk.pem"), "-o", "id"))
	o.CLI(oscar, "voucher", "key", "register", "--name", "registrar", "--key", path("registrar.pub"))
	o.CLI(oscar, "voucher", "key", "register", "--name", "vault", "--key", path("vault.pub"))
	o.CLI(oscar, "voucher", "import", "--file", path("SN-0001.v2.json"))
	o.CLI(oscar, "voucher", "import", "--file", path("SN-0003.v2.json"))

	agent := func(sn string) (string, error) {
		cmd := exec.Command(bin, "agent", "--brski", "--masa-anchor", path("masa.pem"), "--est", o.ESTURL, "--factory-cert", path(sn+".pem"),
			"--factory-key", path(sn+".key"), "--dir", path("agent-"+sn), "--firmware-digest", fw, "--hardware-revision", "B", "--once")
		cmd.Env = append(os.Environ(), "HALLMARK_SERVER=", "HALLMARK_TOKEN=", "HALLMARK_CACERT=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := agent("SN-0001")
	if err != nil || !strings.Contains(out, "voucher accepted") {
		t.Fatalf("hallmark agent --brski of SN-0001: %v\n%s\n--- maker log\n%s\n--- operator log\n%s", err, out, m.Tail(), o.Tail())
	}
	t.Logf("agent of SN-0001:\n%s", out)
	var ee *exec.ExitError
	for _, c := range []struct{ sn, want string }{
		{"SN-0002", "no custody voucher presented"},
		{"SN-0003", "wrong final addressee"},
	} {
		if out, err := agent(c.sn); !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(out, c.want) {
			t.Errorf("hallmark agent --brski of %s: %v\n%s; want exit 3 naming %q", c.sn, err, out, c.want)
		}
	}
	// The MASA audits the voucher it issued on the carried custody voucher, and each refusal.
	events := auditText(t, filepath.Join(m.Dir, "hallmark.db"), "brski.masa.")
	for _, want := range []string{"brski.masa.voucher", `"custody":"custody-voucher"`, "brski.masa.refuse", "no custody voucher presented", "wrong final addressee"} {
		if !strings.Contains(events, want) {
			t.Errorf("M's audit log does not name %q", want)
		}
	}

	type shown struct {
		State    string `json:"state"`
		External *struct {
			State string `json:"state"`
		} `json:"external"`
	}
	show := func() shown {
		var v shown
		o.CLIJSON(oscar, &v, "device", "show", operational.ExternalDeviceID(makerID, "SN-0001"))
		return v
	}
	if v := show(); v.State != "active" {
		t.Fatalf("SN-0001 at O after BRSKI and EST: %+v, want active", v)
	}

	// M revokes the lot; O's watcher (interval 1 s) suspends the device.
	m.CLI(alice, "revocation", "create", "--manufacturer", "acme", "--lot", lot, "--reason", "keyCompromise", "--execute", "-o", "id")
	revoked := time.Now()
	deadline := revoked.Add(60 * time.Second)
	for v := show(); v.State != "suspended"; v = show() {
		if time.Now().After(deadline) {
			t.Fatalf("SN-0001 is %s at O 60 s after M revoked its lot; want suspended\n--- operator log\n%s", v.State, o.Tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("O suspended SN-0001 %s after M revoked its lot (watch interval 1 s)", time.Since(revoked).Round(10*time.Millisecond))
}
