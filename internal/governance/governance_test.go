package governance_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestCreateParty: an administrator creates a party with its kind's default cells, audited;
// anyone else, a malformed request and a taken id are refused and change nothing.
func TestCreateParty(t *testing.T) {
	w := newWorld(t)
	p, err := w.svc.CreateParty(ctx, admin, governance.CreatePartyRequest{ID: "globex", Name: "Globex", Kind: party.Manufacturer})
	if err != nil || p.ID != "globex" || p.Kind != party.Manufacturer {
		t.Fatalf("CreateParty = %+v, %v", p, err)
	}
	if ev := w.lastEvent(t); ev.Action != "party.create" || ev.Subject != "party:globex" {
		t.Fatalf("last audit event %+v, want party.create of party:globex", ev)
	}
	cells, err := w.svc.ListCells(ctx)
	if err != nil {
		t.Fatal(err)
	}
	own := ownership.Scope{Kind: ownership.Manufacturer, ID: "globex"}
	for _, d := range []ownership.Duty{ownership.Issue, ownership.Revoke, ownership.Approve} {
		if !slices.Contains(cells, ownership.Cell{Stage: ownership.Manufacturing, Duty: d, Scope: own, PartyID: "globex"}) {
			t.Errorf("globex does not own manufacturing/%s over itself", d)
		}
	}

	before := w.events(t)
	for _, tc := range []struct {
		name string
		who  string
		req  governance.CreatePartyRequest
		kind failure.Kind
		msg  string
	}{
		{"not an administrator", "alice", governance.CreatePartyRequest{ID: "initech", Name: "Initech", Kind: party.Manufacturer}, failure.Denied, "needs a deployment administrator"},
		{"id not a slug", "", governance.CreatePartyRequest{ID: "Init Tech", Name: "Initech", Kind: party.Manufacturer}, failure.Invalid, "party id"},
		{"unknown kind", "", governance.CreatePartyRequest{ID: "initech", Name: "Initech", Kind: "pirate"}, failure.Invalid, "pirate"},
		{"id taken", "", governance.CreatePartyRequest{ID: "acme", Name: "Acme Two", Kind: party.Manufacturer}, failure.Conflict, `"acme"`},
		{"name taken", "", governance.CreatePartyRequest{ID: "acme2", Name: "Acme", Kind: party.Manufacturer}, failure.Conflict, "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := admin
			if tc.who != "" {
				a = w.actors[tc.who]
			}
			_, err := w.svc.CreateParty(ctx, a, tc.req)
			wantErr(t, err, tc.kind, tc.msg)
		})
	}
	if got := w.events(t); got != before {
		t.Fatalf("refused requests appended %d audit events", got-before)
	}
	if ps, _ := w.svc.ListParties(ctx); len(ps) != 6 {
		t.Fatalf("%d parties after the refusals, want 6", len(ps))
	}
}

// TestAuthenticate: a principal's token, shown once, authenticates it; any other does not.
func TestAuthenticate(t *testing.T) {
	w := newWorld(t)
	p, err := w.svc.Authenticate(ctx, w.tokens["alice"])
	if err != nil || p.ID != w.actors["alice"].PrincipalID || p.PartyID != "acme" {
		t.Fatalf("Authenticate(alice's token) = %+v, %v", p, err)
	}
	for _, tok := range []string{"", "hm_not-a-token", w.tokens["alice"] + "x"} {
		_, err := w.svc.Authenticate(ctx, tok)
		wantErr(t, err, failure.Unauthenticated, "not valid")
	}
	if _, _, err := w.svc.CreatePrincipal(ctx, w.actors["alice"], governance.CreatePrincipalRequest{PartyID: "acme", Name: "mallory"}); !failure.Is(err, failure.Denied) {
		t.Fatalf("a non-administrator created a principal: %v", err)
	}
	if _, _, err := w.svc.CreatePrincipal(ctx, w.admins["acme"], governance.CreatePrincipalRequest{PartyID: "acme", Name: "alice"}); !failure.Is(err, failure.Conflict) {
		t.Fatalf("a second alice of acme: %v, want conflict", err)
	}
}

// TestRequireAndDelegation: the matrix decides, most specific cell first. acme owns
// manufacturing over its lots; it delegates one lot's issuance to cm, which may then issue
// in that lot only, may not widen its own rights, and loses them when acme takes the cell back.
func TestRequireAndDelegation(t *testing.T) {
	w := newWorld(t)
	l1, l2 := governance.LotChain(lot("l1")), governance.LotChain(lot("l2"))
	if err := w.require("alice", ownership.Manufacturing, ownership.Issue, l1); err != nil {
		t.Fatalf("acme may not issue in its own lot: %v", err)
	}
	wantDenied(t, w.require("cindy", ownership.Manufacturing, ownership.Issue, l1), "acme")
	wantDenied(t, w.require("oscar", ownership.Manufacturing, ownership.Revoke, l1), "acme")
	wantDenied(t, w.require("alice", ownership.Operational, ownership.Issue, ownership.Chain{{Kind: ownership.Operator, ID: "op"}}), "op")

	cell := ownership.Cell{Stage: ownership.Manufacturing, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Lot, ID: "l1"}, PartyID: "cm"}
	if err := w.svc.SetCell(ctx, w.actors["alice"], cell); err != nil {
		t.Fatalf("acme delegating lot l1 to cm: %v", err)
	}
	if err := w.require("cindy", ownership.Manufacturing, ownership.Issue, l1); err != nil {
		t.Fatalf("cm may not issue in the lot delegated to it: %v", err)
	}
	wantDenied(t, w.require("cindy", ownership.Manufacturing, ownership.Issue, l2), "acme")
	wantDenied(t, w.require("alice", ownership.Manufacturing, ownership.Issue, l1), "cm")

	before := w.events(t)
	revoke := ownership.Cell{Stage: ownership.Manufacturing, Duty: ownership.Revoke, Scope: ownership.Scope{Kind: ownership.Lot, ID: "l1"}, PartyID: "cm"}
	wantDenied(t, w.svc.SetCell(ctx, w.actors["cindy"], revoke), "acme")
	wide := ownership.Cell{Stage: ownership.Manufacturing, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Manufacturer, ID: "acme"}, PartyID: "cm"}
	wantErr(t, w.svc.SetCell(ctx, w.actors["alice"], wide), failure.Denied, "set by an administrator of party acme")
	bad := cell
	bad.Scope.ID = "no-such-lot"
	wantErr(t, w.svc.SetCell(ctx, w.actors["alice"], bad), failure.NotFound, "")
	bad = cell
	bad.Duty = "juggle"
	wantErr(t, w.svc.SetCell(ctx, w.actors["alice"], bad), failure.Invalid, "juggle")
	if got := w.events(t); got != before {
		t.Fatalf("refused cell changes appended %d audit events", got-before)
	}

	if err := w.svc.DeleteCell(ctx, w.actors["alice"], ownership.Key{Stage: cell.Stage, Duty: cell.Duty, Scope: cell.Scope}); err != nil {
		t.Fatalf("acme taking the delegation back: %v", err)
	}
	wantDenied(t, w.require("cindy", ownership.Manufacturing, ownership.Issue, l1), "acme")
	if err := w.require("alice", ownership.Manufacturing, ownership.Issue, l1); err != nil {
		t.Fatalf("acme may not issue in l1 after taking it back: %v", err)
	}
}

// TestReaders: a party reads its own things; an auditor reads all.
func TestReaders(t *testing.T) {
	w := newWorld(t)
	err := w.st.View(ctx, func(tx store.Tx) error {
		for _, tc := range []struct {
			who     string
			parties []string
			want    bool
		}{
			{"alice", []string{"acme"}, true},
			{"alice", []string{"op"}, false},
			{"cindy", []string{"op", "cm"}, true},
			{"audrey", []string{"op"}, true},
		} {
			got, err := governance.CanRead(tx, w.actors[tc.who], tc.parties...)
			if err != nil {
				return err
			}
			if got != tc.want {
				t.Errorf("CanRead(%s, %v) = %v, want %v", tc.who, tc.parties, got, tc.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ListPrincipals(ctx, w.actors["alice"], "op"); !failure.Is(err, failure.Denied) {
		t.Fatalf("acme listed op's principals: %v", err)
	}
	ps, err := w.svc.ListPrincipals(ctx, w.actors["audrey"], "acme")
	if err != nil || len(ps) != 4 {
		t.Fatalf("the auditor lists %d of acme's principals, %v; want 4 (its administrator, alice, bob, carol)", len(ps), err)
	}
}

// TestSeparationOfDuties: a rule cannot start life broken; once principals are limited it
// holds on every authorised action and on every change of a principal's duties.
func TestSeparationOfDuties(t *testing.T) {
	w := newWorld(t)
	rule := governance.SoDRuleRequest{ID: "issue-not-revoke", A: "manufacturing/issue", B: "manufacturing/revoke"}
	if _, err := w.svc.AddSoDRule(ctx, w.actors["alice"], rule); !failure.Is(err, failure.Denied) {
		t.Fatalf("a non-administrator added a rule: %v", err)
	}
	var conflict *governance.SoDConflictError
	if _, err := w.svc.AddSoDRule(ctx, admin, rule); !errors.As(err, &conflict) || conflict.PartyID != "acme" {
		t.Fatalf("a rule every acme principal breaks was added: %v", err)
	}
	if rules, _ := w.svc.SoDRules(ctx); slices.ContainsFunc(rules, func(r store.SoDRule) bool { return r.ID == rule.ID }) {
		t.Fatalf("the refused rule was stored: %+v", rules)
	}

	for name, duties := range map[string][]string{"alice": {"manufacturing/issue"}, "bob": {"manufacturing/revoke"}, "carol": {"manufacturing/issue", "manufacturing/approve"}} {
		if _, err := w.svc.SetPrincipalDuties(ctx, w.admins["acme"], w.actors[name].PrincipalID, duties); err != nil {
			t.Fatalf("limiting %s: %v", name, err)
		}
	}
	// acme's administrator holds every acme duty too: a second administrator limits it.
	admin2, _, err := w.svc.CreatePrincipal(ctx, w.admins["acme"], governance.CreatePrincipalRequest{PartyID: "acme", Name: "admin-2", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.SetPrincipalDuties(ctx, governance.Actor(admin2), w.admins["acme"].PrincipalID, []string{"custody/transfer"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AddSoDRule(ctx, admin, rule); !errors.As(err, &conflict) {
		t.Fatalf("a rule acme's unlimited second administrator breaks was added: %v", err)
	}
	if _, err := w.svc.SetPrincipalDuties(ctx, w.admins["acme"], admin2.ID, []string{"custody/transfer"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AddSoDRule(ctx, admin, rule); err != nil {
		t.Fatalf("adding the rule once nobody breaks it: %v", err)
	}

	l1 := governance.LotChain(lot("l1"))
	if err := w.require("alice", ownership.Manufacturing, ownership.Issue, l1); err != nil {
		t.Fatalf("alice may not issue: %v", err)
	}
	wantErr(t, w.require("alice", ownership.Manufacturing, ownership.Revoke, l1), failure.Denied, "is limited to manufacturing/issue")
	if err := w.require("bob", ownership.Manufacturing, ownership.Revoke, l1); err != nil {
		t.Fatalf("bob may not revoke: %v", err)
	}

	before := w.events(t)
	_, err = w.svc.SetPrincipalDuties(ctx, w.admins["acme"], w.actors["carol"].PrincipalID, []string{"manufacturing/issue", "manufacturing/revoke"})
	if !errors.As(err, &conflict) || conflict.Rule != "issue-not-revoke" {
		t.Fatalf("carol given both duties of a rule: %v", err)
	}
	got, err := w.svc.PrincipalDuties(ctx, admin, w.actors["carol"].PrincipalID)
	if err != nil || len(got) != 2 || !slices.Contains(got, ownership.Pair{Stage: ownership.Manufacturing, Duty: ownership.Approve}) {
		t.Fatalf("carol's duties after the refused change: %v, %v; want issue and approve", got, err)
	}
	wantErr(t, errOnly(w.svc.SetPrincipalDuties(ctx, w.actors["alice"], w.actors["alice"].PrincipalID, nil)), failure.Denied, "its own duties")
	wantErr(t, errOnly(w.svc.SetPrincipalDuties(ctx, w.actors["oscar"], w.actors["bob"].PrincipalID, nil)), failure.Denied, "only an administrator of party acme may change the duties")
	wantErr(t, errOnly(w.svc.SetPrincipalDuties(ctx, w.admins["acme"], w.actors["bob"].PrincipalID, []string{"manufacturing"})), failure.Invalid, "stage/duty")
	if got := w.events(t); got != before {
		t.Fatalf("refused duty changes appended %d audit events", got-before)
	}
}

func errOnly[T any](_ T, err error) error { return err }
