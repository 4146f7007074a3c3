package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
)

// sqlite3 runs one statement on the dev server's database with the sqlite3 shell, as an
// outside writer would, and returns its output trimmed.
func sqlite3(t *testing.T, s *devServer, stmt string) string {
	t.Helper()
	return strings.TrimSpace(run(t, s.dir, "sqlite3", "-cmd", ".timeout 10000", filepath.Join(s.dir, "hallmark.db"), stmt))
}

// TestOperationalActsOnOwnCertificateOnly: a runtime revocation, a release and a
// re-onboarding act on the operational certificate the device's row names only when it is the
// device's own operational certificate. With the row made (by an outside writer) to name
// another device's operational certificate, or the device's own factory certificate, each is
// refused as not found naming the device and the serial, and the certificate named stays
// issued, the device active. Once the row names its own certificate again, the revocation
// goes through.
func TestOperationalActsOnOwnCertificateOnly(t *testing.T) {
	requireTool(t, "openssl")
	requireTool(t, "sqlite3")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-own")
	envID := opEnv(t, s, "plant-own", nil)
	f1 := deliveredDevice(t, s, dir, lotID, "lot-own", "SN-OWN1")
	deliveredDevice(t, s, dir, lotID, "lot-own", "SN-OWN2")
	id1, _ := onboard(t, s, dir, envID, "SN-OWN1", "own1", 201)
	id2, _ := onboard(t, s, dir, envID, "SN-OWN2", "own2", 201)
	d1, own, other, factory := id1.Device.ID, id1.Device.OperationalCert, id2.Device.OperationalCert, f1.Device.FactoryCert
	state := func(serial string) string {
		return sqlite3(t, s, "SELECT state FROM certificates WHERE serial = '"+serial+"'")
	}
	for _, tc := range []struct{ name, names string }{
		{"another device's operational certificate", other},
		{"its own factory certificate", factory},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sqlite3(t, s, "UPDATE devices SET operational_cert = '"+tc.names+"' WHERE id = '"+d1+"'")
			for _, step := range []struct {
				what string
				call func() resp
			}{
				{"runtime revocation", func() resp {
					return s.call(t, oscar, "POST", "/v1/devices/"+d1+"/revoke", map[string]string{"reason": "keyCompromise"})
				}},
				{"release", func() resp { return s.call(t, oscar, "POST", "/v1/devices/"+d1+"/release", map[string]string{}) }},
				{"re-onboarding", func() resp { _, r := onboard(t, s, dir, envID, "SN-OWN1", "own1-again", 404); return r }},
			} {
				r := step.call()
				if r.Status != 404 || !strings.Contains(string(r.Body), d1) || !strings.Contains(string(r.Body), tc.names) {
					t.Errorf("%s: %d %s; want 404 naming %s and %s", step.what, r.Status, r.Body, d1, tc.names)
				}
				if st := state(tc.names); st != "issued" {
					t.Errorf("after the %s the certificate named is %s, want issued", step.what, st)
				}
			}
			if st := sqlite3(t, s, "SELECT state FROM devices WHERE id = '"+d1+"'"); st != "active" {
				t.Errorf("device %s is %s after the refusals, want active", d1, st)
			}
		})
	}
	sqlite3(t, s, "UPDATE devices SET operational_cert = '"+own+"' WHERE id = '"+d1+"'")
	s.must(t, 200, oscar, "POST", "/v1/devices/"+d1+"/revoke", map[string]string{"reason": "keyCompromise"})
	if st := state(own); st != "revoked" {
		t.Errorf("d1's own certificate is %s after its revocation, want revoked", st)
	}
	if st := state(other); st != "issued" {
		t.Errorf("the other device's certificate is %s after d1's revocation, want issued", st)
	}
}

// TestRepairSupersedesOwnFactoryCertificateOnly: an approved repair revokes as superseded
// only the device's own factory certificate. With the device's row made (by an outside
// writer) to name another device's factory certificate, the approved repair is not carried
// out: its execution error names the device and the serial, the other device's factory
// certificate stays issued, and the device keeps the factory certificate its row names.
func TestRepairSupersedesOwnFactoryCertificateOnly(t *testing.T) {
	requireTool(t, "openssl")
	requireTool(t, "sqlite3")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-rep-own-cert")
	one := issueFactory(t, s, dir, lotID, "lot-rep-own-cert", "SN-RO1")
	two := issueFactory(t, s, dir, lotID, "lot-rep-own-cert", "SN-RO2")
	id, other := one.Device.ID, two.Device.FactoryCert
	sqlite3(t, s, "UPDATE devices SET factory_cert = '"+other+"' WHERE id = '"+id+"'")
	var res struct {
		Approval struct {
			ID            string
			ApproverParty string `json:"approver_party"`
		} `json:"approval"`
	}
	s.must(t, 202, station, "POST", "/v1/devices/"+id+"/repair", map[string]any{"csr": newCSR(t, dir, "SN-RO1-new"), "build_record": record("SN-RO1", "lot-rep-own-cert"),
		"reason": "replaced the radio module"}).json(t, &res)
	approver := map[string]string{"acme": bob, "fabrikam": station}[res.Approval.ApproverParty]
	if approver == "" || approver == station {
		t.Fatalf("approver party %q: want one with another principal than the requester", res.Approval.ApproverParty)
	}
	var dec struct {
		Executed  bool   `json:"executed"`
		ExecError string `json:"execution_error"`
	}
	s.must(t, 200, approver, "POST", "/v1/approvals/"+res.Approval.ID+"/decision", map[string]any{"approve": true, "comment": "repair report checked"}).json(t, &dec)
	if dec.Executed || !strings.Contains(dec.ExecError, id) || !strings.Contains(dec.ExecError, other) {
		t.Errorf("decision = %+v; want the repair not carried out, naming %s and %s", dec, id, other)
	}
	if st := sqlite3(t, s, "SELECT state FROM certificates WHERE serial = '"+other+"'"); st != "issued" {
		t.Errorf("the other device's factory certificate is %s, want issued", st)
	}
	if fc := sqlite3(t, s, "SELECT factory_cert FROM devices WHERE id = '"+id+"'"); fc != other {
		t.Errorf("the device's row names factory certificate %s after the refused repair, want %s as before", fc, other)
	}
	// The refusal is audited, as every approved action that does not run is.
	if n := sqlite3(t, s, "SELECT COUNT(*) FROM audit_events WHERE action = 'approval.execute.refused' AND subject = 'device:"+id+"' AND detail LIKE '%"+res.Approval.ID+"%' AND detail LIKE '%\"kind\":\"repair\"%'"); n != "1" {
		t.Errorf("approval.execute.refused events of the refused repair: %s, want 1", n)
	}
}

// TestVoucherExportCarriesOwnFactoryCertificateOnly: a custody voucher carries the device's
// own factory certificate only. With the device's row made (by an outside writer) to name
// another device's factory certificate, the export is refused as not found naming the device
// and the serial, and changes nothing: no audit event, the device is not handed off.
func TestVoucherExportCarriesOwnFactoryCertificateOnly(t *testing.T) {
	requireTool(t, "openssl")
	requireTool(t, "sqlite3")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-vouch-own")
	one := issueFactory(t, s, dir, lotID, "lot-vouch-own", "SN-VO1")
	two := issueFactory(t, s, dir, lotID, "lot-vouch-own", "SN-VO2")
	id, other := one.Device.ID, two.Device.FactoryCert
	sqlite3(t, s, "UPDATE devices SET factory_cert = '"+other+"' WHERE id = '"+id+"'")
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	before := auditCount(t, s)
	r := s.must(t, 404, station, "POST", "/v1/custody/vouchers/export", map[string]any{"device_ids": []string{id}, "to": "contoso", "to_key_pem": keyPEM})
	if !strings.Contains(string(r.Body), id) || !strings.Contains(string(r.Body), other) {
		t.Errorf("refusal %s does not name %s and %s", r.Body, id, other)
	}
	if n := auditCount(t, s); n != before {
		t.Errorf("the refused export changed the audit log: %d events, had %d", n, before)
	}
	if st := sqlite3(t, s, "SELECT state FROM devices WHERE id = '"+id+"'"); st == "handed-off" {
		t.Errorf("the device is %s after the refused export", st)
	}
}
