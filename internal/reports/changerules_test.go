package reports_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// TestChangeRuleGaps: a party whose change rule no change can meet is a gap. An operator with
// one principal cannot change its policies (nor ask for a waiver) under the default rules,
// until it has a second principal; an operator whose second principal its administrator made
// is no gap (that principal proposes, the administrator approves); a stored rule becomes a gap
// when a principal it counted on is disabled. A party (and a deployment administrator) sees
// its own such gaps only.
func TestChangeRuleGaps(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	root := audit.Actor{PartyID: party.Deployment, PrincipalID: "prn-root", Admin: true}
	gov := governance.New(governance.Config{Store: st, Now: func() time.Time { return now }})
	admins := map[string]audit.Actor{}
	for _, p := range []governance.CreatePartyRequest{
		{ID: "op", Name: "Operator", Kind: party.Operator},
		{ID: "op2", Name: "Operator Two", Kind: party.Operator},
		{ID: "acme", Name: "Acme", Kind: party.Manufacturer},
	} {
		if _, err := gov.CreateParty(ctx, root, p); err != nil {
			t.Fatal(err)
		}
		a, _, err := gov.CreatePrincipal(ctx, root, governance.CreatePrincipalRequest{PartyID: p.ID, Name: "admin", Admin: true})
		if err != nil {
			t.Fatal(err)
		}
		admins[p.ID] = governance.Actor(a)
	}
	made := func(partyID, name string) audit.Actor {
		t.Helper()
		p, _, err := gov.CreatePrincipal(ctx, admins[partyID], governance.CreatePrincipalRequest{PartyID: partyID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return governance.Actor(p)
	}
	oscar := made("op2", "oscar")
	alice, bob := made("acme", "alice"), made("acme", "bob")
	if err := st.Update(ctx, func(tx store.Tx) error {
		for _, id := range []string{"op", "op2"} {
			if err := tx.CAs().CreateCA(ca.CA{ID: "ca-" + id, PartyID: id, Stage: "operational", Role: ca.Issuing, Name: id, KeyID: "k-" + id, CertDER: caCert(t, now.Add(400*24*time.Hour)), CreatedAt: now}); err != nil {
				return err
			}
			if err := tx.Environments().CreateEnvironment(environment.Environment{ID: "env-" + id, OperatorID: id, Name: id, IssuingCAID: "ca-" + id, TrustDomain: id + ".example",
				Lifetime: environment.Duration(24 * time.Hour), MaxAge: environment.Duration(48 * time.Hour), Services: []string{}, CreatedAt: now}); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "test", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// acme needs 2 other principals for a duty change: alice proposes, the administrator and bob approve.
	if r, err := gov.SetChangeRule(ctx, admins["acme"], "acme", string(approval.DutyChange), governance.ChangeRuleRequest{Quorum: []approval.Need{{Group: approval.AnyPrincipal, Approvals: 2}}}); err != nil || r.Applied == nil {
		t.Fatalf("setting acme's duty-change rule: %+v, %v", r, err)
	}

	svc := reports.New(st, func() time.Time { return now })
	gaps := func(a audit.Actor) []string {
		t.Helper()
		g, err := svc.Gaps(ctx, a, reports.GapsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range g.ChangeRules {
			if x.Why == "" || x.Quorum == "" {
				t.Fatalf("gap %+v names no quorum or reason", x)
			}
			out = append(out, x.PartyID+"/"+string(x.Kind))
		}
		if g.Total < len(g.ChangeRules) {
			t.Fatalf("total %d does not count %d change rule gaps", g.Total, len(g.ChangeRules))
		}
		return out
	}
	if got := strings.Join(gaps(admins["op"]), " "); got != "op/policy-change op/waiver" {
		t.Fatalf("op's change rule gaps = %q, want its policy-change and waiver rules", got)
	}
	if got := gaps(admins["op2"]); len(got) != 0 {
		t.Fatalf("op2's change rule gaps = %q, want none (oscar proposes, its administrator approves)", got)
	}
	if got := gaps(root); len(got) != 0 {
		t.Fatalf("the deployment's change rule gaps = %q, want none", got)
	}
	if got := gaps(alice); len(got) != 0 {
		t.Fatalf("acme's change rule gaps = %q, want none", got)
	}

	// op2's policy changes need 1 of leads, oscar alone: oscar cannot approve its own change,
	// nor its maker's (the administrator made it), though it is another principal.
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.ChangeRules().SetApproverGroup(approval.Group{PartyID: "op2", Name: "leads", Members: []string{oscar.PrincipalID}}, "test", now); err != nil {
			return err
		}
		if err := tx.ChangeRules().SetChangeRule(approval.ChangeRule{PartyID: "op2", Kind: approval.PolicyChange, Quorum: []approval.Need{{Group: "leads", Approvals: 1}}, Expiry: time.Hour}, "test", now); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "test", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(gaps(admins["op2"]), " "); got != "op2/policy-change" {
		t.Fatalf("op2's change rule gaps with 1 of leads = %q, want its policy-change rule", got)
	}

	// A second principal of op: its administrator made it, so it never approves the
	// administrator's changes, but the administrator approves its: the gap closes.
	made("op", "olga")
	if got := gaps(admins["op"]); len(got) != 0 {
		t.Fatalf("op's change rule gaps with two independent principals = %q, want none", got)
	}
	// bob disabled: whoever proposes, acme holds fewer than 2 others independent of it (the
	// administrator made alice, so alice never approves its changes).
	if _, err := gov.SetDisabled(ctx, admins["acme"], bob.PrincipalID, true); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(gaps(alice), " "); got != "acme/duty-change" {
		t.Fatalf("acme's change rule gaps with bob disabled = %q, want its duty-change rule", got)
	}
}
