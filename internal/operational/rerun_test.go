package operational

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// rerunStore runs every write function once in a transaction it rolls back, then for real:
// as a retry or group commit's re-run of a batch does, which Update's contract allows.
type rerunStore struct{ store.Store }

var errFirstRun = errors.New("first run rolled back by the test")

func (s rerunStore) Update(c context.Context, fn func(store.Tx) error) error {
	if err := s.Store.Update(c, func(tx store.Tx) error { _ = fn(tx); return errFirstRun }); !errors.Is(err, errFirstRun) {
		return err
	}
	return s.Store.Update(c, fn)
}

// TestChallengeRefusalCountedOnce: a refused challenge is counted once however often Update
// runs its write function. The function used to count the refusal itself, so a re-run
// counted it twice.
func TestChallengeRefusalCountedOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rs := rerunStore{st}
	s := New(Config{Store: rs, Authority: authority.New(authority.Config{Store: rs, Now: time.Now})})
	a := audit.Actor{PartyID: "op", PrincipalID: "prn_op"}
	for i := 1; i <= 3; i++ {
		_, err := s.NewChallenge(ctx, a, ChallengeRequest{Purpose: PurposeRenew, CertificateSerial: "7b", CSRKeySHA256: strings.Repeat("0f", 32)})
		if !failure.Is(err, failure.NotFound) {
			t.Fatalf("a challenge to renew an unknown certificate: %v, want not found", err)
		}
		if _, refused := s.PossessionCounts(); refused[refusedDuty] != int64(i) {
			t.Fatalf("after %d refusals, %s counts %d", i, refusedDuty, refused[refusedDuty])
		}
	}
}

// governedOnceStore runs every write function first in a transaction it rolls back, in which
// every change rule asks for one other principal's approval (as if a rule had been set then
// and removed before the retry), then for real. The first run proposes, the second applies.
type governedOnceStore struct{ store.Store }

func (s governedOnceStore) Update(c context.Context, fn func(store.Tx) error) error {
	if err := s.Store.Update(c, func(tx store.Tx) error { _ = fn(governedTx{tx}); return errFirstRun }); !errors.Is(err, errFirstRun) {
		return err
	}
	return s.Store.Update(c, fn)
}

type governedTx struct{ store.Tx }

func (t governedTx) ChangeRules() store.ChangeRules { return quorumRules{t.Tx.ChangeRules()} }

type quorumRules struct{ store.ChangeRules }

func (quorumRules) ChangeRule(partyID string, k approval.Kind) (approval.ChangeRule, bool, error) {
	return approval.ChangeRule{PartyID: partyID, Kind: k, Quorum: []approval.Need{{Group: approval.AnyPrincipal, Approvals: 1}}, Expiry: 72 * time.Hour}, true, nil
}

// opWorld is an operator op (administrators admin and oscar, principal olivia) whose policy
// changes and waivers apply at once, with an operational issuing CA and an environment.
type opWorld struct {
	st    store.Store
	now   time.Time
	clock func() time.Time
	a     audit.Actor // op's admin
	env   EnvironmentView
}

func newOpWorld(t *testing.T) opWorld {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	gov := governance.New(governance.Config{Store: st, Now: clock})
	deploy := audit.Actor{PartyID: party.Deployment, PrincipalID: "prn-root", Admin: true}
	if _, err := gov.CreateParty(ctx, deploy, governance.CreatePartyRequest{ID: "op", Name: "Operator", Kind: party.Operator}); err != nil {
		t.Fatal(err)
	}
	adm, _, err := gov.CreatePrincipal(ctx, deploy, governance.CreatePrincipalRequest{PartyID: "op", Name: "admin", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	a := governance.Actor(adm)
	oscar, _, err := gov.CreatePrincipal(ctx, a, governance.CreatePrincipalRequest{PartyID: "op", Name: "oscar", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	olivia, _, err := gov.CreatePrincipal(ctx, a, governance.CreatePrincipalRequest{PartyID: "op", Name: "olivia"})
	if err != nil {
		t.Fatal(err)
	}
	// Policy changes and waivers of op apply at once in the committing run (by default they
	// ask for an approval, so that these rule changes themselves need olivia's).
	for _, k := range []approval.Kind{approval.PolicyChange, approval.Waiver} {
		res, err := gov.SetChangeRule(ctx, governance.Actor(oscar), "op", string(k), governance.ChangeRuleRequest{})
		if err != nil || res.Proposal == nil {
			t.Fatalf("proposing op's %s rule: %+v, %v", k, res, err)
		}
		if d, err := gov.Decide(ctx, governance.Actor(olivia), res.Proposal.ID, governance.Decision{Approve: true}); err != nil || !d.Executed {
			t.Fatalf("approving op's %s rule: %+v, %v", k, d, err)
		}
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CAs().CreateCA(ca.CA{ID: "ca1", PartyID: "op", Stage: string(stage), Role: ca.Issuing, Name: "op", KeyID: "k", CertDER: storetest.SelfSignedForTest(t), CreatedAt: now}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "op", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	real := New(Config{Store: st, Authority: authority.New(authority.Config{Store: st, Now: clock})})
	env, err := real.CreateEnvironment(ctx, a, CreateEnvironmentRequest{OperatorID: "op", Name: "plant", IssuingCAID: "ca1", TrustDomain: "plant.example", Lifetime: "24h", MaxAge: "720h"})
	if err != nil {
		t.Fatal(err)
	}
	return opWorld{st: st, now: now, clock: clock, a: a, env: env}
}

// TestAppliedEnvironmentChangeSurvivesProposingRun: an environment update, policy or waiver that its
// write function proposed in an earlier run and applied in the run that committed is answered
// as applied. Each used to keep the earlier run's proposal outside the function and answered
// "pending approval", naming an approval request that was rolled back.
func TestAppliedEnvironmentChangeSurvivesProposingRun(t *testing.T) {
	ctx := context.Background()
	w := newOpWorld(t)
	st, now, clock, a, env := w.st, w.now, w.clock, w.a, w.env
	gs := governedOnceStore{st}
	s := New(Config{Store: gs, Authority: authority.New(authority.Config{Store: gs, Now: clock})})
	life := "48h"
	if v, err := s.UpdateEnvironment(ctx, a, env.Environment.ID, EnvironmentUpdate{Lifetime: life}); err != nil || time.Duration(v.Environment.Lifetime) != 48*time.Hour {
		t.Errorf("UpdateEnvironment, proposed in a first run and applied in the second: %v, %v; want applied", v.Environment.Lifetime, err)
	}
	if pv, err := s.SetPolicy(ctx, a, env.Environment.ID, environment.Renewal, json.RawMessage(`{"rules":[{"name":"always","expr":"true"}]}`)); err != nil || pv.Version != 2 {
		t.Errorf("SetPolicy, proposed in a first run and applied in the second: version %d, %v; want version 2 applied", pv.Version, err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Devices().CreateDevice(device.Device{ID: "dev1", Serial: "S1", State: device.Registered, CustodianID: "op", EnvironmentID: env.Environment.ID, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "op", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if w, err := s.RequestWaiver(ctx, a, WaiverRequest{DeviceID: "dev1", Rule: "always", Reason: "a test", For: "24h"}); err != nil || w.ID == "" {
		t.Errorf("RequestWaiver, proposed in a first run and applied in the second: %+v, %v; want granted", w, err)
	}
}

// approvedOnceStore runs every write function first in a transaction it rolls back, in which
// the newest approval request of every subject reads as approved (as if it had been approved,
// then withdrawn or used before the retry) over scope, then for real.
type approvedOnceStore struct {
	store.Store
	scope string
}

func (s approvedOnceStore) Update(c context.Context, fn func(store.Tx) error) error {
	if err := s.Store.Update(c, func(tx store.Tx) error { _ = fn(approvedTx{tx, s.scope}); return errFirstRun }); !errors.Is(err, errFirstRun) {
		return err
	}
	return s.Store.Update(c, fn)
}

type approvedTx struct {
	store.Tx
	scope string
}

func (t approvedTx) Approvals() store.Approvals { return approvedList{t.Tx.Approvals(), t.scope} }

type approvedList struct {
	store.Approvals
	scope string
}

func (l approvedList) ListApprovals(f store.ApprovalFilter) ([]approval.Request, error) {
	return []approval.Request{{ID: "apr-first-run", Kind: f.Kind, State: approval.Approved, Subject: f.Subject, Scope: l.scope}}, nil
}

// TestOnboardApprovalNotKeptFromEarlierRun: an onboarding waits for an approval when the run
// that commits finds none approved, whatever an earlier run of the write function found. It
// used to keep the earlier run's "approved" flag, and onboarded the device on the pending
// request the committing run had just made.
func TestOnboardApprovalNotKeptFromEarlierRun(t *testing.T) {
	ctx := context.Background()
	w := newOpWorld(t)
	as := approvedOnceStore{w.st, "environment:" + w.env.Environment.ID}
	s := New(Config{Store: as, Authority: authority.New(authority.Config{Store: as, Now: w.clock})})
	d := device.Device{ID: "dev2", Serial: "S2", State: device.Registered, CustodianID: "op"}
	id, err := s.onboardApproval(ctx, w.a, w.env.Environment, d, 1)
	var pe *failure.PendingError
	if !errors.As(err, &pe) || id != "" {
		t.Fatalf("onboarding approval, approved in a first run only: %q, %v; want a pending request", id, err)
	}
}
