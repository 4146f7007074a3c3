package app

import (
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
	for _, life := range []string{"73h", "720h"} {
		refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "admin", "admin": true, "token_lifetime": life}), 400, "hand-over token")
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
	var own api.CreatedPrincipal
	s.must(t, 201, "initech/admin", "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "ian", "token_lifetime": "720h"}).json(t, &own)
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
// and deployment administrators (not by another party), until that administrator rotates its
// own token.
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
			h.MintedAt.Before(at.Add(-time.Minute)) || h.ExpiresAt.Sub(h.MintedAt) != 72*time.Hour || !strings.Contains(h.Why, "not rotated by the party") {
			t.Fatalf("the hand-over gap as %s sees it: %+v", who, h)
		}
	}
	if _, ok := handoverRows(t, s, alice)[id]; ok {
		t.Fatal("another party sees initech's hand-over")
	}

	// A principal the administrator mints is the party's own; the administrator is still in
	// hand-over.
	_, ian := addPrincipal(t, s, "initech", "ian", false)
	rows := handoverRows(t, s, "initech/admin")
	if _, ok := rows[ian]; ok || len(rows) != 1 {
		t.Fatalf("the hand-over gaps after the party minted its own principal: %+v", rows)
	}

	// The party's administrator rotates its own token: the hand-over is done.
	var nt struct{ Token string }
	s.must(t, 201, "initech/admin", "POST", "/v1/principals/"+id+"/tokens", map[string]any{}).json(t, &nt)
	s.tokens["initech/admin"] = nt.Token
	for _, who := range []string{"initech/admin", audrey, deployAdmin} {
		if rows := handoverRows(t, s, who); len(rows) != 0 {
			t.Fatalf("%s still sees hand-over gaps after the rotation: %+v", who, rows)
		}
	}
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
