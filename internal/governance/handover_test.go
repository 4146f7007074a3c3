package governance_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// handoverWorld is newWorld with a stored deployment administrator (the lineage reads a
// creator's party from its own record) and a new party initech, which has no principal yet.
func handoverWorld(t *testing.T) (*world, audit.Actor) {
	t.Helper()
	w := newWorld(t)
	root, _, err := w.svc.CreatePrincipal(ctx, admin, governance.CreatePrincipalRequest{PartyID: party.Deployment, Name: "root"})
	if err != nil {
		t.Fatalf("creating a deployment administrator: %v", err)
	}
	d := governance.Actor(root)
	if _, err := w.svc.CreateParty(ctx, d, governance.CreatePartyRequest{ID: "initech", Name: "Initech", Kind: party.Manufacturer}); err != nil {
		t.Fatalf("creating initech: %v", err)
	}
	return w, d
}

// firstAdmin has d create initech's first administrator named name, and returns it as an
// actor authenticated with that (hand-over) token.
func firstAdmin(t *testing.T, w *world, d audit.Actor, name, life string) (audit.Actor, governance.NewToken) {
	t.Helper()
	p, nt, err := w.svc.CreatePrincipal(ctx, d, governance.CreatePrincipalRequest{PartyID: "initech", Name: name, Admin: true, TokenLifetime: life})
	if err != nil {
		t.Fatalf("creating initech's first administrator %s: %v", name, err)
	}
	a := governance.Actor(p)
	a.TokenID = nt.Token.ID
	return a, nt
}

// wantRule fails unless err is of kind k and names rule, and the call left no audit event.
func wantRule(t *testing.T, w *world, before int, err error, k failure.Kind, rule, msg string) {
	t.Helper()
	if err == nil || !failure.Is(err, k) || failure.RuleOf(err) != rule || !strings.Contains(err.Error(), msg) {
		t.Fatalf("err = %v (rule %q), want %s naming rule %s and saying %q", err, failure.RuleOf(err), k, rule, msg)
	}
	if n := w.events(t); n != before {
		t.Fatalf("the refused call left %d audit events", n-before)
	}
}

// TestHandoverLimit: a deployment administrator gives a party whose hand-overs expire unrotated
// a new first administrator at most party.HandoverLimit times in party.HandoverWindow; the next
// is refused (409, rule token:handover-limit) until the oldest leaves the window. Each
// creation's event says where it stands against the bound.
func TestHandoverLimit(t *testing.T) {
	w, d := handoverWorld(t)
	start := w.clock.Now()
	for i := 1; i <= party.HandoverLimit; i++ {
		firstAdmin(t, w, d, "admin"+string(rune('0'+i)), "")
		ev := w.lastEvent(t)
		var got struct {
			N      int    `json:"handovers_in_window"`
			Limit  int    `json:"handover_limit"`
			Window string `json:"handover_window"`
			First  bool   `json:"first_admin"`
		}
		if err := json.Unmarshal(ev.Detail, &got); err != nil || ev.Action != "principal.create" || got.N != i || got.Limit != party.HandoverLimit || got.Window != party.HandoverWindow.String() || !got.First {
			t.Fatalf("hand-over %d is audited as %s %s (%v)", i, ev.Action, ev.Detail, err)
		}
		// Unrotated, it ends: the party has no administrator again.
		w.clock.Add(party.HandoverTokenLifetime + time.Second)
	}
	before := w.events(t)
	_, _, err := w.svc.CreatePrincipal(ctx, d, governance.CreatePrincipalRequest{PartyID: "initech", Name: "admin9", Admin: true})
	wantRule(t, w, before, err, failure.Conflict, governance.RuleHandoverLimit, start.Add(party.HandoverWindow).UTC().Format(time.RFC3339))

	// Another party's count is its own: hq, whose administrator's hand-over ended too, gets a
	// new one.
	if _, _, err := w.svc.CreatePrincipal(ctx, d, governance.CreatePrincipalRequest{PartyID: "hq", Name: "extra", Admin: true}); err != nil {
		t.Fatalf("hq's new first administrator: %v", err)
	}
	// Once the first leaves the window, one more.
	w.clock.Add(start.Add(party.HandoverWindow).Sub(w.clock.Now()) + time.Second)
	firstAdmin(t, w, d, "admin9", "")
}

// TestHandoverOpen: while an enabled principal of the party holds a working hand-over token (a
// principal the deployment administrator created under break-glass, whose token outlives the
// party's administrators), a new first administrator is refused (409, rule
// token:handover-open); once its holder revokes it (audited), it is allowed.
func TestHandoverOpen(t *testing.T) {
	w, d := handoverWorld(t)
	a1, _ := firstAdmin(t, w, d, "admin", "")
	// The party completes the hand-over signed in (no token), with a short token of its own.
	session := a1
	session.TokenID = ""
	if _, err := w.svc.RotateToken(ctx, session, a1.PrincipalID, governance.RotateRequest{Lifetime: "2h"}); err != nil {
		t.Fatalf("the party's own rotation: %v", err)
	}
	acc, err := w.svc.RequestAccess(ctx, d, "initech", governance.AccessRequest{Reason: "ticket 9: a helper", Duration: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.DecideAccess(ctx, session, acc.ID, true, ""); err != nil {
		t.Fatalf("approving signed in: %v", err)
	}
	hp, hnt, err := w.svc.CreatePrincipal(ctx, d, governance.CreatePrincipalRequest{PartyID: "initech", Name: "helper"})
	if err != nil || !hnt.Token.Handover {
		t.Fatalf("the helper made under break-glass: %+v, %v", hnt.Token, err)
	}
	w.clock.Add(3 * time.Hour) // the administrator's own token has ended; the helper's has not
	before := w.events(t)
	_, _, err = w.svc.CreatePrincipal(ctx, d, governance.CreatePrincipalRequest{PartyID: "initech", Name: "admin2", Admin: true})
	wantRule(t, w, before, err, failure.Conflict, governance.RuleHandoverOpen, hnt.Token.ID)

	helper := governance.Actor(hp)
	helper.TokenID = hnt.Token.ID
	if _, err := w.svc.RevokeToken(ctx, helper, hp.ID, hnt.Token.ID); err != nil {
		t.Fatalf("the helper revoking its token: %v", err)
	}
	if ev := w.lastEvent(t); ev.Action != "principal.token.revoke" {
		t.Fatalf("the revocation is audited as %s", ev.Action)
	}
	firstAdmin(t, w, d, "admin2", "")
}

// TestHandoverCannotBeProlonged: a token minted with a hand-over token ends no later than it,
// by default, and a longer one is refused (400, rule token:handover-lifetime): rotating with
// the hand-over token every 72 hours no longer keeps it working for ever. A rotation signed in
// is the party's own and unbounded.
func TestHandoverCannotBeProlonged(t *testing.T) {
	w, d := handoverWorld(t)
	a1, nt := firstAdmin(t, w, d, "admin", "")
	end := *nt.Token.ExpiresAt
	w.clock.Add(70 * time.Hour)
	before := w.events(t)
	_, err := w.svc.RotateToken(ctx, a1, a1.PrincipalID, governance.RotateRequest{Lifetime: "3h"})
	wantRule(t, w, before, err, failure.Invalid, governance.RuleHandoverLifetime, end.UTC().Format(time.RFC3339))
	_, _, err = w.svc.CreatePrincipal(ctx, a1, governance.CreatePrincipalRequest{PartyID: "initech", Name: "ian", TokenLifetime: "3h"})
	wantRule(t, w, before, err, failure.Invalid, governance.RuleHandoverLifetime, "ends no later")

	rot, err := w.svc.RotateToken(ctx, a1, a1.PrincipalID, governance.RotateRequest{})
	if err != nil || !rot.Token.Handover || !rot.Token.ExpiresAt.Equal(end) {
		t.Fatalf("the rotation with the hand-over token: %+v, %v; want a hand-over token ending %s", rot.Token, err, end)
	}
	a1.TokenID = rot.Token.ID
	_, ian, err := w.svc.CreatePrincipal(ctx, a1, governance.CreatePrincipalRequest{PartyID: "initech", Name: "ian", TokenLifetime: "1h"})
	if err != nil || !ian.Token.Handover || !ian.Token.ExpiresAt.Equal(w.clock.Now().Add(time.Hour)) {
		t.Fatalf("a principal made with the hand-over token: %+v, %v", ian.Token, err)
	}
	a1.TokenID = ""
	own, err := w.svc.RotateToken(ctx, a1, a1.PrincipalID, governance.RotateRequest{})
	if err != nil || own.Token.Handover || own.Token.ExpiresAt.Sub(w.clock.Now()) != party.DefaultTokenLifetime {
		t.Fatalf("the party's own rotation: %+v, %v", own.Token, err)
	}
}

// TestHandoverCannotApproveBreakGlass: an administrator authenticated with a hand-over token
// (which the deployment administrator that minted it was shown) may not approve a break-glass
// request (403, rule token:handover-decide), so whoever kept the token cannot open a window for
// itself; it may deny one, and the same administrator signed in approves.
func TestHandoverCannotApproveBreakGlass(t *testing.T) {
	w, d := handoverWorld(t)
	a1, _ := firstAdmin(t, w, d, "admin", "")
	acc, err := w.svc.RequestAccess(ctx, d, "initech", governance.AccessRequest{Reason: "ticket 10"})
	if err != nil {
		t.Fatal(err)
	}
	before := w.events(t)
	_, err = w.svc.DecideAccess(ctx, a1, acc.ID, true, "")
	wantRule(t, w, before, err, failure.Denied, governance.RuleHandoverDecide, "hand-over token")
	session := a1
	session.TokenID = ""
	if got, err := w.svc.DecideAccess(ctx, session, acc.ID, true, ""); err != nil || got.State != party.AccessApproved {
		t.Fatalf("approving signed in: %+v, %v", got, err)
	}
	again, err := w.svc.RequestAccess(ctx, d, "initech", governance.AccessRequest{Reason: "ticket 11"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := w.svc.DecideAccess(ctx, a1, again.ID, false, ""); err != nil || got.State != party.AccessDenied {
		t.Fatalf("denying with the hand-over token: %+v, %v", got, err)
	}
}

// rerunStore runs every write function once in a transaction it rolls back, then for real: as
// group commit does when another function of the batch failed (sqlstore/groupcommit.go), and
// as Update's contract allows. It injects that re-run into the real SQLite store.
type rerunStore struct{ store.Store }

var errRollback = errors.New("rolled back by the test")

func (s rerunStore) Update(c context.Context, fn func(store.Tx) error) error {
	if err := s.Store.Update(c, func(tx store.Tx) error { _ = fn(tx); return errRollback }); !errors.Is(err, errRollback) {
		return err
	}
	return s.Store.Update(c, fn)
}

// TestHandoverRefusalSurvivesRerun: a refused hand-over lifetime stays refused when the write
// function runs a second time. CreatePrincipal used to store the refused first run's lifetime
// (zero) in the variable the second run read, which then minted the default 72h token and
// answered 201 to a 73h request (seen once in a full internal/app run under load).
func TestHandoverRefusalSurvivesRerun(t *testing.T) {
	w, d := handoverWorld(t)
	svc := governance.New(governance.Config{Store: rerunStore{w.st}, Now: w.clock.Now})
	for _, life := range []string{"73h", "720h"} {
		before := w.events(t)
		_, _, err := svc.CreatePrincipal(ctx, d, governance.CreatePrincipalRequest{PartyID: "initech", Name: "admin", Admin: true, TokenLifetime: life})
		wantRule(t, w, before, err, failure.Invalid, governance.RuleHandoverLifetime, "hand-over token")
	}
	if _, nt, err := svc.CreatePrincipal(ctx, d, governance.CreatePrincipalRequest{PartyID: "initech", Name: "admin", Admin: true, TokenLifetime: "2h"}); err != nil || !nt.Token.ExpiresAt.Equal(w.clock.Now().Add(2*time.Hour)) {
		t.Fatalf("a 2h hand-over run twice: %+v, %v", nt.Token, err)
	}
}
