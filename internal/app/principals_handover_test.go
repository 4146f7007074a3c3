package app

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// handoverRows returns the hand-over gaps who sees, by principal ID.
func handoverRows(t *testing.T, s *devServer, who string) map[string]api.HandoverGap {
	t.Helper()
	var rep api.GapsReport
	s.must(t, 200, who, "GET", "/v1/reports/gaps", nil).json(t, &rep)
	out := map[string]api.HandoverGap{}
	for _, h := range rep.Handover {
		out[h.PrincipalID] = h
	}
	return out
}

// TestHandoverTokenIsShortLived: the token a deployment administrator mints for a party's
// first administrator (a hand-over token, which it is shown) expires within 72h, whatever the
// deployment's maximum; a longer lifetime is refused with 400 and creates nothing; a shorter
// one is kept. Under break-glass its rotations of a party's principal are bounded alike.
func TestHandoverTokenIsShortLived(t *testing.T) {
	s := startDev(t, t.TempDir())
	s.must(t, 201, deployAdmin, "POST", "/v1/parties", map[string]any{"id": "initech", "name": "Initech", "kind": "manufacturer"})

	before := auditCount(t, s)
	refusedBefore := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "invalid"})
	for _, life := range []string{"73h", "720h"} {
		refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "admin", "admin": true, "token_lifetime": life}), 400, "hand-over token")
	}
	// Each is recorded as a refusal of rule token:handover-lifetime (its audit event is
	// written when the refusal window ends, TestRefusalsAudited).
	if got := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "invalid"}); got != refusedBefore+2 {
		t.Errorf("hallmark_refusals_total{reason=invalid} = %v, want %v: the refused hand-overs are not recorded", got, refusedBefore+2)
	}
	var ps items
	s.must(t, 200, deployAdmin, "GET", "/v1/parties/initech/principals", nil).json(t, &ps)
	if len(ps.Items) != 0 || auditCount(t, s) != before {
		t.Fatalf("a refused hand-over left %d principals and %d audit events", len(ps.Items), auditCount(t, s)-before)
	}

	var first api.CreatedPrincipal
	at := time.Now()
	s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "admin", "admin": true}).json(t, &first)
	if left := first.TokenExpiresAt.Sub(at); left > 72*time.Hour+time.Minute || left < 71*time.Hour {
		t.Fatalf("the first administrator's token expires in %s, want 72h", left)
	}
	s.tokens["initech/admin"] = first.Token
	// A shorter one is kept; the party's own administrator is not bounded by the hand-over.
	s.must(t, 201, deployAdmin, "POST", "/v1/parties", map[string]any{"id": "hooli", "name": "Hooli", "kind": "operator"})
	var short api.CreatedPrincipal
	s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "hooli", "name": "admin", "admin": true, "token_lifetime": "2h"}).json(t, &short)
	if left := time.Until(short.TokenExpiresAt); left > 2*time.Hour || left < time.Hour {
		t.Fatalf("a 2h hand-over token expires in %s", left)
	}
	// A token minted in a request authenticated by the hand-over token is one too: whoever
	// holds the hand-over token is shown it.
	refused(t, s.call(t, "initech/admin", "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "ian", "token_lifetime": "720h"}), 400, "hand-over token")
	// Signed in through the party's identity provider, its administrator is not bounded.
	var own api.CreatedPrincipal
	s.must(t, 201, signIn(t, s, "initech/admin"), "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "ian", "token_lifetime": "720h"}).json(t, &own)
	if left := time.Until(own.TokenExpiresAt); left < 719*time.Hour {
		t.Fatalf("a token the party mints for itself expires in %s, want 720h", left)
	}

	// Break-glass: the deployment administrator's rotation of an acme principal is a
	// hand-over too.
	var acc accessRec
	s.must(t, 201, deployAdmin, "POST", "/v1/parties/acme/access", map[string]any{"reason": "ticket 7: re-key bob", "duration": "1h"}).json(t, &acc)
	s.must(t, 200, "acme/admin", "POST", "/v1/access/"+acc.ID+"/decision", map[string]any{"approve": true})
	bobID := principalIDs(t, s, "acme")[bob]
	refused(t, s.call(t, deployAdmin, "POST", "/v1/principals/"+bobID+"/tokens", map[string]any{"lifetime": "720h"}), 400, "hand-over token")
	var rot struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	s.must(t, 201, deployAdmin, "POST", "/v1/principals/"+bobID+"/tokens", map[string]any{"overlap": "1h"}).json(t, &rot)
	if left := time.Until(rot.ExpiresAt); left > 72*time.Hour || left < 71*time.Hour {
		t.Fatalf("a token minted under break-glass expires in %s, want 72h", left)
	}
}

// TestGapsListHandoverUntilRotated: a party whose first administrator still holds only the
// token the deployment administrator minted is a hand-over gap, seen by the party, auditors
// and deployment administrators (not by another party), until the administrator, signed in
// through the party's identity provider, rotates its own token.
func TestGapsListHandoverUntilRotated(t *testing.T) {
	s := startDev(t, t.TempDir())
	if rows := handoverRows(t, s, audrey); len(rows) != 0 {
		t.Fatalf("the dev parties, whose administrators rotated at once, are hand-over gaps: %+v", rows)
	}
	at := time.Now().UTC()
	newParty(t, s, "initech", "Initech", "manufacturer")
	id := principalIDs(t, s, "initech")["initech/admin"]
	for _, who := range []string{"initech/admin", audrey, deployAdmin} {
		h, ok := handoverRows(t, s, who)[id]
		if !ok {
			t.Fatalf("%s sees no hand-over gap for initech/admin", who)
		}
		if h.PartyID != "initech" || h.Name != "admin" || !h.Admin || h.Auditor || h.MintedBy == "" ||
			h.MintedAt.Before(at.Add(-time.Minute)) || h.ExpiresAt.Sub(h.MintedAt) != 72*time.Hour || !strings.Contains(h.Why, "not rotated by the party") ||
			!strings.Contains(h.Why, "identity provider") {
			t.Fatalf("the hand-over gap as %s sees it: %+v", who, h)
		}
	}
	if _, ok := handoverRows(t, s, alice)[id]; ok {
		t.Fatal("another party sees initech's hand-over")
	}

	// The administrator, signed in through the party's identity provider (whose sessions the
	// deployment administrator was never shown), rotates its own token: the hand-over is done.
	var nt struct {
		Token     string
		ExpiresAt time.Time `json:"expires_at"`
	}
	s.must(t, 201, signIn(t, s, "initech/admin"), "POST", "/v1/principals/"+id+"/tokens", map[string]any{}).json(t, &nt)
	if left := time.Until(nt.ExpiresAt); left < 72*time.Hour {
		t.Fatalf("the party's own rotation gave a token of %s, bounded as a hand-over", left)
	}
	s.tokens["initech/admin"] = nt.Token
	for _, who := range []string{"initech/admin", audrey, deployAdmin} {
		if rows := handoverRows(t, s, who); len(rows) != 0 {
			t.Fatalf("%s still sees hand-over gaps after the rotation: %+v", who, rows)
		}
	}
}

// TestHandoverSurvivesRotationWithIt: a rotation authenticated by the hand-over token is not
// the party's: whoever kept the token (the deployment administrator that minted it) is shown
// the new one. The first administrator rotating its own token with the hand-over token, again
// with the token that gave, and creating a principal with it, each mint a hand-over token
// (at most 72h, a longer one refused) and the gaps stay; the rotation's event names the token
// it was authenticated by.
func TestHandoverSurvivesRotationWithIt(t *testing.T) {
	s := startDev(t, t.TempDir())
	newParty(t, s, "initech", "Initech", "manufacturer")
	id := principalIDs(t, s, "initech")["initech/admin"]
	var handover api.GapsReport
	s.must(t, 200, deployAdmin, "GET", "/v1/reports/gaps", nil).json(t, &handover)
	if len(handover.Handover) != 1 {
		t.Fatalf("the hand-over gaps after creating initech: %+v", handover.Handover)
	}
	first := handover.Handover[0].TokenID

	before := auditCount(t, s)
	refused(t, s.call(t, "initech/admin", "POST", "/v1/principals/"+id+"/tokens", map[string]any{"lifetime": "720h"}), 400, "hand-over token")
	if n := auditCount(t, s); n != before {
		t.Fatalf("a refused rotation left %d audit events", n-before)
	}
	auth := first
	for i := range 2 {
		var nt struct {
			Token     string
			ID        string    `json:"id"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		s.must(t, 201, "initech/admin", "POST", "/v1/principals/"+id+"/tokens", map[string]any{}).json(t, &nt)
		if left := time.Until(nt.ExpiresAt); left > 72*time.Hour || left < 71*time.Hour {
			t.Fatalf("rotation %d with the hand-over token gave a token of %s, want 72h", i+1, left)
		}
		s.tokens["initech/admin"] = nt.Token
		h, ok := handoverRows(t, s, "initech/admin")[id]
		if !ok || h.TokenID != nt.ID || h.MintedBy != id {
			t.Fatalf("after rotation %d with the hand-over token the gap is %+v (listed %v), want token %s minted by %s", i+1, h, ok, nt.ID, id)
		}
		var ev auditEvent
		for _, e := range auditEvents(t, s) {
			if e.Action == "principal.token.rotate" && e.Subject == "principal:"+id {
				ev = e
			}
		}
		var d struct {
			Token     string `json:"token"`
			Handover  bool   `json:"handover"`
			AuthToken string `json:"auth_token"`
		}
		if err := json.Unmarshal(ev.Detail, &d); err != nil || d.Token != nt.ID || !d.Handover || d.AuthToken != auth {
			t.Fatalf("the event of rotation %d: %s (%v), want token %s, handover, auth_token %s", i+1, ev.Detail, err, nt.ID, auth)
		}
		auth = nt.ID
	}

	// A principal it creates with it is in hand-over too, and seen so.
	_, ian := addPrincipal(t, s, "initech", "ian", false)
	rows := handoverRows(t, s, audrey)
	if _, ok := rows[ian]; !ok || len(rows) != 2 {
		t.Fatalf("the hand-over gaps after the administrator minted a principal with its hand-over token: %+v", rows)
	}
	// ian's token, minted with the hand-over, rotates only into another hand-over token.
	s.must(t, 201, "initech/ian", "POST", "/v1/principals/"+ian+"/tokens", map[string]any{})
	if _, ok := handoverRows(t, s, deployAdmin)[ian]; !ok {
		t.Fatal("ian's rotation with a token minted under the hand-over ended its gap")
	}
}

// TestHandoverCompletedByAnotherAdministrator: the bootstrap. The first administrator signs
// in through the party's identity provider and creates a second administrator, whose token
// (minted in a session, not with a hand-over token) is the party's own; that administrator
// rotates the first one's token, and then the first rotates the token of a principal it had
// created with its hand-over token: every gap is closed, and the new tokens are not bounded.
func TestHandoverCompletedByAnotherAdministrator(t *testing.T) {
	s := startDev(t, t.TempDir())
	newParty(t, s, "initech", "Initech", "manufacturer")
	_, ian := addPrincipal(t, s, "initech", "ian", false)
	first := principalIDs(t, s, "initech")["initech/admin"]
	if rows := handoverRows(t, s, audrey); len(rows) != 2 {
		t.Fatalf("the hand-over gaps before the party acts: %+v", rows)
	}

	var ada api.CreatedPrincipal
	s.must(t, 201, signIn(t, s, "initech/admin"), "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "ada", "admin": true}).json(t, &ada)
	s.tokens["initech/ada"] = ada.Token
	if left := time.Until(ada.TokenExpiresAt); left < 72*time.Hour {
		t.Fatalf("the administrator made in a session got a token of %s, bounded as a hand-over", left)
	}
	if _, ok := handoverRows(t, s, audrey)[ada.ID]; ok {
		t.Fatal("an administrator made in a session of the party is a hand-over gap")
	}

	var nt struct {
		Token     string
		ExpiresAt time.Time `json:"expires_at"`
	}
	s.must(t, 201, "initech/ada", "POST", "/v1/principals/"+first+"/tokens", map[string]any{}).json(t, &nt)
	s.tokens["initech/admin"] = nt.Token
	if left := time.Until(nt.ExpiresAt); left < 72*time.Hour {
		t.Fatalf("another administrator's rotation gave a token of %s, bounded as a hand-over", left)
	}
	rows := handoverRows(t, s, audrey)
	if _, ok := rows[first]; ok || len(rows) != 1 {
		t.Fatalf("the hand-over gaps after another administrator rotated the first's token: %+v", rows)
	}
	s.must(t, 201, "initech/admin", "POST", "/v1/principals/"+ian+"/tokens", map[string]any{})
	for _, who := range []string{"initech/admin", audrey, deployAdmin} {
		if rows := handoverRows(t, s, who); len(rows) != 0 {
			t.Fatalf("%s still sees hand-over gaps: %+v", who, rows)
		}
	}
}

// signIn signs who (PARTY/NAME) in through the dev sign-in of serve --dev, the same session a
// sign-in through the party's identity provider gives, and returns the name its session token
// is kept under for s.call.
func signIn(t *testing.T, s *devServer, who string) string {
	t.Helper()
	var out api.SessionWithToken
	s.must(t, 201, "", "POST", "/v1/auth/dev", map[string]string{"person": who}).json(t, &out)
	s.tokens[who+"@signin"] = out.Token
	return who + "@signin"
}

// TestGapsHandoverOfAnAuditorParty: the deployment administrator creates a party, keeps its
// first administrator's token and appoints the party auditor of the deployment. The gap says
// that whoever holds the token reads every device, and every party sees it.
func TestGapsHandoverOfAnAuditorParty(t *testing.T) {
	s := startDev(t, t.TempDir())
	newParty(t, s, "watchco", "Watch & Co", "auditor")
	newParty(t, s, "initech", "Initech", "manufacturer")
	ids := principalIDs(t, s, "watchco", "initech")
	watch, plain := ids["watchco/admin"], ids["initech/admin"]
	if h := handoverRows(t, s, audrey)[watch]; h.Auditor || strings.Contains(h.Why, "every device") {
		t.Fatalf("a party that audits nothing is called an auditor: %+v", h)
	}
	s.must(t, 200, deployAdmin, "PUT", "/v1/ownership", map[string]any{"stage": "operational", "duty": "audit",
		"scope": map[string]string{"kind": "deployment", "id": "*"}, "party_id": "watchco"})

	for _, who := range []string{"watchco/admin", audrey, deployAdmin, alice} {
		var rep api.GapsReport
		s.must(t, 200, who, "GET", "/v1/reports/gaps", nil).json(t, &rep)
		if len(rep.Handover) == 0 || rep.Handover[0].PrincipalID != watch {
			t.Fatalf("%s does not see the auditor's hand-over first: %+v", who, rep.Handover)
		}
		h := rep.Handover[0]
		if !h.Auditor || !strings.Contains(h.Why, "audits the deployment") || !strings.Contains(h.Why, "reads every device") {
			t.Fatalf("the auditor's hand-over as %s sees it: %+v", who, h)
		}
	}
	if h := handoverRows(t, s, audrey)[plain]; h.Auditor || strings.Contains(h.Why, "every device") {
		t.Fatalf("a manufacturer's hand-over is called an auditor's: %+v", h)
	}
	if _, ok := handoverRows(t, s, alice)[plain]; ok {
		t.Fatal("another party sees a non-auditor's hand-over")
	}
}
