package app

import (
	"database/sql"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// repairedDevice issues serial's factory identity, repairs it (the repair's approval
// approved) with the device's key and the same build record, and hands the device to
// contoso. In dir: serial.factory.pem is the first factory identity, serial-new.factory.pem
// the current one, serial.key and serial-new.key (a copy) their key. The same key and record
// make the same build record digest, so the first certificate's binding to the device's
// build record holds: only the current-certificate check tells them apart.
func repairedDevice(t *testing.T, s *devServer, dir, lotID, lotName, serial string) (first, current factoryIdentity) {
	t.Helper()
	first = issueFactory(t, s, dir, lotID, lotName, serial)
	writeFile(t, dir, serial+".factory.pem", first.CertificatePEM)
	writeFile(t, dir, serial+"-new.key", read(t, dir, serial+".key"))
	run(t, dir, "openssl", "req", "-new", "-key", serial+".key", "-subj", "/CN="+serial, "-out", serial+"-new.csr")
	body := map[string]any{"csr": read(t, dir, serial+"-new.csr"), "build_record": record(serial, lotName), "reason": "replaced the radio module"}
	var res struct {
		Approval struct {
			ID            string `json:"id"`
			ApproverParty string `json:"approver_party"`
		} `json:"approval"`
	}
	s.must(t, 202, station, "POST", "/v1/devices/"+first.Device.ID+"/repair", body).json(t, &res)
	approver := map[string]string{"acme": bob, "fabrikam": station}[res.Approval.ApproverParty]
	if approver == "" || approver == station {
		t.Fatalf("repair approval %+v: want an approver other than the requester", res.Approval)
	}
	var dec struct {
		Executed  bool   `json:"executed"`
		ExecError string `json:"execution_error"`
	}
	s.must(t, 200, approver, "POST", "/v1/approvals/"+res.Approval.ID+"/decision", map[string]any{"approve": true, "comment": "checked"}).json(t, &dec)
	if !dec.Executed {
		t.Fatalf("the approved repair did not run: %s", dec.ExecError)
	}
	current = first
	s.must(t, 200, station, "GET", "/v1/devices/"+first.Device.ID, nil).json(t, &current.Device)
	if current.Device.FactoryCert == "" || current.Device.FactoryCert == first.Device.FactoryCert {
		t.Fatalf("after the repair the device names factory certificate %q (first %q)", current.Device.FactoryCert, first.Device.FactoryCert)
	}
	current.CertificatePEM = string(s.must(t, 200, station, "GET", "/v1/devices/"+first.Device.ID+"/certificates/"+current.Device.FactoryCert, nil).Body)
	writeFile(t, dir, serial+"-new.factory.pem", current.CertificatePEM)
	var tr struct{ ID string }
	s.must(t, 201, station, "POST", "/v1/transfers", map[string]any{"to": "contoso", "device_ids": []string{first.Device.ID}}).json(t, &tr)
	s.must(t, 200, oscar, "POST", "/v1/transfers/"+tr.ID+"/accept", nil)
	return first, current
}

// unrevoke sets the row of certificate serial (hex) back to issued in the dev server's
// SQLite database, behind Hallmark's back.
func unrevoke(t *testing.T, s *devServer, serial string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.info.Database+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE certificates SET state = 'issued', revoked_at = NULL, reason = NULL WHERE serial = ?`, serial)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("un-revoking %s changed %d rows, want 1", serial, n)
	}
}

// TestSupersededFactoryCertificateRefused: a device whose factory identity a repair
// superseded onboards only with its current factory certificate, over the API and over EST
// (openssl and curl, the superseded certificate as TLS client certificate). No API leaves a
// superseded factory certificate unrevoked (the repair revokes it in its transaction), so the
// test sets its row back to issued, as a restore, a fault or a later re-issue could leave it:
// the refusal must not rest on the revocation. Each refusal names both serials and rule
// factory:not-current, changes nothing, and is recorded as a refusal audit event.
func TestSupersededFactoryCertificateRefused(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	var skew atomic.Int64
	s := startDevWith(t, "", func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-cur")
	envID := demoEnvID(t, s)
	apiOld, apiCur := repairedDevice(t, s, dir, lotID, "lot-cur", "SN-CUR1")
	estOld, estCur := repairedDevice(t, s, dir, lotID, "lot-cur", "SN-CUR2")
	unrevoke(t, s, apiOld.Device.FactoryCert)
	unrevoke(t, s, estOld.Device.FactoryCert)

	names := func(what, msg string, old, cur factoryIdentity) {
		t.Helper()
		for _, want := range []string{old.Device.FactoryCert, cur.Device.FactoryCert, "factory:not-current"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not name %q", what, msg, want)
			}
		}
	}
	unchanged := func(what string, fi factoryIdentity) {
		t.Helper()
		var v deviceView
		s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &v)
		if v.State != "registered" || v.OperationalCert != "" || v.EnvironmentID != "" || len(v.Lineage) != 0 {
			t.Errorf("%s changed the device: %+v", what, v)
		}
	}
	before := auditCount(t, s)
	denied := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "denied"})

	// Over the API, with a valid proof of possession of the superseded factory key.
	_, r := onboard(t, s, dir, envID, "SN-CUR1", "cur1-old", 403)
	names("API onboarding with the superseded certificate", r.problem(t)["detail"].(string), apiOld, apiCur)
	unchanged("the refused API onboarding", apiOld)
	// Over EST, the superseded certificate as the TLS client certificate.
	estCSR(t, dir, "cur2-old")
	code, body := estStatus(t, s, dir, s.info.ESTURL+"/simpleenroll", "SN-CUR2.factory.pem", "SN-CUR2.key", "cur2-old.csr.b64")
	if code != 403 {
		t.Fatalf("EST enroll with the superseded certificate: %d %s, want 403", code, body)
	}
	names("EST enroll with the superseded certificate", body, estOld, estCur)
	unchanged("the refused EST enroll", estOld)
	if n := auditCount(t, s); n != before {
		t.Errorf("the refusals appended %d audit events besides refusal events", n-before)
	}
	if got := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "denied"}); got != denied+2 {
		t.Errorf("hallmark_refusals_total{reason=denied} = %v, want %v", got, denied+2)
	}

	// The current certificates onboard.
	id, _ := onboard(t, s, dir, envID, "SN-CUR1-new", "cur1", 201)
	if id.Device.ID != apiCur.Device.ID || id.Device.State != "active" || id.Evidence.BasedOn != apiCur.Device.FactoryCert {
		t.Errorf("API onboarding with the current certificate = %+v", id)
	}
	estEnroll(t, s, dir, s.info.ESTURL, "simpleenroll", "SN-CUR2-new.factory.pem", "SN-CUR2-new.key", "cur2", "-H", "'Hallmark-Firmware-Digest: "+fw+"'")
	var v deviceView
	s.must(t, 200, oscar, "GET", "/v1/devices/"+estCur.Device.ID, nil).json(t, &v)
	if v.State != "active" || v.OperationalCert == "" || len(v.Lineage) != 1 || v.Lineage[0].Protocol != "est" {
		t.Errorf("after EST enroll with the current certificate: %+v", v)
	}

	// Both refusals are audit events naming the rule, once their window ends.
	skew.Add(int64(61 * time.Second))
	var rep api.RefusalReport
	var viaAPI, viaEST *api.Refusal
	waitFor(t, "the refusal events", func() bool {
		s.must(t, 200, audrey, "GET", "/v1/reports/refusals", nil).json(t, &rep)
		viaAPI, viaEST = nil, nil
		for i, f := range rep.Items {
			if f.Rule != "factory:not-current" {
				continue
			}
			switch f.Via {
			case "api":
				viaAPI = &rep.Items[i]
			case "est":
				viaEST = &rep.Items[i]
			}
		}
		return viaAPI != nil && viaEST != nil
	})
	if viaAPI.Reason != "denied" || viaAPI.Count != 1 || viaAPI.PartyID != "contoso" || !strings.Contains(viaAPI.Message, apiCur.Device.FactoryCert) {
		t.Errorf("API refusal event = %+v", viaAPI)
	}
	if viaEST.Reason != "denied" || viaEST.Count != 1 || viaEST.Subject != "device:"+estOld.Device.ID || viaEST.Certificate != estOld.Device.FactoryCert {
		t.Errorf("EST refusal event = %+v", viaEST)
	}
}
