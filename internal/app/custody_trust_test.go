package app

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The probes of issue 17 ("Governance that holds"), each through the real HTTPS API and EST
// listener of a dev server, with openssl and curl as the device.

// devView is the part of GET /v1/devices/{id} these tests read.
type devView struct {
	ID              string `json:"id"`
	State           string `json:"state"`
	CustodianID     string `json:"custodian_id"`
	EnvironmentID   string `json:"environment_id"`
	OperationalCert string `json:"operational_certificate"`
	Certificates    []struct {
		Serial  string `json:"serial"`
		Profile string `json:"profile"`
		State   string `json:"state"`
		Reason  *int   `json:"revocation_reason"`
	} `json:"certificates"`
	Lineage       []struct{ Serial string } `json:"lineage"`
	SupportGrants []struct{ ID string }     `json:"support_grants"`
}

func showDevice(t *testing.T, s *devServer, who, id string) devView {
	t.Helper()
	var v devView
	s.must(t, 200, who, "GET", "/v1/devices/"+id, nil).json(t, &v)
	return v
}

// offerTo offers one device as who; want is the status expected.
func offerTo(t *testing.T, s *devServer, who, to, deviceID string, want int) resp {
	t.Helper()
	return s.must(t, want, who, "POST", "/v1/transfers", map[string]any{"to": to, "device_ids": []string{deviceID}})
}

// TestCustodyEndsTrust is the resale probe: an active device of contoso could be transferred
// to northwind and then re-enroll in contoso's environment. Now the transfer is refused while
// the device is active (at the offer, and at acceptance for an offer made before it was
// onboarded), the operator releases it (its certificate revoked as cessationOfOperation), and
// once custody has moved the device's old certificate is refused at simplereenroll. Released,
// it can come back and onboard again; decommission is the same transition under its own name.
func TestCustodyEndsTrust(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	s := startDev(t, "")
	dir := t.TempDir()
	U := s.info.ESTURL
	lotID := demoLot(t, s, "lot-resale")
	t1 := deliveredDevice(t, s, dir, lotID, "lot-resale", "SN-T1")
	estEnroll(t, s, dir, U, "simpleenroll", "SN-T1.factory.pem", "SN-T1.key", "t1")

	// An active device is not offered.
	before := auditCount(t, s)
	p := offerTo(t, s, oscar, "northwind", t1.Device.ID, 409).problem(t)
	if d := fmt.Sprint(p["detail"]); !strings.Contains(d, "is active") || !strings.Contains(d, "device release "+t1.Device.ID) {
		t.Errorf("offer of an active device: %s", d)
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("a refused offer appended %d audit events", after-before)
	}

	// An offer made while the device was registered is refused at acceptance once it is active.
	t2 := deliveredDevice(t, s, dir, lotID, "lot-resale", "SN-T2")
	var x2 struct{ ID string }
	offerTo(t, s, oscar, "northwind", t2.Device.ID, 201).json(t, &x2)
	estEnroll(t, s, dir, U, "simpleenroll", "SN-T2.factory.pem", "SN-T2.key", "t2")
	p = s.must(t, 409, dana, "POST", "/v1/transfers/"+x2.ID+"/accept", nil).problem(t)
	if d := fmt.Sprint(p["detail"]); !strings.Contains(d, t2.Device.ID) || !strings.Contains(d, "release") {
		t.Errorf("acceptance of an offer whose device became active: %s", d)
	}
	if v := showDevice(t, s, oscar, t2.Device.ID); v.CustodianID != "contoso" || v.State != "active" {
		t.Errorf("after the refused acceptance: %+v", v)
	}
	s.must(t, 200, oscar, "POST", "/v1/transfers/"+x2.ID+"/cancel", nil)

	// Release: only the operator holding it; not a registered device.
	s.must(t, 403, alice, "POST", "/v1/devices/"+t1.Device.ID+"/release", map[string]string{})
	s.must(t, 404, dana, "POST", "/v1/devices/"+t1.Device.ID+"/release", map[string]string{})
	t3 := deliveredDevice(t, s, dir, lotID, "lot-resale", "SN-T3")
	s.must(t, 409, oscar, "POST", "/v1/devices/"+t3.Device.ID+"/release", map[string]string{})
	s.must(t, 400, oscar, "POST", "/v1/devices/"+t1.Device.ID+"/release", map[string]string{"note": strings.Repeat("n", 1001)})
	cur := showDevice(t, s, oscar, t1.Device.ID).OperationalCert
	var rel devView
	s.must(t, 200, oscar, "POST", "/v1/devices/"+t1.Device.ID+"/release", map[string]string{"note": "sold to northwind"}).json(t, &rel)
	if rel.State != "released" || rel.OperationalCert != cur {
		t.Fatalf("released device: %+v", rel)
	}
	revoked := false
	for _, c := range showDevice(t, s, oscar, t1.Device.ID).Certificates {
		if c.Serial == cur {
			revoked = c.State == "revoked" && c.Reason != nil && *c.Reason == 5
		}
	}
	if !revoked {
		t.Errorf("the operational certificate %s is not revoked as cessationOfOperation (5) after the release", cur)
	}
	s.must(t, 409, oscar, "POST", "/v1/devices/"+t1.Device.ID+"/release", map[string]string{})
	estCSR(t, dir, "t1a")
	if code, body := estStatus(t, s, dir, U+"/simplereenroll", "t1.pem", "t1.key", "t1a.csr.b64"); code != 403 || !strings.Contains(body, "revoked") {
		t.Errorf("simplereenroll of the released device: %d %s", code, body)
	}

	// Custody moves; the device's old certificate no longer renews in contoso's environment.
	var x1 struct{ ID string }
	offerTo(t, s, oscar, "northwind", t1.Device.ID, 201).json(t, &x1)
	s.must(t, 200, dana, "POST", "/v1/transfers/"+x1.ID+"/accept", nil)
	estCSR(t, dir, "t1b")
	before = auditCount(t, s)
	if code, body := estStatus(t, s, dir, U+"/simplereenroll", "t1.pem", "t1.key", "t1b.csr.b64"); code != 403 || !strings.Contains(body, "no longer held by operator contoso") {
		t.Errorf("simplereenroll of the transferred device in contoso's environment: %d %s", code, body)
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("the refused renewal appended %d audit events", after-before)
	}
	// Over the API contoso cannot even ask to renew it: the device is no longer its to see.
	askChallenge(t, s, oscar, "renew", certInfo(t, dir, "t1.pem").SerialNumber.Text(16), strings.Repeat("ab", 32), 404)
	s.must(t, 404, oscar, "GET", "/v1/devices/"+t1.Device.ID, nil)
	if v := showDevice(t, s, dana, t1.Device.ID); v.CustodianID != "northwind" || v.State != "released" || len(v.Lineage) != 0 {
		t.Errorf("the new holder's view: %+v (contoso's lineage must not show)", v)
	}

	// Custody goes back: contoso takes it again and it onboards anew with its factory identity.
	var back struct{ ID string }
	offerTo(t, s, dana, "contoso", t1.Device.ID, 201).json(t, &back)
	s.must(t, 200, oscar, "POST", "/v1/transfers/"+back.ID+"/accept", nil)
	estEnroll(t, s, dir, U, "simpleenroll", "SN-T1.factory.pem", "SN-T1.key", "t1c")
	if v := showDevice(t, s, oscar, t1.Device.ID); v.State != "active" {
		t.Errorf("after onboarding again: %+v", v)
	}

	// A device that changed hands before this rule (an older version let an active device go;
	// here its custodian is set in the database as that version left it) cannot renew where it
	// was either: renewal checks that the environment's operator still holds it.
	t4 := deliveredDevice(t, s, dir, lotID, "lot-resale", "SN-T4")
	estEnroll(t, s, dir, U, "simpleenroll", "SN-T4.factory.pem", "SN-T4.key", "t4")
	if strings.HasPrefix(s.info.Database, "postgres") {
		t.Log("the legacy hand-over is set in SQLite only")
	} else {
		db, err := sql.Open("sqlite", "file:"+s.info.Database+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE devices SET custodian_id = 'northwind' WHERE id = ?`, t4.Device.ID); err != nil {
			t.Fatal(err)
		}
		db.Close()
		estCSR(t, dir, "t4b")
		if code, body := estStatus(t, s, dir, U+"/simplereenroll", "t4.pem", "t4.key", "t4b.csr.b64"); code != 403 || !strings.Contains(body, "no longer held by operator contoso") {
			t.Errorf("simplereenroll of a device handed on while active: %d %s", code, body)
		}
		s.must(t, 404, oscar, "POST", "/v1/devices/"+t4.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	}

	// Decommission: the same transition, recorded as such.
	var dec devView
	s.must(t, 200, oscar, "POST", "/v1/devices/"+t2.Device.ID+"/decommission", map[string]string{"note": "end of life"}).json(t, &dec)
	if dec.State != "released" {
		t.Errorf("decommissioned device: %+v", dec)
	}
	var evs struct {
		Items []struct{ Action, Subject string }
	}
	s.must(t, 200, audrey, "GET", "/v1/audit/events?after=0", nil).json(t, &evs)
	seen := map[string]bool{}
	for _, e := range evs.Items {
		seen[e.Action+" "+e.Subject] = true
	}
	if !seen["operational.release device:"+t1.Device.ID] || !seen["operational.decommission device:"+t2.Device.ID] {
		t.Errorf("the audit log lacks the release or the decommissioning")
	}
}

// keyCSR makes NAME.csr (PEM) and NAME.csr.b64 (base64 DER, for EST) for an existing key.
func keyCSR(t *testing.T, dir, keyFile, name string) string {
	t.Helper()
	run(t, dir, "openssl", "req", "-new", "-key", keyFile, "-subj", "/CN="+name, "-out", name+".csr")
	sh(t, dir, fmt.Sprintf(`openssl req -new -key %s -subj /CN=%s -outform DER | base64 -w 64 > %s.csr.b64`, keyFile, name, name))
	return read(t, dir, name+".csr")
}

// TestManufacturingOneKeyPerDevice is the shared-key probe: one P-256 key got factory
// certificates for several devices and operational certificates for others. Now a key bound
// to any device's factory or operational identity is refused for another device on every
// path — factory issuance, API onboarding and renewal, EST enrollment and re-enrollment —
// with one answer that names neither the other device nor its party; a device keeping its own
// key at renewal is not refused.
func TestManufacturingOneKeyPerDevice(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	s := startDev(t, "")
	dir := t.TempDir()
	U := s.info.ESTURL
	envID := demoEnvID(t, s)
	lotID := demoLot(t, s, "lot-keys")
	k1 := deliveredDevice(t, s, dir, lotID, "lot-keys", "SN-K1") // factory key SN-K1.key
	const bound = "this public key is already bound to another device"
	refused := func(t *testing.T, r resp, what string) {
		t.Helper()
		if r.Status != 409 {
			t.Fatalf("%s: status %d, want 409: %s", what, r.Status, r.Body)
		}
		d := fmt.Sprint(r.problem(t)["detail"])
		if !strings.Contains(d, bound) || strings.Contains(d, k1.Device.ID) || strings.Contains(d, "SN-K1") || strings.Contains(d, "contoso") || strings.Contains(d, "fabrikam") {
			t.Errorf("%s: %q names more than the refusal", what, d)
		}
	}

	// Factory: a second device with SN-K1's key.
	csr := keyCSR(t, dir, "SN-K1.key", "dup-factory")
	before := auditCount(t, s)
	refused(t, s.call(t, station, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": csr, "build_record": record("SN-K9", "lot-keys")}), "factory issuance")
	var list struct{ Items []struct{ Serial string } }
	s.must(t, 200, station, "GET", "/v1/devices?lot="+lotID, nil).json(t, &list)
	for _, d := range list.Items {
		if d.Serial == "SN-K9" {
			t.Error("the refused factory issuance registered its device")
		}
	}

	// API onboarding: another device's operational CSR with SN-K1's factory key.
	deliveredDevice(t, s, dir, lotID, "lot-keys", "SN-K2")
	csr = keyCSR(t, dir, "SN-K1.key", "dup-onboard")
	body := map[string]any{"csr": csr, "factory_certificate": read(t, dir, "SN-K2.factory.pem"), "proof": prove(t, s, dir, "onboard", envID, csr, "SN-K2.key"), "facts": goodFacts}
	refused(t, s.call(t, oscar, "POST", "/v1/environments/"+envID+"/onboard", body), "API onboarding")
	onboard(t, s, dir, envID, "SN-K2", "k2op", 201) // with a key of its own: k2op.key

	// API renewal of SN-K2 to SN-K1's factory key; then keeping its own key is fine.
	csr = keyCSR(t, dir, "SN-K1.key", "dup-renew")
	body = map[string]any{"csr": csr, "current_certificate": read(t, dir, "k2op.pem"), "proof": prove(t, s, dir, "renew", "k2op.pem", csr, "k2op.key"), "facts": goodFacts}
	refused(t, s.call(t, oscar, "POST", "/v1/renewals", body), "API renewal")
	csr = keyCSR(t, dir, "k2op.key", "k2same")
	body = map[string]any{"csr": csr, "current_certificate": read(t, dir, "k2op.pem"), "proof": prove(t, s, dir, "renew", "k2op.pem", csr, "k2op.key"), "facts": goodFacts}
	var id identity
	s.must(t, 201, oscar, "POST", "/v1/renewals", body).json(t, &id)
	writeFile(t, dir, "k2same.pem", id.CertificatePEM)

	// EST: SN-K3 enrolls with SN-K2's operational key, then re-enrolls with SN-K1's factory key.
	deliveredDevice(t, s, dir, lotID, "lot-keys", "SN-K3")
	keyCSR(t, dir, "k2op.key", "dup-est")
	if code, out := estStatus(t, s, dir, U+"/simpleenroll", "SN-K3.factory.pem", "SN-K3.key", "dup-est.csr.b64"); code != 409 || !strings.Contains(out, bound) || strings.Contains(out, k1.Device.ID) {
		t.Errorf("EST simpleenroll with another device's operational key: %d %s", code, out)
	}
	estEnroll(t, s, dir, U, "simpleenroll", "SN-K3.factory.pem", "SN-K3.key", "k3op")
	keyCSR(t, dir, "SN-K1.key", "dup-reest")
	if code, out := estStatus(t, s, dir, U+"/simplereenroll", "k3op.pem", "k3op.key", "dup-reest.csr.b64"); code != 409 || !strings.Contains(out, bound) {
		t.Errorf("EST simplereenroll to another device's factory key: %d %s", code, out)
	}
	// And back at the factory: a new device with SN-K3's operational key.
	csr = keyCSR(t, dir, "k3op.key", "dup-factory2")
	refused(t, s.call(t, station, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": csr, "build_record": record("SN-K8", "lot-keys")}), "factory issuance with an operational key")

	// Refusals change nothing: the audit log grew only by what succeeded (SN-K2's and SN-K3's
	// deliveries, onboardings and the renewal), never by a refused issuance.
	var evs struct {
		Items []struct {
			Action, Subject string
			Detail          json.RawMessage
		}
	}
	s.must(t, 200, audrey, "GET", fmt.Sprintf("/v1/audit/events?after=%d", before), nil).json(t, &evs)
	for _, e := range evs.Items {
		if e.Action == "factory.issue" && (strings.Contains(string(e.Detail), "SN-K9") || strings.Contains(string(e.Detail), "SN-K8")) {
			t.Errorf("a refused factory issuance was audited: %+v", e)
		}
	}
}

// TestInventoryVisibility is the lot-visibility probe (globex, a support vendor holding
// nothing, read acme's lots and models) and the maker's view after custody leaves: lots and
// models show only to parties with a cell over them or custody of their devices; a maker sees
// the devices it made without the operator's environment, operational certificates, lineage
// or support grants, in device show, device list and the reports.
func TestInventoryVisibility(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotA, lotB := demoLot(t, s, "lot-vis-a"), demoLot(t, s, "lot-vis-b")
	var models struct{ Items []struct{ ID, Name string } }
	s.must(t, 200, alice, "GET", "/v1/models?manufacturer=acme", nil).json(t, &models)
	if len(models.Items) == 0 {
		t.Fatal("acme sees none of its models")
	}
	model := models.Items[0].ID
	sees := func(who, path, marker string) bool {
		t.Helper()
		return strings.Contains(string(s.must(t, 200, who, "GET", path, nil).Body), marker)
	}
	// Lots and models: who may read them, before any device moves.
	for _, tc := range []struct {
		who          string
		lotA, lotB   bool
		model        bool
		lotAGetState int
	}{
		{alice, true, true, true, 200},
		{station, true, true, true, 200}, // both lots are delegated to fabrikam
		{dana, false, false, false, 404},
		{oscar, false, false, false, 404},
		{eve, false, false, false, 404},
		{audrey, true, true, true, 200},
	} {
		for _, path := range []string{"/v1/lots?manufacturer=acme", "/v1/lots"} {
			if a, b := sees(tc.who, path, lotA), sees(tc.who, path, lotB); a != tc.lotA || b != tc.lotB {
				t.Errorf("%s GET %s: lot A %v, lot B %v; want %v, %v", tc.who, path, a, b, tc.lotA, tc.lotB)
			}
		}
		if m := sees(tc.who, "/v1/models", model); m != tc.model {
			t.Errorf("%s GET /v1/models: model %v, want %v", tc.who, m, tc.model)
		}
		s.must(t, tc.lotAGetState, tc.who, "GET", "/v1/lots/"+lotA, nil)
	}
	s.must(t, 404, eve, "GET", "/v1/lots/lot_nope", nil) // as a lot that does not exist

	// Custody shows a lot and its model: contoso receives a device of lot A, not of lot B.
	fi := deliveredDevice(t, s, dir, lotA, "lot-vis-a", "SN-VIS1")
	if !sees(oscar, "/v1/lots", lotA) || sees(oscar, "/v1/lots", lotB) || !sees(oscar, "/v1/models", model) {
		t.Error("the holder of a device of lot A does not see exactly lot A and its model")
	}
	s.must(t, 200, oscar, "GET", "/v1/lots/"+lotA, nil)
	s.must(t, 404, oscar, "GET", "/v1/lots/"+lotB, nil)

	// The maker's view of a device an operator runs.
	envID := opEnv(t, s, "plant-vis", nil)
	op, _ := onboard(t, s, dir, envID, "SN-VIS1", "vis-op", 201)
	csr := newCSR(t, dir, "eve-vis")
	s.must(t, 202, eve, "POST", "/v1/support/grants", map[string]any{"environment_id": envID, "devices": []string{fi.Device.ID}, "reason": "crash dumps",
		"not_after": time.Now().UTC().Add(2 * time.Hour).Format(time.RFC3339), "csr": csr})
	mine, maker := showDevice(t, s, oscar, fi.Device.ID), showDevice(t, s, alice, fi.Device.ID)
	if mine.EnvironmentID != envID || mine.OperationalCert != op.Device.OperationalCert || len(mine.Lineage) != 1 || len(mine.SupportGrants) != 1 || len(mine.Certificates) != 2 {
		t.Errorf("the operator's view: %+v", mine)
	}
	if maker.EnvironmentID != "" || maker.OperationalCert != "" || len(maker.Lineage) != 0 || len(maker.SupportGrants) != 0 ||
		len(maker.Certificates) != 1 || maker.Certificates[0].Profile != "factory" || maker.State != "active" || maker.CustodianID != "contoso" {
		t.Errorf("the maker's view shows the operational stage, or lacks the manufacturing one: %+v", maker)
	}
	s.must(t, 404, alice, "GET", "/v1/devices/"+fi.Device.ID+"/certificates/"+op.Device.OperationalCert, nil)
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID+"/certificates/"+op.Device.OperationalCert, nil)
	far := url.QueryEscape(time.Now().Add(1000 * time.Hour).UTC().Format(time.RFC3339))
	for _, tc := range []struct {
		who, path string
		want      bool
	}{
		{alice, "/v1/devices?lot=" + lotA, true},
		{alice, "/v1/devices?environment=" + envID, false},
		{alice, "/v1/devices?expiring_before=" + far, false},
		{oscar, "/v1/devices?environment=" + envID, true},
		{oscar, "/v1/devices?expiring_before=" + far, true},
		{alice, "/v1/reports/rotation", false}, // by its environment
		{oscar, "/v1/reports/rotation", true},
		{alice, "/v1/reports/expiring", false},
		{oscar, "/v1/reports/expiring", true},
	} {
		marker := fi.Device.ID
		if strings.Contains(tc.path, "rotation") {
			marker = envID
		}
		if got := sees(tc.who, tc.path, marker); got != tc.want {
			t.Errorf("%s GET %s names %s: %v, want %v", tc.who, tc.path, marker, got, tc.want)
		}
	}
	for _, path := range []string{"/v1/devices?lot=" + lotA, "/v1/reports/inventory"} {
		if b := string(s.must(t, 200, alice, "GET", path, nil).Body); strings.Contains(b, envID) || strings.Contains(b, op.Device.OperationalCert) {
			t.Errorf("acme's GET %s names the operator's environment or certificate: %s", path, b)
		}
	}
	if b := string(s.must(t, 200, oscar, "GET", "/v1/reports/inventory", nil).Body); !strings.Contains(b, op.Device.OperationalCert) {
		t.Errorf("the operator's inventory report lacks its device's operational certificate: %s", b)
	}
}

// TestReportsSayNoData: a standards row whose population is empty says "no data", neither ok
// nor attention (issue 17: 7); on a fresh deployment no device has been issued yet.
func TestReportsSayNoData(t *testing.T) {
	s := startDev(t, "")
	var std struct {
		Rows []struct {
			ID       string
			Evidence struct {
				Total  int
				Status string
			}
		}
	}
	s.must(t, 200, audrey, "GET", "/v1/reports/standards", nil).json(t, &std)
	n := 0
	for _, r := range std.Rows {
		switch {
		case r.Evidence.Status == "no data":
			n++
			if r.Evidence.Total != 0 {
				t.Errorf("row %s says no data with a population of %d", r.ID, r.Evidence.Total)
			}
		case r.Evidence.Total == 0 && r.Evidence.Status != "n/a":
			t.Errorf("row %s checked nothing but says %q", r.ID, r.Evidence.Status)
		}
	}
	if n == 0 {
		t.Errorf("no row of an empty deployment says no data: %+v", std.Rows)
	}
}
