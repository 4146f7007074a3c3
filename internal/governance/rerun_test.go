package governance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/store"
)

// governedOnceStore runs every write function twice, as Update's contract allows (a retry
// after a serialization failure, or group commit's re-run of a batch): first in a transaction
// it rolls back, in which every change rule asks for one other principal's approval (as if a
// rule had been set then and removed before the retry), then for real, where no rule is set.
// The first run therefore proposes, the second applies.
type governedOnceStore struct{ store.Store }

func (s governedOnceStore) Update(c context.Context, fn func(store.Tx) error) error {
	if err := s.Store.Update(c, func(tx store.Tx) error { _ = fn(governedTx{tx}); return errFirstRun }); !errors.Is(err, errFirstRun) {
		return err
	}
	return s.Store.Update(c, fn)
}

// errFirstRun rolls back governedOnceStore's first run (errRollback of h67's rerunStore is the same idea).
var errFirstRun = errors.New("first run rolled back by the test")

type governedTx struct{ store.Tx }

func (t governedTx) ChangeRules() store.ChangeRules { return quorumRules{t.Tx.ChangeRules()} }

type quorumRules struct{ store.ChangeRules }

func (quorumRules) ChangeRule(partyID string, k approval.Kind) (approval.ChangeRule, bool, error) {
	return approval.ChangeRule{PartyID: partyID, Kind: k, Quorum: []approval.Need{{Group: approval.AnyPrincipal, Approvals: 1}}, Expiry: 72 * time.Hour}, true, nil
}

// TestAppliedChangeSurvivesProposingRun: a governed change whose write function proposed in
// an earlier run and applied in the run that committed is answered as applied. Each of these
// used to keep the earlier run's proposal in a variable outside the function and answered
// "pending approval" (naming an approval request that was rolled back) for a change that was
// in fact applied.
func TestAppliedChangeSurvivesProposingRun(t *testing.T) {
	w := newWorld(t)
	svc := governance.New(governance.Config{Store: governedOnceStore{w.st}, Now: w.clock.Now})
	acme := w.admins["acme"]
	carol := w.actors["carol"].PrincipalID
	cell := ownership.Cell{Stage: ownership.Manufacturing, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Lot, ID: "l1"}, PartyID: "cm"}
	// Rule changes of acme apply at once (an approver group is otherwise governed by the
	// policy-change rule, which asks for approval).
	if _, err := w.svc.SetChangeRule(ctx, acme, "acme", string(approval.RuleChange), governance.ChangeRuleRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"SetCell", func() error { return svc.SetCell(ctx, acme, cell) }},
		{"DeleteCell", func() error {
			return svc.DeleteCell(ctx, acme, ownership.Key{Stage: cell.Stage, Duty: cell.Duty, Scope: cell.Scope})
		}},
		{"AddSoDRule", func() error {
			return errOnly(svc.AddSoDRule(ctx, admin, governance.SoDRuleRequest{ID: "rerun", A: "support/issue", B: "operational/revoke"}))
		}},
		{"DeleteSoDRule", func() error { return svc.DeleteSoDRule(ctx, admin, "rerun") }},
		{"SetPrincipalDuties", func() error {
			return errOnly(svc.SetPrincipalDuties(ctx, acme, carol, []string{"manufacturing/issue"}))
		}},
		{"SetApprovalRule", func() error {
			return errOnly(svc.SetApprovalRule(ctx, admin, string(approval.Repair), governance.RuleRequest{Approvers: 1, Expiry: "48h"}))
		}},
		{"SetChangeRule", func() error {
			res, err := svc.SetChangeRule(ctx, acme, "acme", string(approval.DutyChange), governance.ChangeRuleRequest{Quorum: []approval.Need{{Group: approval.AnyPrincipal, Approvals: 1}}})
			if err == nil && (res.Proposal != nil || res.Applied == nil) {
				return errors.New("answered with the rolled-back run's proposal")
			}
			return err
		}},
		{"SetApproverGroup", func() error {
			res, err := svc.SetApproverGroup(ctx, acme, "acme", "leads", governance.GroupRequest{Members: []string{carol}})
			if err == nil && (res.Proposal != nil || res.Applied == nil) {
				return errors.New("answered with the rolled-back run's proposal")
			}
			return err
		}},
	} {
		if err := c.call(); err != nil {
			t.Errorf("%s, proposed in a first run and applied in the second: %v; want applied", c.name, err)
		}
	}
}

// rereadStore runs every read function twice, dropping the first run's outcome, as View does
// after a connection lost in the middle of a read.
type rereadStore struct{ store.Store }

func (s rereadStore) View(c context.Context, fn func(store.Tx) error) error {
	_ = s.Store.View(c, fn)
	return s.Store.View(c, fn)
}

// TestListsSurviveReread: a list read again after a lost connection is the list once. The
// read functions used to append to lists outside them, so a second run listed each item twice.
func TestListsSurviveReread(t *testing.T) {
	w := newWorld(t)
	svc := governance.New(governance.Config{Store: rereadStore{w.st}, Now: w.clock.Now})
	acme := w.admins["acme"]
	rules, err := svc.ChangeRules(ctx, acme, "acme")
	if err != nil || len(rules) != len(approval.ChangeKinds) {
		t.Errorf("ChangeRules read twice: %d rules, %v; want %d", len(rules), err, len(approval.ChangeKinds))
	}
	all, err := svc.ApprovalRules(ctx)
	if err != nil || len(all) != len(approval.Kinds) {
		t.Errorf("ApprovalRules read twice: %d rules, %v; want %d", len(all), err, len(approval.Kinds))
	}
	once, err := governance.New(governance.Config{Store: w.st, Now: w.clock.Now}).ListTokens(ctx, acme, acme.PrincipalID)
	if err != nil || len(once) == 0 {
		t.Fatalf("ListTokens: %d tokens, %v; the administrator holds at least one", len(once), err)
	}
	if twice, err := svc.ListTokens(ctx, acme, acme.PrincipalID); err != nil || len(twice) != len(once) {
		t.Errorf("ListTokens read twice: %d tokens, %v; want %d", len(twice), err, len(once))
	}
}
