package app

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// TestHandoverBound: over HTTPS, the deployment administrator cannot keep a party in hand-over
// for ever. Each refusal is a 409 (403, 400) naming its rule, leaves no change and no audit
// event of a change, is counted at once in hallmark_refusals_total and written to the audit log
// as a refusal event naming the rule:
//   - a party whose hand-overs expire unrotated gets a new first administrator at most 3 times
//     in 30 days (token:handover-limit);
//   - an administrator authenticated with its hand-over token may not approve a break-glass
//     request (token:handover-decide); signed in it may;
//   - a new first administrator is refused while a principal of the party holds a working
//     hand-over token (token:handover-open), here one made under break-glass, until its holder
//     revokes it (audited);
//   - a rotation with the hand-over token ends no later than it, a longer one refused
//     (token:handover-lifetime), so rotating with it does not prolong the hand-over.
//
// The gaps report's hand-over row says how near the party is to the bound.
func TestHandoverBound(t *testing.T) {
	clock := &skewClock{}
	s := startDevWith(t, t.TempDir(), clock.now)
	conflicts := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "conflict"})
	denials := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "denied"})
	invalid := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "invalid"})
	first := func(partyID, name string) api.CreatedPrincipal {
		t.Helper()
		var p api.CreatedPrincipal
		s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": partyID, "name": name, "admin": true}).json(t, &p)
		s.tokens[partyID+"/"+name] = p.Token
		return p
	}

	// The limit: three hand-overs of initech, each left to expire; the fourth is refused.
	s.must(t, 201, deployAdmin, "POST", "/v1/parties", map[string]any{"id": "initech", "name": "Initech", "kind": "manufacturer"})
	for _, name := range []string{"admin1", "admin2", "admin3"} {
		first("initech", name)
		clock.add(72*time.Hour + time.Second)
	}
	before := auditCount(t, s)
	refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "admin4", "admin": true}), 409, "token:handover-limit")
	if _, ok := principalIDs(t, s, "initech")["initech/admin4"]; ok || auditCount(t, s) != before {
		t.Fatal("the refused hand-over made a principal or left an audit event")
	}

	// Break-glass approved with the hand-over token: refused; signed in: approved.
	s.must(t, 201, deployAdmin, "POST", "/v1/parties", map[string]any{"id": "hooli", "name": "Hooli", "kind": "operator"})
	admin := first("hooli", "admin")
	var acc accessRec
	s.must(t, 201, deployAdmin, "POST", "/v1/parties/hooli/access", map[string]any{"reason": "ticket 12: a helper", "duration": "1h"}).json(t, &acc)
	refused(t, s.call(t, "hooli/admin", "POST", "/v1/access/"+acc.ID+"/decision", map[string]any{"approve": true}), 403, "token:handover-decide")
	session := signIn(t, s, "hooli/admin")
	// The party completes its hand-over, signed in, with a short token of its own.
	s.must(t, 201, session, "POST", "/v1/principals/"+admin.ID+"/tokens", map[string]any{"lifetime": "2h"})
	s.must(t, 200, session, "POST", "/v1/access/"+acc.ID+"/decision", map[string]any{"approve": true})

	// A helper made under break-glass holds a hand-over token (72h) after the party's own
	// administrator's token has ended: no new first administrator while it works.
	var helper api.CreatedPrincipal
	s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "hooli", "name": "helper"}).json(t, &helper)
	s.tokens["hooli/helper"] = helper.Token
	clock.add(3 * time.Hour)
	before = auditCount(t, s)
	refused(t, s.call(t, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "hooli", "name": "admin2", "admin": true}), 409, "token:handover-open")
	if auditCount(t, s) != before {
		t.Fatal("the refused hand-over left an audit event")
	}
	toks := tokensOf(t, s, "hooli/helper", helper.ID)
	if len(toks) != 1 {
		t.Fatalf("the helper's tokens: %+v", toks)
	}
	s.must(t, 200, "hooli/helper", "POST", "/v1/principals/"+helper.ID+"/tokens/"+toks[0].ID+"/revoke", nil)
	if acts := actionsSince(t, s, before); len(acts) != 1 || acts[0] != "principal.token.revoke" {
		t.Fatalf("the revocation is audited as %v", acts)
	}
	second := first("hooli", "admin2")
	// The gaps report shows the new hand-over and how near the party is to the bound.
	if h, ok := handoverRows(t, s, "hooli/admin2")[second.ID]; !ok || !strings.Contains(h.Why, "at most 3 times in 30 days: it created 3 principals of the party in the last 30 days") {
		t.Fatalf("the hand-over gap of hooli's new administrator: %+v (listed %v)", h, ok)
	}

	// Rotating with the hand-over token does not prolong it.
	end := second.TokenExpiresAt.Truncate(time.Microsecond) // as stored
	clock.add(70 * time.Hour)
	refused(t, s.call(t, "hooli/admin2", "POST", "/v1/principals/"+second.ID+"/tokens", map[string]any{"lifetime": "3h"}), 400, "token:handover-lifetime")
	var rot struct {
		Token     string
		ExpiresAt time.Time `json:"expires_at"`
	}
	s.must(t, 201, "hooli/admin2", "POST", "/v1/principals/"+second.ID+"/tokens", map[string]any{}).json(t, &rot)
	if !rot.ExpiresAt.Equal(end) {
		t.Fatalf("a rotation with the hand-over token ends %s, want %s (the hand-over's end)", rot.ExpiresAt, end)
	}

	for _, c := range []struct {
		reason string
		was    float64
		n      float64
	}{{"conflict", conflicts, 2}, {"denied", denials, 1}, {"invalid", invalid, 1}} {
		if got := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": c.reason}); got != c.was+c.n {
			t.Errorf("hallmark_refusals_total{reason=%s} = %v, want %v", c.reason, got, c.was+c.n)
		}
	}
	// Their refusal events are written when the window ends, naming the rules.
	clock.add(61 * time.Second)
	want := map[string]string{"token:handover-limit": "conflict", "token:handover-open": "conflict", "token:handover-decide": "denied", "token:handover-lifetime": "invalid"}
	var rep api.RefusalReport
	waitFor(t, "the refusal events of the hand-over bound", func() bool {
		s.must(t, 200, audrey, "GET", "/v1/reports/refusals", nil).json(t, &rep)
		n := 0
		for _, r := range rep.Items {
			if reason, ok := want[r.Rule]; ok && r.Reason == reason && r.Count == 1 && r.Via == "api" {
				n++
			}
		}
		return n == len(want)
	})
	for _, e := range auditEvents(t, s) {
		if e.Action != "refusal" {
			continue
		}
		var d struct{ Rule string }
		if err := json.Unmarshal(e.Detail, &d); err == nil && strings.HasPrefix(d.Rule, "token:handover-") {
			delete(want, d.Rule)
		}
	}
	if len(want) != 0 {
		t.Fatalf("no refusal audit event names %v", want)
	}
}
