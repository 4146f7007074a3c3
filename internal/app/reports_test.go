package app

import (
	"database/sql"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestReports drives the five security reports through the HTTPS API: three devices onboarded,
// one renewed with firmware its build record does not name, the clock moved past max_age for
// the other two; an auditor sees everything, the operator its own devices, an unrelated party
// nothing, and only auditors read the standards report.
func TestReports(t *testing.T) {
	requireTool(t, "openssl")
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }
	s := startDevWith(t, "", clock)
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-rep")
	envID := opEnv(t, s, "plant-rep", map[string]any{"lifetime": "1h", "max_age": "1h"})
	ids := map[string]string{}
	for i, sn := range []string{"SN-R1", "SN-R2", "SN-R3"} {
		deliveredDevice(t, s, dir, lotID, "lot-rep", sn)
		id, _ := onboard(t, s, dir, envID, sn, "rep"+string(rune('1'+i)), 201)
		ids[sn] = id.Device.ID
	}
	skew.Store(int64(50 * time.Minute))
	drifted := map[string]any{"firmware_digest": strings.Repeat("aa", 32), "hardware_revision": "B"}
	renew(t, s, dir, "rep2", "rep2b", drifted, 201)
	skew.Store(int64(70 * time.Minute))

	// Inventory: both stages per device, paginated.
	type certSum struct{ Serial, State string }
	type invRow struct {
		DeviceID      string   `json:"device_id"`
		EnvironmentID string   `json:"environment_id"`
		Factory       *certSum `json:"factory"`
		Operational   *certSum `json:"operational"`
	}
	var inv struct {
		Items     []invRow `json:"items"`
		NextAfter string   `json:"next_after"`
	}
	s.must(t, 200, audrey, "GET", "/v1/reports/inventory", nil).json(t, &inv)
	seen := map[string]invRow{}
	for _, r := range inv.Items {
		seen[r.DeviceID] = r
	}
	for sn, id := range ids {
		r, ok := seen[id]
		if !ok || r.Factory == nil || r.Operational == nil || r.Factory.State != "issued" || r.Operational.State != "issued" || r.EnvironmentID != envID {
			t.Errorf("inventory row of %s = %+v", sn, r)
		}
	}
	all := len(inv.Items)
	s.must(t, 200, audrey, "GET", "/v1/reports/inventory?limit=2", nil).json(t, &inv)
	if len(inv.Items) != 2 || inv.NextAfter == "" {
		t.Fatalf("first page: %+v", inv)
	}
	first := inv.Items
	s.must(t, 200, audrey, "GET", "/v1/reports/inventory?limit=1000&after="+inv.NextAfter, nil).json(t, &inv)
	if len(first)+len(inv.Items) != all || inv.Items[0].DeviceID <= first[1].DeviceID {
		t.Errorf("second page %+v after %+v; want %d in all", inv.Items, first, all)
	}
	s.must(t, 400, audrey, "GET", "/v1/reports/inventory?limit=0", nil)
	// Another party's scope: northwind made and holds none of these devices.
	s.must(t, 200, dana, "GET", "/v1/reports/inventory", nil).json(t, &inv)
	for _, r := range inv.Items {
		for _, id := range ids {
			if r.DeviceID == id {
				t.Errorf("dana sees %s", id)
			}
		}
	}
	s.must(t, 200, oscar, "GET", "/v1/reports/inventory", nil).json(t, &inv)
	if len(inv.Items) < 3 {
		t.Errorf("the operator sees %d devices, want its 3", len(inv.Items))
	}

	// Rotation: R2 renewed 20 minutes ago is compliant; R1 and R3 are 70 minutes old.
	var rot struct {
		Environments []struct {
			EnvironmentID     string `json:"environment_id"`
			Active, Compliant int
			Share             float64
		} `json:"environments"`
		Overdue []struct {
			DeviceID      string `json:"device_id"`
			EnvironmentID string `json:"environment_id"`
			Age           string `json:"age"`
			MaxAge        string `json:"max_age"`
		} `json:"overdue"`
	}
	s.must(t, 200, oscar, "GET", "/v1/reports/rotation", nil).json(t, &rot)
	found := false
	for _, e := range rot.Environments {
		if e.EnvironmentID == envID {
			found = true
			if e.Active != 3 || e.Compliant != 1 || e.Share < 0.33 || e.Share > 0.34 {
				t.Errorf("rotation of %s = %+v", envID, e)
			}
		}
	}
	overdue := map[string]bool{}
	for _, o := range rot.Overdue {
		if o.EnvironmentID == envID {
			overdue[o.DeviceID] = true
			if o.MaxAge != "1h0m0s" || o.Age < "1h10m" {
				t.Errorf("overdue entry %+v", o)
			}
		}
	}
	if !found || len(overdue) != 2 || !overdue[ids["SN-R1"]] || !overdue[ids["SN-R3"]] {
		t.Errorf("rotation: %+v", rot)
	}
	var rotDana struct{ Active int }
	s.must(t, 200, dana, "GET", "/v1/reports/rotation", nil).json(t, &rotDana)
	if rotDana.Active != 0 {
		t.Errorf("dana's rotation counts %d active devices", rotDana.Active)
	}

	// Expiring: grouped by environment and owner; a short window keeps only R2's renewed one
	// and the lapsed ones.
	var exp struct {
		Count  int
		Groups []struct {
			EnvironmentID string `json:"environment_id"`
			OperatorID    string `json:"operator_id"`
			Items         []struct {
				DeviceID  string `json:"device_id"`
				Remaining string `json:"remaining"`
			}
		}
	}
	s.must(t, 200, audrey, "GET", "/v1/reports/expiring", nil).json(t, &exp)
	n := 0
	for _, g := range exp.Groups {
		if g.EnvironmentID == envID {
			if g.OperatorID != "contoso" {
				t.Errorf("group owner %q", g.OperatorID)
			}
			n = len(g.Items)
		}
	}
	if n != 3 {
		t.Errorf("expiring within 72h in %s: %d, want 3: %+v", envID, n, exp)
	}
	s.must(t, 400, audrey, "GET", "/v1/reports/expiring?within=-1h", nil)
	s.must(t, 200, dana, "GET", "/v1/reports/expiring?within=24h", nil).json(t, &exp)
	for _, g := range exp.Groups {
		if g.EnvironmentID == envID {
			t.Errorf("dana sees expiring certificates of %s", envID)
		}
	}

	// Drift: R2 reported firmware its build record does not name.
	var dr struct {
		Checked int
		Items   []struct {
			DeviceID string `json:"device_id"`
			Field    string
			Recorded string
			Reported string
		}
	}
	s.must(t, 200, oscar, "GET", "/v1/reports/drift", nil).json(t, &dr)
	if len(dr.Items) != 1 || dr.Items[0].DeviceID != ids["SN-R2"] || dr.Items[0].Field != "firmware_digest" || dr.Items[0].Reported != strings.Repeat("aa", 32) || dr.Checked < 3 {
		t.Errorf("drift: %+v", dr)
	}
	// The report remembers which records verified (by their bytes and the key history); a
	// record changed in the database since is a new digest and is checked again.
	if strings.HasPrefix(s.info.Database, "postgres") {
		t.Log("the stored build record is tampered with in SQLite only")
	} else {
		db, err := sql.Open("sqlite", "file:"+s.info.Database+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		res, err := db.Exec(`UPDATE build_records SET envelope = CAST(replace(CAST(envelope AS TEXT), '"sig":"M', '"sig":"N') AS BLOB) WHERE device_id = ?`, ids["SN-R3"])
		if n, _ := res.RowsAffected(); err != nil || n != 1 {
			t.Fatalf("tampering with SN-R3's build record: %v (%d rows)", err, n)
		}
		db.Close()
		s.must(t, 200, oscar, "GET", "/v1/reports/drift", nil).json(t, &dr)
		tampered := false
		for _, it := range dr.Items {
			tampered = tampered || (it.DeviceID == ids["SN-R3"] && it.Field == "build_record" && strings.Contains(it.Reported, "does not verify"))
		}
		if !tampered {
			t.Errorf("a build record changed after the first report is not reported: %+v", dr)
		}
	}

	// Standards: every OWASP NHI risk, live evidence, auditors only.
	var st struct {
		Rows []struct {
			Framework, ID, Coverage, Control string
			Evidence                         struct {
				Count, Total int
				Oldest       string
				Status       string
				CheckedAt    time.Time `json:"checked_at"`
			}
		}
	}
	s.must(t, 200, audrey, "GET", "/v1/reports/standards", nil).json(t, &st)
	rows := map[string]int{}
	for i, r := range st.Rows {
		rows[r.ID] = i
	}
	for i := 1; i <= 10; i++ {
		if _, ok := rows["NHI"+strconv.Itoa(i)]; !ok {
			t.Errorf("standards lacks NHI%d", i)
		}
	}
	for _, id := range []string{"PR.AA-01", "DE.CM-09", "ID.AM-01", "RS.MI-01"} {
		if _, ok := rows[id]; !ok {
			t.Errorf("standards lacks %s", id)
		}
	}
	if r := st.Rows[rows["NHI7"]]; r.Evidence.Count < 2 || r.Evidence.Status != "attention" || r.Evidence.Oldest == "" || r.Evidence.CheckedAt.IsZero() {
		t.Errorf("NHI7 = %+v", r)
	}
	if r := st.Rows[rows["NHI6"]]; r.Coverage != "not-addressed" || r.Evidence.Status != "n/a" {
		t.Errorf("NHI6 = %+v", r)
	}
	if r := st.Rows[rows["DE.CM-09"]]; r.Evidence.Count < 1 {
		t.Errorf("DE.CM-09 = %+v", r)
	}
	s.must(t, 403, alice, "GET", "/v1/reports/standards", nil)
	s.must(t, 401, "", "GET", "/v1/reports/rotation", nil)
}

// TestReportsTrendAndPolicyDrift drives the rotation trend and drift against the current policy
// through the HTTPS API. Three devices onboard at 0; one renews at 50 minutes, one is revoked
// at 60; the clock stops at 70 minutes (max_age 1h). Then the operator tightens the onboarding
// policy and, later, the renewal policy: the devices admitted under the older versions whose
// facts the new rules refuse are reported, the others are not.
func TestReportsTrendAndPolicyDrift(t *testing.T) {
	requireTool(t, "openssl")
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }
	s := startDevWith(t, "", clock)
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-trend")
	envID := opEnv(t, s, "plant-trend", map[string]any{"lifetime": "1h", "max_age": "1h"})
	ids := map[string]string{}
	for i, sn := range []string{"SN-T1", "SN-T2", "SN-T3"} {
		deliveredDevice(t, s, dir, lotID, "lot-trend", sn)
		id, _ := onboard(t, s, dir, envID, sn, "trend"+string(rune('1'+i)), 201)
		ids[sn] = id.Device.ID
	}
	skew.Store(int64(50 * time.Minute))
	renew(t, s, dir, "trend2", "trend2b", map[string]any{"firmware_digest": strings.Repeat("0f", 32), "hardware_revision": "B"}, 201)
	skew.Store(int64(60 * time.Minute))
	s.must(t, 200, oscar, "POST", "/v1/devices/"+ids["SN-T3"]+"/revoke", map[string]string{"reason": "keyCompromise"})
	skew.Store(int64(70 * time.Minute))

	type trendEnv struct {
		EnvironmentID     string `json:"environment_id"`
		Active, Compliant int
	}
	var rot struct {
		Trend []struct {
			At           time.Time
			Environments []trendEnv
		}
	}
	at := func(i int) trendEnv {
		for _, e := range rot.Trend[i].Environments {
			if e.EnvironmentID == envID {
				return e
			}
		}
		return trendEnv{EnvironmentID: envID}
	}
	// Instants every 10 minutes over the last 80: now (70), now−30m (40) and now−80m (−10).
	s.must(t, 200, oscar, "GET", "/v1/reports/rotation?since=80m&every=10m", nil).json(t, &rot)
	if len(rot.Trend) != 9 || !rot.Trend[0].At.Before(rot.Trend[8].At) {
		t.Fatalf("trend has %d points: %+v", len(rot.Trend), rot.Trend)
	}
	for _, c := range []struct {
		name              string
		point             int
		active, compliant int
	}{
		// T1 is 70 minutes old, T2 renewed 20 minutes ago, T3 revoked 10 minutes ago.
		{"now", 8, 2, 1},
		// Every certificate is 40 minutes old and none is revoked yet.
		{"30 minutes ago", 5, 3, 3},
		// Before the first onboarding.
		{"80 minutes ago", 0, 0, 0},
	} {
		if got := at(c.point); got.Active != c.active || got.Compliant != c.compliant {
			t.Errorf("%s: %+v, want %d active, %d compliant", c.name, got, c.active, c.compliant)
		}
	}
	s.must(t, 200, dana, "GET", "/v1/reports/rotation?since=80m&every=10m", nil).json(t, &rot)
	if got := at(8); got.Active != 0 {
		t.Errorf("dana's trend counts %d devices of %s", got.Active, envID)
	}
	for _, q := range []string{"since=80m", "since=1d&every=0d", "since=10d&every=1m", "since=x&every=1d"} {
		s.must(t, 400, oscar, "GET", "/v1/reports/rotation?"+q, nil)
	}

	type policyDrift struct {
		DeviceID        string `json:"device_id"`
		EnvironmentID   string `json:"environment_id"`
		PolicyKind      string `json:"policy_kind"`
		AdmittedVersion int    `json:"admitted_version"`
		CurrentVersion  int    `json:"current_version"`
		Failed          []struct{ Rule string }
	}
	var dr struct {
		PolicyChecked   bool `json:"policy_checked"`
		PolicyEvaluated int  `json:"policy_evaluated"`
		Policy          []policyDrift
	}
	mine := func() map[string]policyDrift {
		out := map[string]policyDrift{}
		for _, p := range dr.Policy {
			if p.EnvironmentID == envID {
				out[p.DeviceID] = p
			}
		}
		return out
	}
	// Under the policies they were admitted with, nothing drifts: replaying the admission
	// sees the device as it was then (registered for an onboarding).
	s.must(t, 200, oscar, "GET", "/v1/reports/drift", nil).json(t, &dr)
	if got := mine(); !dr.PolicyChecked || dr.PolicyEvaluated < 2 || len(got) != 0 {
		t.Fatalf("drift under unchanged policies: %+v", dr)
	}
	onb := map[string]any{"rules": []map[string]string{
		{"name": "factory-not-revoked", "expr": "!factory.revoked"},
		{"name": "hardware-c", "expr": `facts.hardware_revision == "C"`, "message": "hardware revision C only"},
	}}
	s.setPolicy(t, oscar, olivia, envID, "onboarding", onb, 202)
	s.must(t, 200, oscar, "GET", "/v1/reports/drift", nil).json(t, &dr)
	got := mine()
	if p, ok := got[ids["SN-T1"]]; len(got) != 1 || !ok || p.PolicyKind != "onboarding" || p.AdmittedVersion != 1 || p.CurrentVersion != 2 ||
		len(p.Failed) != 1 || p.Failed[0].Rule != "hardware-c" {
		t.Errorf("after tightening onboarding: %+v, want only %s failing hardware-c", got, ids["SN-T1"])
	}
	ren := map[string]any{"rules": []map[string]string{{"name": "hardware-c", "expr": `facts.hardware_revision == "C"`}}}
	s.setPolicy(t, oscar, olivia, envID, "renewal", ren, 202)
	s.must(t, 200, audrey, "GET", "/v1/reports/drift", nil).json(t, &dr)
	got = mine()
	if p, ok := got[ids["SN-T2"]]; len(got) != 2 || !ok || p.PolicyKind != "renewal" || p.AdmittedVersion != 1 || p.CurrentVersion != 2 {
		t.Errorf("after tightening renewal: %+v, want T1 and T2 (renewal 1 → 2)", got)
	}
	s.must(t, 200, dana, "GET", "/v1/reports/drift", nil).json(t, &dr)
	if got := mine(); len(got) != 0 {
		t.Errorf("dana sees policy drift of %s: %+v", envID, got)
	}
}
