package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Tests of issue 22's findings 6, 10 and 11 through the HTTPS API: a tenant's costly policy,
// duty limits changed by colleagues, custody ignoring duty limits, and reports showing a former
// operator devices it gave away.

// principalIDs maps "party/name" to principal IDs for the given parties.
func principalIDs(t *testing.T, s *devServer, parties ...string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, p := range parties {
		var ps struct {
			Items []struct{ ID, Name string } `json:"items"`
		}
		s.must(t, 200, deployAdmin, "GET", "/v1/parties/"+p+"/principals", nil).json(t, &ps)
		for _, x := range ps.Items {
			ids[p+"/"+x.Name] = x.ID
		}
	}
	return ids
}

// addPrincipal creates a principal through the API, as the party's administrator (PARTY/admin),
// and registers its token.
func addPrincipal(t *testing.T, s *devServer, party, name string, isAdmin bool) (who, id string) {
	t.Helper()
	var p struct{ ID, Token string }
	s.must(t, 201, party+"/admin", "POST", "/v1/principals", map[string]any{"party_id": party, "name": name, "admin": isAdmin}).json(t, &p)
	s.tokens[party+"/"+name] = p.Token
	return party + "/" + name, p.ID
}

type auditEvent struct {
	Seq         int             `json:"seq"`
	Action      string          `json:"action"`
	PrincipalID string          `json:"principal_id"`
	Subject     string          `json:"subject"`
	Detail      json.RawMessage `json:"detail"`
}

func auditEvents(t *testing.T, s *devServer) []auditEvent {
	t.Helper()
	var evs struct {
		Items []auditEvent `json:"items"`
	}
	s.must(t, 200, audrey, "GET", "/v1/audit/events", nil).json(t, &evs)
	return evs.Items
}

// TestDutyLimitsOnlyByAdministrators: a colleague could lift, tighten or set anyone's duty
// limits, a party administrator's included. Now only an administrator may, never its own, and
// an administrator's limits only another administrator of its party; each change is audited
// with the limits before and after, and a refused one changes nothing.
func TestDutyLimitsOnlyByAdministrators(t *testing.T) {
	s := startDev(t, "")
	ids := principalIDs(t, s, "contoso", "acme")
	acmeAdmin, _ := addPrincipal(t, s, "acme", "acme-admin", true)
	duties := func(who, target string, ds ...string) resp {
		return s.call(t, who, "PUT", "/v1/principals/"+target+"/duties", map[string]any{"duties": ds})
	}
	before := auditCount(t, s)
	for _, tc := range []struct {
		name, who, target string
		want              int
	}{
		{"a colleague limits a colleague", oscar, ids[olivia], 403},
		{"a colleague lifts a colleague's limit", olivia, ids[oscar], 403},
		{"a colleague limits the party's administrator", oscar, ids[admin], 403},
		{"a principal its own", oscar, ids[oscar], 403},
		{"an administrator its own", admin, ids[admin], 403},
		{"another party's administrator limits an administrator", acmeAdmin, ids[admin], 403},
		{"another party's principal", alice, ids[oscar], 403},
		{"an unknown duty", admin, ids[oscar], 400},
	} {
		ds := []string{"operational/approve"}
		if tc.want == 400 {
			ds = []string{"operational/launch"}
		}
		if r := duties(tc.who, tc.target, ds...); r.Status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.want)
		}
	}
	if n := auditCount(t, s); n != before {
		t.Fatalf("refused duty changes appended %d audit events", n-before)
	}
	if got := string(s.must(t, 200, olivia, "GET", "/v1/principals/"+ids[olivia]+"/duties", nil).Body); strings.Contains(got, "approve") {
		t.Fatalf("a refused change limited olivia: %s", got)
	}

	// An administrator limits a principal of any party; another administrator of contoso
	// limits contoso's administrator.
	s.must(t, 200, admin, "PUT", "/v1/principals/"+ids[olivia]+"/duties", map[string]any{"duties": []string{"operational/approve", "custody/transfer"}})
	s.must(t, 200, acmeAdmin, "PUT", "/v1/principals/"+ids[bob]+"/duties", map[string]any{"duties": []string{"manufacturing/revoke"}})
	admin2, admin2ID := addPrincipal(t, s, "contoso", "admin-2", true)
	s.must(t, 200, admin2, "PUT", "/v1/principals/"+ids[admin]+"/duties", map[string]any{"duties": []string{"operational/approve"}})
	// A limited administrator still administers: it lifts its colleague's limit.
	s.must(t, 200, admin, "PUT", "/v1/principals/"+admin2ID+"/duties", map[string]any{"duties": []string{"operational/audit"}})
	s.must(t, 200, admin, "PUT", "/v1/principals/"+admin2ID+"/duties", map[string]any{"duties": []string{}})

	var changes []auditEvent
	for _, e := range auditEvents(t, s) {
		if e.Action == "principal.duties" {
			changes = append(changes, e)
		}
	}
	if len(changes) != 5 {
		t.Fatalf("%d principal.duties events, want 5: %+v", len(changes), changes)
	}
	last := changes[4]
	var detail struct {
		Duties, Before []struct{ Stage, Duty string }
		Admin          bool
	}
	if err := json.Unmarshal(last.Detail, &detail); err != nil {
		t.Fatal(err)
	}
	if last.Subject != "principal:"+admin2ID || last.PrincipalID != ids[admin] || !detail.Admin || len(detail.Duties) != 0 ||
		len(detail.Before) != 1 || detail.Before[0].Stage != "operational" || detail.Before[0].Duty != "audit" {
		t.Errorf("the lifted limit is audited as %s by %s: %s", last.Subject, last.PrincipalID, last.Detail)
	}
}

// TestCustodyHonoursDutyLimits: a principal limited to some duties could offer and accept
// custody all the same. Now custody needs custody/transfer among its limits (an unlimited
// principal has it), like every other duty; a refusal changes nothing.
func TestCustodyHonoursDutyLimits(t *testing.T) {
	dir := t.TempDir()
	s := startDev(t, dir)
	ids := principalIDs(t, s, "contoso", "fabrikam")
	lot := demoLot(t, s, "lot-cust")
	fi := issueFactory(t, s, dir, lot, "lot-cust", "SN-CU1")
	limit := func(who string, ds ...string) { // as the principal's party's administrator
		s.must(t, 200, mxParty(who)+"/admin", "PUT", "/v1/principals/"+ids[who]+"/duties", map[string]any{"duties": ds})
	}
	offer := map[string]any{"to": "contoso", "device_ids": []string{fi.Device.ID}}

	before := auditCount(t, s)
	limit(station, "manufacturing/issue")
	if r := s.call(t, station, "POST", "/v1/transfers", offer); r.Status != 403 || !strings.Contains(string(r.Body), "custody/transfer") {
		t.Fatalf("a station limited to issuing offered custody: %d %s", r.Status, r.Body)
	}
	limit(station, "manufacturing/issue", "custody/transfer")
	var tr struct{ ID string }
	s.must(t, 201, station, "POST", "/v1/transfers", offer).json(t, &tr)

	limit(oscar, "operational/issue", "operational/renew")
	for _, d := range []string{"accept", "refuse"} {
		if r := s.call(t, oscar, "POST", "/v1/transfers/"+tr.ID+"/"+d, nil); r.Status != 403 || !strings.Contains(string(r.Body), "custody/transfer") {
			t.Fatalf("oscar, limited to issue and renew, could %s: %d %s", d, r.Status, r.Body)
		}
	}
	limit(station, "manufacturing/issue")
	if r := s.call(t, station, "POST", "/v1/transfers/"+tr.ID+"/cancel", nil); r.Status != 403 {
		t.Fatalf("a station without custody/transfer cancelled: %d %s", r.Status, r.Body)
	}
	var x struct{ State string }
	s.must(t, 200, oscar, "GET", "/v1/transfers/"+tr.ID, nil).json(t, &x)
	if x.State != "offered" {
		t.Fatalf("refused decisions left the transfer %s", x.State)
	}
	// Four limit changes and one offer; the refusals added nothing.
	if n := auditCount(t, s) - before; n != 5 {
		t.Errorf("%d audit events, want 5 (no event for a refusal)", n)
	}

	// olivia is not limited: she accepts.
	s.must(t, 200, olivia, "POST", "/v1/transfers/"+tr.ID+"/accept", nil)
	var d struct {
		CustodianID string `json:"custodian_id"`
	}
	s.must(t, 200, olivia, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.CustodianID != "contoso" {
		t.Errorf("after the accepted transfer the device is held by %q", d.CustodianID)
	}
}

// TestReportsAfterTransferAway: an operator that onboarded a device and then transferred it
// away no longer sees it in /v1/devices, and, since the fix, in no report either, though the
// device still sits in the operator's environment. The new holder sees it.
func TestReportsAfterTransferAway(t *testing.T) {
	requireTool(t, "openssl")
	dir := t.TempDir()
	s := startDev(t, dir)
	lot := demoLot(t, s, "lot-away")
	fi := deliveredDevice(t, s, dir, lot, "lot-away", "SN-AW1")
	envID := opEnv(t, s, "away-env", nil)
	onboard(t, s, dir, envID, "SN-AW1", "aw1", 201)
	id := fi.Device.ID
	type summary struct {
		Devices int `json:"devices"`
		Active  int `json:"active"`
	}
	var held summary
	s.must(t, 200, oscar, "GET", "/v1/reports/summary", nil).json(t, &held)
	type drift struct {
		Checked int `json:"checked"`
	}
	var heldDrift drift
	s.must(t, 200, oscar, "GET", "/v1/reports/drift", nil).json(t, &heldDrift)
	for _, path := range []string{"/v1/devices", "/v1/reports/inventory", "/v1/reports/expiring?within=48h"} {
		if r := s.must(t, 200, oscar, "GET", path, nil); !bytes.Contains(r.Body, []byte(id)) {
			t.Fatalf("while it holds the device, oscar's %s does not list it: %s", path, r.Body)
		}
	}

	var tr struct{ ID string }
	s.must(t, 200, oscar, "POST", "/v1/devices/"+id+"/release", map[string]string{}) // custody ends trust (issue 17)
	s.must(t, 201, oscar, "POST", "/v1/transfers", map[string]any{"to": "northwind", "device_ids": []string{id}}).json(t, &tr)
	s.must(t, 200, dana, "POST", "/v1/transfers/"+tr.ID+"/accept", nil)

	for _, path := range []string{"/v1/devices", "/v1/reports/inventory", "/v1/reports/expiring?within=48h"} {
		if r := s.must(t, 200, oscar, "GET", path, nil); bytes.Contains(r.Body, []byte(id)) {
			t.Errorf("after transferring it away, oscar's %s still lists device %s", path, id)
		}
	}
	var gone summary
	s.must(t, 200, oscar, "GET", "/v1/reports/summary", nil).json(t, &gone)
	if gone.Devices != held.Devices-1 || gone.Active != held.Active-1 {
		t.Errorf("oscar's summary: %+v while holding the device, %+v after giving it away", held, gone)
	}
	var goneDrift drift
	s.must(t, 200, oscar, "GET", "/v1/reports/drift", nil).json(t, &goneDrift)
	if heldDrift.Checked < 1 || goneDrift.Checked != heldDrift.Checked-1 {
		t.Errorf("oscar's drift report checked %d devices while holding it, %d after", heldDrift.Checked, goneDrift.Checked)
	}
	for _, path := range []string{"/v1/devices", "/v1/reports/inventory"} {
		if r := s.must(t, 200, dana, "GET", path, nil); !bytes.Contains(r.Body, []byte(id)) {
			t.Errorf("the new holder's %s does not list the device", path)
		}
	}
	if r := s.must(t, 200, audrey, "GET", "/v1/reports/inventory?limit=1000", nil); !bytes.Contains(r.Body, []byte(id)) {
		t.Error("the auditor's inventory lost the device")
	}
}

// TestHostilePolicy: an operator could store a policy costing 330-679 ms of CPU per enrollment
// and have every denial echo the whole policy text (up to the 64 KiB document). Now the costly
// policy is refused when it is set, naming its rule, and a denial by 15 rules of 4 KiB stays
// short; legitimate onboarding goes on.
func TestHostilePolicy(t *testing.T) {
	requireTool(t, "openssl")
	dir := t.TempDir()
	s := startDev(t, dir)
	envID := opEnv(t, s, "hostile-env", nil)
	set := func(want int, rules []map[string]string) resp {
		return s.setPolicy(t, oscar, olivia, envID, "onboarding", map[string]any{"rules": rules}, want)
	}
	var costly []map[string]string
	for i := range 64 {
		costly = append(costly, map[string]string{"name": fmt.Sprintf("pairs-%d", i),
			"expr": `build_record.components.all(a, build_record.components.all(b, a.name != b.name || a.sha256 == b.sha256))`})
	}
	before := auditCount(t, s)
	p := set(400, costly).problem(t)
	if d := p["detail"].(string); !strings.Contains(d, `rule "pairs-0"`) || !strings.Contains(d, "policy.cost_budget") {
		t.Errorf("refusal of the costly policy: %s", d)
	}
	if n := auditCount(t, s); n != before {
		t.Errorf("a refused policy appended %d audit events", n-before)
	}

	// 15 cheap rules of 4 KiB that all fail (as many as a 64 KiB document holds): the denial
	// names the first four, briefly.
	long := `device.serial == "` + strings.Repeat("x", 4000) + `"`
	var wordy []map[string]string
	for i := range 15 {
		wordy = append(wordy, map[string]string{"name": fmt.Sprintf("wordy-%02d", i), "expr": long})
	}
	set(202, wordy)
	lot := demoLot(t, s, "lot-hostile")
	deliveredDevice(t, s, dir, lot, "lot-hostile", "SN-HP1")
	_, r := onboard(t, s, dir, envID, "SN-HP1", "hp1", 403)
	if len(r.Body) > 4096 {
		t.Errorf("the denial is %d bytes", len(r.Body))
	}
	d := r.problem(t)["detail"].(string)
	if !strings.Contains(d, "rule wordy-00") || !strings.Contains(d, "and 11 more failed rules") || strings.Contains(d, strings.Repeat("x", 300)) {
		t.Errorf("denial: %s", d)
	}

	// A legitimate policy: the device onboards.
	set(202, []map[string]string{{"name": "test-passed", "expr": `build_record.test_result == "pass"`}})
	onboard(t, s, dir, envID, "SN-HP1", "hp2", 201)
}
