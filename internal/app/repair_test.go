package app

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRepairThroughAPI (issue 17, point 3): a repair asks for an approval; once approved the
// device record carries a new build record and factory identity, the old one is revoked as
// superseded (OCSP says so, real openssl), the lineage shows both, the audit log records it
// and reconciles. Bad input, another party and a device not held are refused.
func TestRepairThroughAPI(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-rep")
	fi := issueFactory(t, s, dir, lotID, "lot-rep", "SN-REP1")
	writeFile(t, dir, "old.pem", fi.CertificatePEM)
	chain := splitPEM(t, fi.ChainPEM)
	writeFile(t, dir, "mfg-issuing.pem", chain[0])
	writeFile(t, dir, "mfg-root.pem", chain[1])
	id := fi.Device.ID
	path := "/v1/devices/" + id + "/repair"
	csr := newCSR(t, dir, "SN-REP1-new")
	body := map[string]any{"csr": csr, "build_record": record("SN-REP1", "lot-rep"), "reason": "replaced the radio module"}

	// Refusals change nothing.
	s.must(t, 404, oscar, "POST", path, body) // contoso neither made nor holds it
	s.must(t, 400, station, "POST", path, map[string]any{"csr": csr, "build_record": record("SN-OTHER", "lot-rep"), "reason": "x"})
	s.must(t, 400, station, "POST", path, map[string]any{"csr": csr, "build_record": record("SN-REP1", "lot-rep")})
	s.must(t, 400, station, "POST", path, map[string]any{"csr": "not a csr", "build_record": record("SN-REP1", "lot-rep"), "reason": "x"})
	// A device that left: the contract manufacturer no longer sees it; the maker sees it but
	// does not hold it, and a repair happens where the device is.
	held := deliveredDevice(t, s, dir, lotID, "lot-rep", "SN-REP2") // now held by contoso
	heldBody := map[string]any{"csr": newCSR(t, dir, "SN-REP2-new"), "build_record": record("SN-REP2", "lot-rep"), "reason": "x"}
	s.must(t, 404, station, "POST", "/v1/devices/"+held.Device.ID+"/repair", heldBody)
	s.must(t, 403, alice, "POST", "/v1/devices/"+held.Device.ID+"/repair", heldBody) // issue on the lot is fabrikam's
	// On a lot of its own, the maker that issues is refused for a device it gave away.
	var own item
	s.must(t, 201, alice, "POST", "/v1/lots", map[string]any{"model_id": lotModelOf(t, s, lotID), "name": "lot-rep-own", "line": "line-a", "issuing_ca_id": lotCAOf(t, s, lotID)}).json(t, &own)
	var gone factoryIdentity
	s.must(t, 201, alice, "POST", "/v1/lots/"+own.ID+"/devices", map[string]any{"csr": newCSR(t, dir, "SN-REP3"), "build_record": record("SN-REP3", "lot-rep-own")}).json(t, &gone)
	var tr struct{ ID string }
	s.must(t, 201, alice, "POST", "/v1/transfers", map[string]any{"to": "contoso", "device_ids": []string{gone.Device.ID}}).json(t, &tr)
	s.must(t, 200, oscar, "POST", "/v1/transfers/"+tr.ID+"/accept", nil)
	if r := s.must(t, 409, alice, "POST", "/v1/devices/"+gone.Device.ID+"/repair",
		map[string]any{"csr": newCSR(t, dir, "SN-REP3-new"), "build_record": record("SN-REP3", "lot-rep-own"), "reason": "x"}); !strings.Contains(string(r.Body), "not held by acme") {
		t.Errorf("repair of a device contoso holds: %s", r.Body)
	}

	// The request waits for its approval; asking again returns the same request.
	var res struct {
		Device struct {
			FactoryCert string `json:"factory_certificate"`
		} `json:"device"`
		Approval struct {
			ID, Kind, State string
			ApproverParty   string `json:"approver_party"`
		} `json:"approval"`
	}
	s.must(t, 202, station, "POST", path, body).json(t, &res)
	if res.Approval.Kind != "repair" || res.Approval.State != "pending" || res.Device.FactoryCert != fi.Device.FactoryCert {
		t.Fatalf("repair request = %+v", res)
	}
	first := res.Approval.ID
	s.must(t, 202, station, "POST", path, body).json(t, &res)
	if res.Approval.ID != first {
		t.Errorf("a second request made approval %s, want the pending %s", res.Approval.ID, first)
	}
	approver := map[string]string{"acme": bob, "fabrikam": station}[res.Approval.ApproverParty]
	if approver == "" || approver == station {
		t.Fatalf("approver party %q: want one with another principal than the requester", res.Approval.ApproverParty)
	}
	var dec struct {
		Executed  bool   `json:"executed"`
		ExecError string `json:"execution_error"`
	}
	s.must(t, 200, approver, "POST", "/v1/approvals/"+first+"/decision", map[string]any{"approve": true, "comment": "repair report checked"}).json(t, &dec)
	if !dec.Executed {
		t.Fatalf("the approved repair did not run: %s", dec.ExecError)
	}

	// The same device record, a new factory identity and build record, and the lineage.
	var v struct {
		FactoryCert string          `json:"factory_certificate"`
		BuildRecord json.RawMessage `json:"build_record"`
		Lineage     []struct {
			Serial, State string
			Reason        string `json:"revocation_reason"`
			BuildRecord   string `json:"build_record_sha256"`
			SupersededBy  string `json:"superseded_by"`
			Current       bool
		} `json:"factory_lineage"`
	}
	s.must(t, 200, station, "GET", "/v1/devices/"+id, nil).json(t, &v)
	if v.FactoryCert == "" || v.FactoryCert == fi.Device.FactoryCert || len(v.Lineage) != 2 {
		t.Fatalf("after the repair: factory certificate %s, lineage %+v", v.FactoryCert, v.Lineage)
	}
	old, cur := v.Lineage[0], v.Lineage[1]
	if old.Serial != fi.Device.FactoryCert || old.State != "revoked" || old.Reason != "superseded" || old.SupersededBy != cur.Serial || old.Current ||
		cur.Serial != v.FactoryCert || cur.State != "issued" || !cur.Current || old.BuildRecord != fi.BuildRecordSHA || cur.BuildRecord == old.BuildRecord {
		t.Errorf("lineage = %+v", v.Lineage)
	}
	s.must(t, 200, alice, "GET", "/v1/devices/"+id, nil) // the maker sees it too

	// Relying parties see the old factory identity revoked.
	url := strings.TrimSpace(run(t, dir, "openssl", "x509", "-in", "old.pem", "-noout", "-ocsp_uri"))
	if out := run(t, dir, "openssl", "ocsp", "-issuer", "mfg-issuing.pem", "-cert", "old.pem", "-url", url, "-CAfile", "mfg-root.pem"); !strings.Contains(out, "old.pem: revoked") || !strings.Contains(out, "superseded") {
		t.Errorf("openssl ocsp for the superseded factory certificate: %s", out)
	}

	// The audit log names both certificates, and state reconciles with it.
	var evs struct {
		Items []struct {
			Action, Subject string
			Detail          map[string]any
		}
	}
	s.must(t, 200, audrey, "GET", "/v1/audit/events", nil).json(t, &evs)
	found := false
	for _, e := range evs.Items {
		if e.Action == "factory.repair" && e.Subject == "device:"+id {
			found = e.Detail["certificate"] == v.FactoryCert && e.Detail["superseded"] == fi.Device.FactoryCert && e.Detail["approval"] == first
		}
	}
	if !found {
		t.Error("no factory.repair event names the new and the superseded certificate")
	}
	var rec reconcileResult
	s.must(t, 200, audrey, "POST", "/v1/audit/reconcile", nil).json(t, &rec)
	if len(rec.Disagreements) != 0 {
		t.Errorf("reconcile after the repair: %+v", rec.Disagreements)
	}
}

// lotModelOf and lotCAOf read a lot's model and issuing CA.
func lotModelOf(t *testing.T, s *devServer, lotID string) string {
	t.Helper()
	var l struct {
		ModelID string `json:"model_id"`
	}
	s.must(t, 200, alice, "GET", "/v1/lots/"+lotID, nil).json(t, &l)
	return l.ModelID
}

func lotCAOf(t *testing.T, s *devServer, lotID string) string {
	t.Helper()
	var l struct {
		IssuingCAID string `json:"issuing_ca_id"`
	}
	s.must(t, 200, alice, "GET", "/v1/lots/"+lotID, nil).json(t, &l)
	return l.IssuingCAID
}
