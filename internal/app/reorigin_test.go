package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/makerstatus/makertest"
	"github.com/hallmark-id/hallmark/internal/operational"
)

// TestReoriginMakerDevice, on SQLite and on PostgreSQL: a maker that does not run Hallmark
// (plain openssl) re-issues the factory certificate of a device the operator onboarded. The
// new certificate is refused (factory:not-current) until the operator's reorigin is approved;
// a denied request changes nothing; once approved, the new certificate onboards the device,
// the old one is refused, the device's operational certificate kept working throughout, and
// the audit event device.reorigin names both certificates. A reorigin is refused, naming its
// rule and recorded as a refusal, for another maker's certificate of the same serial, for the
// maker's certificate of another device or of the same serial and another model, for a
// certificate the maker revoked, for the current certificate, and for a caller that is not
// the device's custodian; none changes anything. (The checks when an approval runs, and the
// compare-and-set, are internal/operational's TestReoriginApprovalChecksAgain.)
func TestReoriginMakerDevice(t *testing.T) {
	for _, tool := range []string{"openssl", "curl"} {
		requireTool(t, tool)
	}
	t.Run("sqlite", func(t *testing.T) {
		var skew atomic.Int64
		s := startDevOpts(t, Options{Now: func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }})
		reoriginMakerDevice(t, s, &skew)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Setenv("HALLMARK_TEST_DEV_DATABASE_URL", pgSchema(t))
		var skew atomic.Int64
		s := startDevOpts(t, Options{DevPostgresEnv: "HALLMARK_TEST_DEV_DATABASE_URL", Now: func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }})
		if !strings.HasPrefix(s.info.Database, "postgres") {
			t.Fatalf("dev.json names database %q, want the PostgreSQL store", s.info.Database)
		}
		reoriginMakerDevice(t, s, &skew)
	})
}

func reoriginMakerDevice(t *testing.T, s *devServer, skew *atomic.Int64) {
	mk, other := makertest.New(t), makertest.New(t)
	// The maker's re-issue (a new key, same device serial), a third certificate of the
	// device that the maker revoked, in the CRL before the operator first reads it, and a
	// fourth of the same serial but another model (hwType).
	ec := []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"}
	cnf, err := os.ReadFile(mk.Path("ca.cnf"))
	if err != nil {
		t.Fatal(err)
	}
	model := fmt.Sprintf(`
[ idevidmodel ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hmnmodel
crlDistributionPoints = URI:%s
authorityInfoAccess = OCSP;URI:%s
[ hmnmodel ]
hwType = OID:1.3.6.1.4.1.32473.15.2
hwSerialNum = FORMAT:HEX,OCTETSTRING:%s
`, mk.CRLURL, mk.OCSPURL, hex.EncodeToString([]byte(mk.Serials[0])))
	makertest.Write(t, mk.Path("ca.cnf"), string(cnf)+model)
	for _, n := range []string{"dev1b", "dev1c", "dev1m"} {
		ext := "idevid1"
		if n == "dev1m" {
			ext = "idevidmodel"
		}
		mk.OpenSSL(append(ec, n+".key")...)
		mk.OpenSSL("req", "-config", "ca.cnf", "-new", "-key", n+".key", "-subj", "/O=Acme Sensors/CN=Acme Sensor/serialNumber="+mk.Serials[0], "-out", n+".csr")
		mk.OpenSSL("ca", "-batch", "-config", "ca.cnf", "-extensions", ext, "-notext", "-in", n+".csr", "-out", n+".pem")
	}
	mk.OpenSSL("ca", "-config", "ca.cnf", "-revoke", "dev1c.pem", "-crl_reason", "keyCompromise")
	mk.PublishCRL("inter.crl")

	dir := t.TempDir()
	makerID := registerMaker(t, s, mk, "acme-sensors", map[string]any{"require_hardware_module_name": true, "key_types": []string{"ecdsa-p256"}})
	registerMaker(t, s, other, "other-sensors", nil)
	envID := demoEnvID(t, s)
	devID := operational.ExternalDeviceID(makerID, mk.Serials[0])
	if r := onboardExternal(t, s, dir, mk, envID, 1, "ext1"); r.Status != 201 {
		t.Fatalf("first onboarding of device 1: %d %s", r.Status, r.Body)
	}
	first, second := fmt.Sprintf("%x", mk.Devices[0].SerialNumber), fmt.Sprintf("%x", mk.Cert("dev1b.pem").SerialNumber)
	opCert := externalDevice(t, s, oscar, devID).OperationalCert

	// onboardWith onboards device 1 over the API with the maker's certificate n (dev1, dev1b).
	onboardWith := func(n, opName string) resp {
		t.Helper()
		csr := newCSR(t, dir, opName)
		body := map[string]any{"csr": csr, "factory_certificate": read(t, mk.Dir, n+".pem"), "proof": prove(t, s, dir, "onboard", envID, csr, mk.Path(n+".key"))}
		return s.call(t, oscar, "POST", "/v1/environments/"+envID+"/onboard", body)
	}
	notCurrent := func(what string, r resp, want ...string) {
		t.Helper()
		if r.Status != 409 {
			t.Fatalf("%s: %d %s, want 409", what, r.Status, r.Body)
		}
		for _, w := range append(want, "factory:not-current") {
			if !strings.Contains(string(r.Body), w) {
				t.Errorf("%s: %s does not name %q", what, r.Body, w)
			}
		}
	}
	notCurrent("the re-issued certificate before the reorigin", onboardWith("dev1b", "ext1b-early"), first, second)

	// Refusals: each names its rule, changes nothing, and is recorded.
	reorigin := func(who, pemText string) resp {
		return s.call(t, who, "POST", "/v1/devices/"+devID+"/origin", map[string]any{"certificate": pemText, "reason": "secure element replaced"})
	}
	before := auditCount(t, s)
	refusals := []struct {
		name, who, cert, rule string
		status                int
	}{
		{"another maker's certificate of the same serial", oscar, read(t, other.Dir, "dev1.pem"), operational.RuleOriginMaker, 403},
		{"the maker's certificate of another device", oscar, read(t, mk.Dir, "dev2.pem"), operational.RuleOriginDevice, 403},
		{"a certificate the maker revoked", oscar, read(t, mk.Dir, "dev1c.pem"), operational.RuleOriginRevoked, 403},
		{"the maker's certificate of the same serial for another model", oscar, read(t, mk.Dir, "dev1m.pem"), operational.RuleOriginDevice, 403},
		{"a caller that is not the custodian", eve, read(t, mk.Dir, "dev1b.pem"), operational.RuleOriginCustodian, 404},
		{"the current certificate again", oscar, read(t, mk.Dir, "dev1.pem"), operational.RuleOriginUnchanged, 409},
	}
	for _, c := range refusals {
		r := reorigin(c.who, c.cert)
		if r.Status != c.status || !strings.Contains(string(r.Body), c.rule) {
			t.Errorf("reorigin with %s: %d %s, want %d naming %s", c.name, r.Status, r.Body, c.status, c.rule)
		}
	}
	if mk.Serials[0] != other.Serials[0] {
		t.Fatalf("the other maker's device 1 has serial %s, not %s: the other-maker case tests nothing", other.Serials[0], mk.Serials[0])
	}
	if n := auditCount(t, s); n != before {
		t.Errorf("the refused reorigins appended %d audit events besides refusal events", n-before)
	}
	notCurrent("the re-issued certificate after the refusals", onboardWith("dev1b", "ext1b-refused"), first, second)
	skew.Add(int64(61 * time.Second))
	want := map[string]int64{}
	for _, c := range refusals {
		want[c.rule]++
	}
	for rule, n := range want {
		if f := refusalsOf(t, s, rule, "api")["api"]; f.Subject != "device:"+devID || f.Count != n {
			t.Errorf("refusal event of %s = %+v, want %d for device %s", rule, f, n, devID)
		}
	}

	// A denied request changes nothing: the device keeps its certificate.
	var denied struct {
		Approval struct{ ID, State string } `json:"approval"`
	}
	s.must(t, 202, oscar, "POST", "/v1/devices/"+devID+"/origin", map[string]any{"certificate": read(t, mk.Dir, "dev1b.pem"), "reason": "secure element replaced"}).json(t, &denied)
	var dd approvalResult
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+denied.Approval.ID+"/decision", map[string]any{"approve": false, "comment": "no repair report"}).json(t, &dd)
	if dd.Executed || dd.Approval.State != "denied" {
		t.Fatalf("the denied reorigin: %+v", dd)
	}
	if o := originOf(t, s, devID); o.FactorySerial != first {
		t.Errorf("after the denial the origin holds %s, want %s", o.FactorySerial, first)
	}
	notCurrent("the re-issued certificate after the denial", onboardWith("dev1b", "ext1b-denied"), first, second)

	// The custodian asks; nothing changes until another principal of the operator approves.
	var res struct {
		Device   struct{ ID, State string }
		Approval struct{ ID, Kind, State, ApproverParty string } `json:"approval"`
	}
	s.must(t, 202, oscar, "POST", "/v1/devices/"+devID+"/origin", map[string]any{"certificate": read(t, mk.Dir, "dev1b.pem"), "reason": "secure element replaced"}).json(t, &res)
	if res.Approval.Kind != "reorigin" || res.Approval.State != "pending" || res.Device.ID != devID {
		t.Fatalf("reorigin = %+v, want a pending approval of kind reorigin", res)
	}
	notCurrent("the re-issued certificate while the reorigin waits", onboardWith("dev1b", "ext1b-pending"), first, second)
	var dec approvalResult
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+res.Approval.ID+"/decision", map[string]any{"approve": true, "comment": "maker's repair report checked"}).json(t, &dec)
	if !dec.Executed {
		t.Fatalf("the approved reorigin did not run: %+v", dec)
	}
	if o := originOf(t, s, devID); o.FactorySerial != second || o.State != "good" {
		t.Errorf("after the reorigin the origin holds %s (%s), want %s (good)", o.FactorySerial, o.State, second)
	} else if b, _ := pem.Decode([]byte(o.FactoryCertificatePEM)); b == nil || !bytes.Equal(b.Bytes, mk.Cert("dev1b.pem").Raw) {
		t.Errorf("after the reorigin the origin shows another certificate than the maker's re-issue:\n%s", o.FactoryCertificatePEM)
	}
	if v := externalDevice(t, s, oscar, devID); v.State != "active" || v.OperationalCert != opCert || v.External == nil || v.External.Serial != mk.Serials[0] {
		t.Errorf("the reorigin changed the device: %+v (operational certificate was %s)", v, opCert)
	}
	opState := ""
	for _, c := range externalDevice(t, s, oscar, devID).Certificates {
		if c.Serial == opCert {
			opState = c.State
		}
	}
	if opState != "issued" {
		t.Errorf("the operational certificate %s is %q after the reorigin, want issued", opCert, opState)
	}
	var found bool
	for _, e := range auditEvents(t, s) {
		if e.Action != "device.reorigin" {
			continue
		}
		found = true
		var d map[string]any
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatal(err)
		}
		oldSum, newSum := sha256.Sum256(mk.Devices[0].Raw), sha256.Sum256(mk.Cert("dev1b.pem").Raw)
		if e.Subject != "device:"+devID || d["old_factory_certificate"] != first || d["new_factory_certificate"] != second ||
			d["old_sha256"] != hex.EncodeToString(oldSum[:]) || d["new_sha256"] != hex.EncodeToString(newSum[:]) || d["approval"] != res.Approval.ID ||
			!strings.Contains(fmt.Sprint(d["old_certificate_pem"]), "BEGIN CERTIFICATE") {
			t.Errorf("device.reorigin event = %s %s", e.Subject, e.Detail)
		}
	}
	if !found {
		t.Error("no device.reorigin audit event")
	}

	notCurrent("the old certificate after the reorigin", onboardWith("dev1", "ext1-old-active"), first, second)

	// The device goes back to the maker for the repair (decommissioned), and comes back: the new
	// certificate onboards it; the old one is refused as not current.
	s.must(t, 200, oscar, "POST", "/v1/devices/"+devID+"/decommission", map[string]any{"note": "sent to the maker for repair"})
	if r := onboardWith("dev1b", "ext1b"); r.Status != 201 {
		t.Fatalf("onboarding with the re-issued certificate after the reorigin: %d %s", r.Status, r.Body)
	}
	notCurrent("the old certificate after the reorigin", onboardWith("dev1", "ext1-old"), first, second)

	// The log vouches for the origin the reorigin wrote: audit reconcile compares it with the
	// onboarding's and the reorigin's events and finds nothing.
	var rec reconcileResult
	s.must(t, 200, audrey, "POST", "/v1/audit/reconcile", nil).json(t, &rec)
	if len(rec.Disagreements) != 0 || rec.Origins == 0 {
		t.Errorf("reconcile after the reorigin = %+v, want the origins compared and no disagreement", rec)
	}
}

// originOf is the origin of a maker's device as GET /v1/devices/{id} shows it.
func originOf(t *testing.T, s *devServer, id string) api.DeviceOrigin {
	t.Helper()
	var v struct {
		External *api.DeviceOrigin `json:"external"`
	}
	s.must(t, 200, oscar, "GET", "/v1/devices/"+id, nil).json(t, &v)
	if v.External == nil {
		t.Fatalf("device %s shows no origin", id)
	}
	return *v.External
}
