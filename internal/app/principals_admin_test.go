package app

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

type accessRec struct {
	ID          string     `json:"id"`
	PartyID     string     `json:"party_id"`
	PrincipalID string     `json:"principal_id"`
	State       string     `json:"state"`
	Until       *time.Time `json:"until"`
}

// TestDeploymentAdministratorIsNoParty (point 3): the impersonation of issue 16 is refused.
// The deployment administrator belongs to no party: it creates parties and their first
// administrators and sets deployment-wide settings, but cannot mint a principal in a party
// that has administrators, act as a party, read its devices, or be the second approver of
// acme's whole-CA revocation.
func TestDeploymentAdministratorIsNoParty(t *testing.T) {
	dir := t.TempDir()
	s := startDev(t, dir)
	var me struct {
		PartyID string `json:"party_id"`
		Admin   bool   `json:"admin"`
	}
	s.must(t, 200, deployAdmin, "GET", "/v1/whoami", nil).json(t, &me)
	if me.PartyID != "*" || !me.Admin {
		t.Fatalf("the deployment administrator: %+v", me)
	}
	lot := demoLot(t, s, "lot-probe")
	fi := issueFactory(t, s, dir, lot, "lot-probe", "SN-P1")

	// The probe of the issue: mint a principal of acme and act as acme with it.
	before := auditCount(t, s)
	for _, body := range []map[string]any{
		{"party_id": "acme", "name": "probe"},
		{"party_id": "acme", "name": "probe", "admin": true},
	} {
		refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", body), 403, "administrator of that party")
	}
	// Nor as a party itself: no lot, no device, no audit log, no cell over acme.
	refused(t, s.call(t, deployAdmin, "POST", "/v1/lots", acmeLot(t, s)), 403, "party * does not own manufacturing/issue")
	refused(t, s.call(t, deployAdmin, "GET", "/v1/devices/"+fi.Device.ID, nil), 404, "")
	refused(t, s.call(t, deployAdmin, "GET", "/v1/audit/events", nil), 403, "audit cell")
	refused(t, s.call(t, deployAdmin, "PUT", "/v1/ownership", map[string]any{"stage": "manufacturing", "duty": "issue",
		"scope": map[string]string{"kind": "manufacturer", "id": "acme"}, "party_id": "northwind"}), 403, "deployment scope only")
	refused(t, s.call(t, deployAdmin, "PUT", "/v1/principals/"+principalIDs(t, s, "acme")[bob]+"/duties", map[string]any{"duties": []string{}}), 403, "break-glass")
	for _, path := range []string{"/v1/devices", "/v1/reports/inventory", "/v1/cas"} {
		if r := s.must(t, 200, deployAdmin, "GET", path, nil); strings.Contains(string(r.Body), fi.Device.ID) || partyAcme.Match(r.Body) {
			t.Fatalf("the deployment administrator reads acme's things at %s: %s", path, r.Body)
		}
	}
	if n := auditCount(t, s); n != before {
		t.Fatalf("refused requests appended %d audit events", n-before)
	}

	// The second approver of acme's whole-CA revocation is an acme principal, never it.
	var h struct{ Issuing struct{ ID string } }
	s.must(t, 201, alice, "POST", "/v1/manufacturing/hierarchies", map[string]any{"manufacturer_id": "acme", "name": "spare"}).json(t, &h)
	var req struct{ Approval struct{ ID string } }
	s.must(t, 202, bob, "POST", "/v1/manufacturing/revocations", map[string]any{"selector": map[string]string{"manufacturer_id": "acme", "issuing_ca_id": h.Issuing.ID},
		"reason": "cACompromise", "dry_run": false, "why": "the spare CA's HSM was lost"}).json(t, &req)
	s.must(t, 200, alice, "POST", "/v1/approvals/"+req.Approval.ID+"/decision", map[string]any{"approve": true})
	refused(t, s.call(t, deployAdmin, "POST", "/v1/approvals/"+req.Approval.ID+"/decision", map[string]any{"approve": true}), 404, "not found")
	var ap struct{ State string }
	s.must(t, 200, alice, "GET", "/v1/approvals/"+req.Approval.ID, nil).json(t, &ap)
	if ap.State != "pending" {
		t.Fatalf("the whole-CA revocation after the deployment administrator's try: %s", ap.State)
	}

	// What it does do: parties, their first administrators, deployment-wide settings.
	s.must(t, 201, deployAdmin, "POST", "/v1/parties", map[string]any{"id": "initech", "name": "Initech", "kind": "manufacturer"})
	refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "ian"}), 403, "first administrator")
	var first struct{ ID, Token string }
	s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "admin", "admin": true}).json(t, &first)
	s.tokens["initech/admin"] = first.Token
	refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "admin-2", "admin": true}), 403, "administrator of that party")
	s.must(t, 201, "initech/admin", "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "ian"})
	s.must(t, 200, deployAdmin, "PUT", "/v1/approval-rules/readmit", map[string]any{"approvers": 1, "other_party": false, "expiry": "48h"})
	s.must(t, 200, deployAdmin, "PUT", "/v1/ownership", map[string]any{"stage": "support", "duty": "audit", "scope": map[string]string{"kind": "deployment", "id": "*"}, "party_id": "auditco"})
	s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "*", "name": "admin-2"})
	var deploy struct {
		Items []struct {
			Name  string `json:"name"`
			Admin bool   `json:"admin"`
		} `json:"items"`
	}
	s.must(t, 200, deployAdmin, "GET", "/v1/parties/*/principals", nil).json(t, &deploy)
	if len(deploy.Items) != 2 || !deploy.Items[1].Admin {
		t.Fatalf("the deployment administrators: %+v", deploy.Items)
	}
	refused(t, s.call(t, alice, "GET", "/v1/parties/*/principals", nil), 403, "may not list")
	// A party's administrator is no deployment administrator.
	refused(t, s.call(t, admin, "POST", "/v1/parties", map[string]any{"id": "evil", "name": "Evil", "kind": "operator"}), 403, "deployment administrator")
	refused(t, s.call(t, admin, "POST", "/v1/principals", map[string]any{"party_id": "acme", "name": "probe"}), 403, "administrator of that party")
}

// TestBreakGlass (point 3): the deployment administrator asks for access to acme's
// principals; nothing opens until acme's administrator approves; every acme principal sees
// the request; while it is open the deployment administrator manages acme's principals and
// nothing else; it closes when its window ends or when acme ends it.
func TestBreakGlass(t *testing.T) {
	clock := &skewClock{}
	dir := t.TempDir()
	s := startDevWith(t, dir, clock.now)
	acmeAdmin := "acme/admin"

	for _, tc := range []struct {
		who, party string
		body       map[string]any
		status     int
		want       string
	}{
		{deployAdmin, "acme", map[string]any{"reason": ""}, 400, "reason"},
		{deployAdmin, "acme", map[string]any{"reason": "x", "duration": "25h"}, 400, "between 1m and 24h"},
		{deployAdmin, "acme", map[string]any{"reason": "x", "duration": "soon"}, 400, "not a duration"},
		{deployAdmin, "nobody", map[string]any{"reason": "x"}, 404, "party"},
		{acmeAdmin, "acme", map[string]any{"reason": "x"}, 403, "deployment administrator"},
	} {
		refused(t, s.call(t, tc.who, "POST", "/v1/parties/"+tc.party+"/access", tc.body), tc.status, tc.want)
	}
	var acc accessRec
	s.must(t, 201, deployAdmin, "POST", "/v1/parties/acme/access", map[string]any{"reason": "ticket 42: acme's administrator is away", "duration": "1h"}).json(t, &acc)
	if acc.State != "pending" || acc.Until != nil {
		t.Fatalf("the request: %+v", acc)
	}
	// Visible to the party, every principal of it; not to another party.
	for _, who := range []string{alice, acmeAdmin, audrey} {
		if r := s.must(t, 200, who, "GET", "/v1/parties/acme/access", nil); !strings.Contains(string(r.Body), acc.ID) {
			t.Fatalf("%s does not see the request: %s", who, r.Body)
		}
	}
	refused(t, s.call(t, dana, "GET", "/v1/parties/acme/access", nil), 403, "may not list")
	refused(t, s.call(t, dana, "GET", "/v1/access/"+acc.ID, nil), 404, "not found")

	// Pending: nothing open yet. Only acme's administrator decides.
	refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "acme", "name": "helper"}), 403, "break-glass")
	refused(t, s.call(t, alice, "POST", "/v1/access/"+acc.ID+"/decision", map[string]any{"approve": true}), 403, "administrator of party acme")
	refused(t, s.call(t, deployAdmin, "POST", "/v1/access/"+acc.ID+"/decision", map[string]any{"approve": true}), 403, "administrator of party acme")
	refused(t, s.call(t, admin, "POST", "/v1/access/"+acc.ID+"/decision", map[string]any{"approve": true}), 404, "not found")
	s.must(t, 200, acmeAdmin, "POST", "/v1/access/"+acc.ID+"/decision", map[string]any{"approve": true, "comment": "until lunch"}).json(t, &acc)
	if acc.State != "approved" || acc.Until == nil {
		t.Fatalf("the approved request: %+v", acc)
	}
	refused(t, s.call(t, acmeAdmin, "POST", "/v1/access/"+acc.ID+"/decision", map[string]any{"approve": true}), 409, "not pending")

	// Open: it manages acme's principals, and still does not act as acme.
	var helper struct {
		ID, Token, AccessID, CreatedBy string
	}
	s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "acme", "name": "helper", "admin": true}).json(t, &helper)
	var p struct {
		AccessID  string `json:"access_id"`
		CreatedBy string `json:"created_by"`
	}
	s.must(t, 200, alice, "GET", "/v1/principals/"+helper.ID, nil).json(t, &p)
	if p.AccessID != acc.ID || p.CreatedBy != acc.PrincipalID {
		t.Fatalf("acme sees its new principal as %+v, want made under %s by %s", p, acc.ID, acc.PrincipalID)
	}
	bobID := principalIDs(t, s, "acme")[bob]
	s.must(t, 201, deployAdmin, "POST", "/v1/principals/"+bobID+"/tokens", map[string]any{"overlap": "1h"})
	s.must(t, 200, deployAdmin, "PUT", "/v1/principals/"+bobID+"/duties", map[string]any{"duties": []string{"manufacturing/revoke"}})
	refused(t, s.call(t, deployAdmin, "POST", "/v1/lots", acmeLot(t, s)), 403, "party * does not own manufacturing/issue")
	if r := s.must(t, 200, deployAdmin, "GET", "/v1/devices", nil); strings.Contains(string(r.Body), `"manufacturer_id"`) {
		t.Fatalf("the deployment administrator reads devices under break-glass: %s", r.Body)
	}
	var evs []auditEvent
	for _, e := range auditEvents(t, s) {
		if e.Action == "principal.create" && e.Subject == "principal:"+helper.ID {
			evs = append(evs, e)
		}
	}
	if len(evs) != 1 || !strings.Contains(string(evs[0].Detail), acc.ID) {
		t.Fatalf("the principal made under break-glass is audited as %+v", evs)
	}

	// The window ends: nothing more.
	clock.add(time.Hour + time.Second)
	refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "acme", "name": "helper-2"}), 403, "break-glass")
	s.must(t, 200, alice, "GET", "/v1/access/"+acc.ID, nil).json(t, &acc)
	if acc.State != "over" {
		t.Fatalf("the request after its window: %+v", acc)
	}

	// Ended early by acme: closed at once.
	var again accessRec
	s.must(t, 201, deployAdmin, "POST", "/v1/parties/acme/access", map[string]any{"reason": "ticket 43"}).json(t, &again)
	s.must(t, 200, acmeAdmin, "POST", "/v1/access/"+again.ID+"/decision", map[string]any{"approve": true})
	refused(t, s.call(t, alice, "POST", "/v1/access/"+again.ID+"/end", nil), 403, "administrator of party acme or its requester")
	s.must(t, 200, acmeAdmin, "POST", "/v1/access/"+again.ID+"/end", nil)
	refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "acme", "name": "helper-3"}), 403, "break-glass")
	refused(t, s.call(t, acmeAdmin, "POST", "/v1/access/"+again.ID+"/end", nil), 409, "not open")

	// Denied: never opens.
	var denied accessRec
	s.must(t, 201, deployAdmin, "POST", "/v1/parties/acme/access", map[string]any{"reason": "ticket 44"}).json(t, &denied)
	s.must(t, 200, acmeAdmin, "POST", "/v1/access/"+denied.ID+"/decision", map[string]any{"approve": false}).json(t, &denied)
	if denied.State != "denied" {
		t.Fatalf("the denied request: %+v", denied)
	}
	refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "acme", "name": "helper-4"}), 403, "break-glass")
	seen := map[string]int{}
	for _, e := range auditEvents(t, s) {
		seen[e.Action]++
	}
	for action, want := range map[string]int{"party.access.request": 3, "party.access.approve": 2, "party.access.deny": 1, "party.access.end": 1} {
		if seen[action] != want {
			t.Errorf("%d audit events %s, want %d", seen[action], action, want)
		}
	}
}

// acmeLot is the body of a new lot of acme's demo model on its issuing CA.
func acmeLot(t *testing.T, s *devServer) map[string]any {
	t.Helper()
	var cas, models items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	s.must(t, 200, alice, "GET", "/v1/models?manufacturer=acme", nil).json(t, &models)
	issuing := ""
	for _, c := range cas.Items {
		if c.Role == "issuing" {
			issuing = c.ID
		}
	}
	return map[string]any{"model_id": models.Items[0].ID, "name": "probe-lot", "line": "a", "issuing_ca_id": issuing}
}

// partyAcme finds a party_id of acme in a JSON body, compact or indented.
var partyAcme = regexp.MustCompile(`"party_id":\s*"acme"`)
