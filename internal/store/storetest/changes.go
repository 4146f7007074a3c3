package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

var changeTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ChangeRulesAndGroups", testChangeRules},
	{"WaiversActiveAndFiltered", testWaivers},
}

// testChangeRules: a party's rule and groups round-trip, replace, and stay the party's own.
func testChangeRules(t *testing.T, s store.Store) {
	seedParty(t, s, "p1", party.Operator)
	seedParty(t, s, "p2", party.Operator)
	rule := approval.ChangeRule{PartyID: "p1", Kind: approval.PolicyChange, Quorum: []approval.Need{{Group: "leads", Approvals: 2}, {Group: "ops", Approvals: 1}}, Expiry: 48 * time.Hour}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.ChangeRules().SetApproverGroup(approval.Group{PartyID: "p1", Name: "leads", Members: []string{"a", "b"}}, "u", t0); err != nil {
			return err
		}
		if err := tx.ChangeRules().SetApproverGroup(approval.Group{PartyID: "p1", Name: "leads", Members: []string{"a", "b", "c"}}, "u", t0); err != nil {
			return err
		}
		if err := tx.ChangeRules().SetChangeRule(rule, "u", t0); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("change.rule"))
		return err
	})
	mustView(t, s, func(tx store.Tx) error {
		got, ok, err := tx.ChangeRules().ChangeRule("p1", approval.PolicyChange)
		if err != nil || !ok || got.Expiry != rule.Expiry || !slices.Equal(got.Quorum, rule.Quorum) {
			t.Fatalf("rule = %+v %v %v, want %+v", got, ok, err, rule)
		}
		if _, ok, err := tx.ChangeRules().ChangeRule("p2", approval.PolicyChange); ok || err != nil {
			t.Fatalf("p2 has p1's rule: %v %v", ok, err)
		}
		gs, err := tx.ChangeRules().ApproverGroups("p1")
		if err != nil || len(gs) != 1 || !slices.Equal(gs["leads"].Members, []string{"a", "b", "c"}) {
			t.Fatalf("groups = %+v %v", gs, err)
		}
		if gs, err := tx.ChangeRules().ApproverGroups("p2"); err != nil || len(gs) != 0 {
			t.Fatalf("p2 groups = %+v %v", gs, err)
		}
		return nil
	})
}

// testWaivers: ListWaivers keeps the waivers still active at a time, by party and device.
func testWaivers(t *testing.T, s store.Store) {
	seedParty(t, s, "p1", party.Operator)
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, w := range []waiver.Waiver{
			{ID: "w1", PartyID: "p1", DeviceID: "d1", EnvironmentID: "e", Rule: "fw", Reason: "r", ApprovalID: "a1", RequestedBy: "u", NotAfter: t0.Add(time.Hour), CreatedAt: t0},
			{ID: "w2", PartyID: "p1", DeviceID: "d2", EnvironmentID: "e", Rule: "fw", Reason: "r", ApprovalID: "a2", RequestedBy: "u", NotAfter: t0.Add(3 * time.Hour), CreatedAt: t0.Add(time.Minute)},
		} {
			if err := tx.Waivers().CreateWaiver(w); err != nil {
				t.Fatalf("waiver %d: %v", i, err)
			}
		}
		_, err := tx.Audit().Append(ev("waiver.grant"))
		return err
	})
	at := t0.Add(2 * time.Hour)
	for _, tc := range []struct {
		name string
		f    store.WaiverFilter
		want []string
	}{
		{"all", store.WaiverFilter{}, []string{"w2", "w1"}},
		{"device", store.WaiverFilter{DeviceID: "d1"}, []string{"w1"}},
		{"active", store.WaiverFilter{ActiveAt: &at}, []string{"w2"}},
		{"other party", store.WaiverFilter{Party: "p9"}, nil},
	} {
		mustView(t, s, func(tx store.Tx) error {
			ws, err := tx.Waivers().ListWaivers(tc.f)
			var ids []string
			for _, w := range ws {
				ids = append(ids, w.ID)
			}
			if err != nil || !slices.Equal(ids, tc.want) {
				t.Fatalf("%s: %v %v, want %v", tc.name, ids, err, tc.want)
			}
			return nil
		})
	}
}
