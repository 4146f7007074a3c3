package storetest

import (
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// governanceTests are the contract of approvals, support grants and duties.
var governanceTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ApprovalsAreConditional", testApprovals},
	{"SupportGrants", testSupportGrants},
	{"DutiesAndSoDRules", testDuties},
	{"CARetirementIsOnceAndForAll", testCARetirement},
}

func testCARetirement(t *testing.T, s store.Store) {
	seedCA(t, s)
	retired := func() *time.Time {
		t.Helper()
		var at *time.Time
		if err := s.View(ctx, func(tx store.Tx) (err error) { at, err = tx.CAs().RetiredAt("ca1"); return err }); err != nil {
			t.Fatal(err)
		}
		return at
	}
	if at := retired(); at != nil {
		t.Fatalf("a new CA is retired at %s", at)
	}
	for _, at := range []time.Time{t0, t0.Add(time.Hour)} {
		if err := audited(t, s, func(tx store.Tx) error { return tx.CAs().RetireCA("ca1", at) }); err != nil {
			t.Fatal(err)
		}
	}
	if at := retired(); at == nil || !at.Equal(t0) {
		t.Fatalf("retired at %v, want the first retirement %s", at, t0)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		c, err := tx.CAs().GetCA("ca1")
		if err != nil || c.RetiredAt == nil || !c.RetiredAt.Equal(t0) {
			t.Errorf("GetCA = %+v, %v", c.RetiredAt, err)
		}
		if _, err := tx.CAs().RetiredAt("nope"); !failure.Is(err, failure.NotFound) {
			t.Errorf("RetiredAt of a missing CA: %v", err)
		}
		return nil
	})
	if err := audited(t, s, func(tx store.Tx) error { return tx.CAs().RetireCA("nope", t0) }); !failure.Is(err, failure.NotFound) {
		t.Fatalf("retiring a missing CA: %v", err)
	}
}

func newApproval(id, requester, approver, subject string, at time.Time) approval.Request {
	return approval.Request{ID: id, Kind: approval.Readmit, State: approval.Pending, RequesterParty: requester, RequesterPrincipal: requester + "-p",
		ApproverParty: approver, Scope: "operator:" + approver, Subject: subject, Reason: "r", Approvers: 1, Decisions: []approval.Decision{},
		CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
}

func testApprovals(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	seedParty(t, s, "mk", party.Manufacturer)
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, q := range []approval.Request{
			newApproval("a1", "op", "op", "device:d1", t0),
			newApproval("a2", "op", "op", "device:d2", t0.Add(time.Minute)),
			newApproval("a3", "mk", "mk", "ca:c1", t0.Add(2*time.Minute)),
		} {
			if i == 2 {
				q.Kind, q.Payload = approval.RevokeCA, []byte(`{"selector":{"issuing_ca_id":"c1"}}`)
			}
			if err := tx.Approvals().CreateApproval(q); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(ev("approval.request"))
		return err
	})
	_ = s.View(ctx, func(tx store.Tx) error {
		q, err := tx.Approvals().GetApproval("a3")
		if err != nil || q.Kind != approval.RevokeCA || string(q.Payload) != `{"selector":{"issuing_ca_id":"c1"}}` || !q.ExpiresAt.Equal(t0.Add(2*time.Minute+time.Hour)) {
			t.Errorf("GetApproval = %+v, %v", q, err)
		}
		if _, err := tx.Approvals().GetApproval("nope"); !failure.Is(err, failure.NotFound) {
			t.Errorf("missing approval: %v", err)
		}
		for _, tc := range []struct {
			f    store.ApprovalFilter
			want []string
		}{
			{store.ApprovalFilter{}, []string{"a3", "a2", "a1"}},
			{store.ApprovalFilter{Party: "op"}, []string{"a2", "a1"}},
			{store.ApprovalFilter{Kind: approval.RevokeCA}, []string{"a3"}},
			{store.ApprovalFilter{Subject: "device:d1"}, []string{"a1"}},
			{store.ApprovalFilter{Kind: approval.Readmit, Limit: 1}, []string{"a2"}},
		} {
			got, err := tx.Approvals().ListApprovals(tc.f)
			if err != nil || len(got) != len(tc.want) {
				t.Errorf("ListApprovals(%+v) = %d items, %v; want %v", tc.f, len(got), err, tc.want)
				continue
			}
			for i := range got {
				if got[i].ID != tc.want[i] {
					t.Errorf("ListApprovals(%+v)[%d] = %s, want %s", tc.f, i, got[i].ID, tc.want[i])
				}
			}
		}
		return nil
	})
	// A decision is written only over the state it was read in.
	q := newApproval("a1", "op", "op", "device:d1", t0)
	if err := q.Decide(approval.Decision{PartyID: "op", PrincipalID: "other", Approve: true}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Approvals().UpdateApproval(q, approval.Pending); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("approval.approve"))
		return err
	})
	err := audited(t, s, func(tx store.Tx) error { return tx.Approvals().UpdateApproval(q, approval.Pending) })
	if !failure.Is(err, failure.Conflict) {
		t.Fatalf("second update from pending = %v, want conflict", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Approvals().GetApproval("a1")
		if err != nil || got.State != approval.Approved || len(got.Decisions) != 1 || got.Decisions[0].PrincipalID != "other" || got.DecidedAt == nil {
			t.Errorf("after approval: %+v, %v", got, err)
		}
		if _, ok, err := tx.Approvals().Rule(approval.RevokeCA); ok || err != nil {
			t.Errorf("a rule exists before any was set: %v %v", ok, err)
		}
		return nil
	})
	for _, n := range []int{2, 1} {
		mustUpdate(t, s, func(tx store.Tx) error {
			if err := tx.Approvals().SetRule(approval.Rule{Kind: approval.RevokeCA, Approvers: n, OtherParty: n == 2, Expiry: 48 * time.Hour}, "admin", t0); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("approval.rule.set"))
			return err
		})
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		r, ok, err := tx.Approvals().Rule(approval.RevokeCA)
		if err != nil || !ok || r.Approvers != 1 || r.OtherParty || r.Expiry != 48*time.Hour {
			t.Errorf("Rule = %+v %v %v", r, ok, err)
		}
		return nil
	})
}

func testSupportGrants(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3")
	seedParty(t, s, "op", party.Operator)
	seedParty(t, s, "sv", party.SupportVendor)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Environments().CreateEnvironment(environment.Environment{ID: "e1", OperatorID: "op", Name: "e1", IssuingCAID: "ca1", TrustDomain: "td",
			Lifetime: environment.Duration(time.Hour), MaxAge: environment.Duration(time.Hour), Services: []string{}, CreatedAt: t0}); err != nil {
			return err
		}
		for _, id := range []string{"d1", "d2"} {
			d, err := tx.Devices().GetDevice(id)
			if err != nil {
				return err
			}
			next := d
			next.CustodianID, next.EnvironmentID, next.State = "op", "e1", device.Active
			if err := tx.Devices().UpdateDevice(next, d); err != nil {
				return err
			}
		}
		for _, id := range []string{"ap1", "ap2"} {
			if err := tx.Approvals().CreateApproval(newApproval(id, "sv", "op", "grant:"+id, t0)); err != nil {
				return err
			}
		}
		g1 := grant.Grant{ID: "g1", ApprovalID: "ap1", RequesterParty: "sv", RequesterPrincipal: "eve", Engineer: "eve", EnvironmentID: "e1", OperatorID: "op",
			Devices: []string{"d2", "d1"}, Reason: "r", NotBefore: t0, NotAfter: t0.Add(4 * time.Hour), State: grant.Requested, CSR: "csr", CreatedAt: t0}
		g2 := g1
		g2.ID, g2.ApprovalID, g2.Devices, g2.LotID, g2.CreatedAt = "g2", "ap2", nil, "l1", t0.Add(time.Minute)
		for _, g := range []grant.Grant{g1, g2} {
			if err := tx.SupportGrants().CreateGrant(g); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(ev("support.request"))
		return err
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		g, err := tx.SupportGrants().GetGrant("g1")
		if err != nil {
			return err
		}
		if len(g.Devices) != 2 || g.Devices[0] != "d1" || g.CSR != "csr" || !g.NotAfter.Equal(t0.Add(4*time.Hour)) {
			t.Errorf("GetGrant = %+v", g)
		}
		if _, err := tx.SupportGrants().GrantBySerial("abc"); !failure.Is(err, failure.NotFound) {
			t.Errorf("grant of an unknown serial: %v", err)
		}
		g.State, g.CertSerial = grant.Active, "abc"
		if err := tx.SupportGrants().UpdateGrant(g, grant.Requested); err != nil {
			return err
		}
		_, err = tx.Audit().Append(ev("support.issue"))
		return err
	})
	err := audited(t, s, func(tx store.Tx) error {
		g, err := tx.SupportGrants().GetGrant("g1")
		if err != nil {
			return err
		}
		return tx.SupportGrants().UpdateGrant(g, grant.Requested)
	})
	if !failure.Is(err, failure.Conflict) {
		t.Fatalf("update from a state the grant left = %v, want conflict", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if g, err := tx.SupportGrants().GrantBySerial("abc"); err != nil || g.ID != "g1" || g.State != grant.Active {
			t.Errorf("GrantBySerial = %+v, %v", g, err)
		}
		for _, tc := range []struct {
			f    store.GrantFilter
			want []string
		}{
			{store.GrantFilter{DeviceID: "d1"}, []string{"g2", "g1"}}, // named, and its lot in its environment
			{store.GrantFilter{DeviceID: "d3"}, nil},                  // of the lot, but not in the environment
			{store.GrantFilter{State: grant.Active}, []string{"g1"}},
			{store.GrantFilter{Party: "sv"}, []string{"g2", "g1"}},
			{store.GrantFilter{Party: "acme"}, nil},
			{store.GrantFilter{LotID: "l1"}, []string{"g2"}},
		} {
			got, err := tx.SupportGrants().ListGrants(tc.f)
			if err != nil || len(got) != len(tc.want) {
				t.Errorf("ListGrants(%+v) = %d, %v; want %v", tc.f, len(got), err, tc.want)
				continue
			}
			for i := range got {
				if got[i].ID != tc.want[i] {
					t.Errorf("ListGrants(%+v)[%d] = %s, want %s", tc.f, i, got[i].ID, tc.want[i])
				}
			}
		}
		counts, err := tx.GovernanceReads().DeviceCounts()
		if err != nil {
			t.Fatal(err)
		}
		byKey := map[string]int{}
		for _, c := range counts {
			byKey[c.LotID+"/"+c.EnvironmentID+"/"+c.State] = c.Devices
		}
		if byKey["l1/e1/active"] != 2 || byKey["l1//registered"] != 1 || len(byKey) != 2 {
			t.Errorf("DeviceCounts = %v", byKey)
		}
		return nil
	})
}

func testDuties(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().CreatePrincipal(party.Principal{ID: "p1", PartyID: "op", Name: "oscar", Kind: party.Person, CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("principal.create"))
		return err
	})
	_ = s.View(ctx, func(tx store.Tx) error {
		rules, err := tx.Duties().ListSoDRules()
		if err != nil || len(rules) != 4 {
			t.Errorf("a new store has %d rules (%v), want the 4 defaults", len(rules), err)
		}
		return nil
	})
	r := store.SoDRule{ID: "renew-approve", A: ownership.Pair{Stage: ownership.Operational, Duty: ownership.Renew}, B: ownership.Pair{Stage: ownership.Operational, Duty: ownership.Approve}, By: "admin", At: t0}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Duties().CreateSoDRule(r) }); err != nil {
		t.Fatal(err)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Duties().CreateSoDRule(r) }); !failure.Is(err, failure.Conflict) {
		t.Fatalf("duplicate rule = %v, want conflict", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		rules, _ := tx.Duties().ListSoDRules()
		found := false
		for _, x := range rules {
			found = found || (x.ID == r.ID && x.A == r.A && x.B == r.B && x.At.Equal(t0))
		}
		if !found {
			t.Errorf("rule not listed: %+v", rules)
		}
		return nil
	})
	if err := audited(t, s, func(tx store.Tx) error { return tx.Duties().DeleteSoDRule(r.ID) }); err != nil {
		t.Fatal(err)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Duties().DeleteSoDRule(r.ID) }); !failure.Is(err, failure.NotFound) {
		t.Fatalf("deleting a missing rule = %v, want not found", err)
	}
	set := func(ds ...ownership.Pair) {
		t.Helper()
		if err := audited(t, s, func(tx store.Tx) error { return tx.Duties().SetPrincipalDuties("p1", ds) }); err != nil {
			t.Fatal(err)
		}
	}
	get := func() []ownership.Pair {
		var out []ownership.Pair
		_ = s.View(ctx, func(tx store.Tx) (err error) { out, err = tx.Duties().PrincipalDuties("p1"); return err })
		return out
	}
	set(r.A, r.B)
	if got := get(); len(got) != 2 || got[0] != r.B || got[1] != r.A { // ordered by stage, duty
		t.Fatalf("duties = %v", got)
	}
	set(r.A)
	if got := get(); len(got) != 1 || got[0] != r.A {
		t.Fatalf("replaced duties = %v", got)
	}
	set()
	if got := get(); len(got) != 0 {
		t.Fatalf("cleared duties = %v", got)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Duties().SetPrincipalDuties("nobody", []ownership.Pair{r.A}) }); err == nil {
		t.Fatal("duties of an unknown principal were stored")
	}
}
