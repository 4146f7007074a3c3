package governance_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestIndependenceSurvivesDeletion: acme's second administrator lead makes bert, bert makes
// carl, and lead deletes bert. carl is still lead's puppet (carl <- bert <- lead, bert's creator
// read from the lineage the store keeps after deletion), so IndependentApprover refuses carl as
// a decider of lead's request; alice, made by acme's first administrator, stays independent.
// Before the lineage was kept, bert's deletion ended carl's lineage at bert.
func TestIndependenceSurvivesDeletion(t *testing.T) {
	w := newWorld(t)
	mk := func(by audit.Actor, name string, admin bool) audit.Actor {
		t.Helper()
		p, _, err := w.svc.CreatePrincipal(ctx, by, governance.CreatePrincipalRequest{PartyID: "acme", Name: name, Admin: admin})
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
		return governance.Actor(p)
	}
	lead := mk(w.admins["acme"], "lead", true)
	bert := mk(lead, "bert", true)
	carl := mk(bert, "carl", false)
	check := func(proposer, decider string) error {
		t.Helper()
		var out error
		if err := w.st.View(ctx, func(tx store.Tx) error {
			out = governance.IndependentApprover(tx, proposer, decider, w.clock.Now())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	wantPuppet := func(err error, chain string) {
		t.Helper()
		var ni *governance.NotIndependentError
		if !errors.As(err, &ni) || !strings.Contains(ni.Error(), chain) || !strings.Contains(ni.Error(), governance.RuleIndependentApprover) {
			t.Fatalf("got %v, want a refusal naming %s and the chain %s", err, governance.RuleIndependentApprover, chain)
		}
	}
	wantPuppet(check(lead.PrincipalID, carl.PrincipalID), carl.PrincipalID+" <- "+bert.PrincipalID+" <- "+lead.PrincipalID)

	if err := w.svc.DeletePrincipal(ctx, lead, bert.PrincipalID); err != nil {
		t.Fatalf("deleting bert: %v", err)
	}
	wantPuppet(check(lead.PrincipalID, carl.PrincipalID), carl.PrincipalID+" <- "+bert.PrincipalID+" <- "+lead.PrincipalID)
	// Further up: acme's first administrator made lead, so carl is its puppet too.
	wantPuppet(check(w.admins["acme"].PrincipalID, carl.PrincipalID), bert.PrincipalID+" <- "+lead.PrincipalID+" <- "+w.admins["acme"].PrincipalID)

	if err := check(lead.PrincipalID, w.actors["alice"].PrincipalID); err != nil {
		t.Fatalf("alice, made by acme's first administrator, deciding lead's request: %v", err)
	}
	// The rule looks one way: carl is not in lead's lineage, so lead may decide carl's request.
	if err := check(carl.PrincipalID, lead.PrincipalID); err != nil {
		t.Fatalf("lead deciding carl's request: %v", err)
	}
	// A principal id never recorded has no parents.
	if err := check(lead.PrincipalID, "prn_never"); err != nil {
		t.Fatalf("an unknown decider: %v", err)
	}
}
