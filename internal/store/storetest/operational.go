package storetest

import (
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// operationalTests are the contract of the operational aggregates.
var operationalTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"RevokeHoldUnhold", testRevokeHold},
	{"ChallengesAreSingleUse", testChallenges},
	{"PolicyVersionsNeverRepeat", testPolicyVersions},
	{"CascadeItemsAreIdempotent", testCascadeItems},
}

func issued(t *testing.T, s store.Store, serial *big.Int) {
	t.Helper()
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: "ca1", Profile: "operational", TBS: []byte{1}, NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0})
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Certificates().MarkIssued(serial, []byte{2}, t0); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("cert.issue"))
		return err
	})
}

func audited(t *testing.T, s store.Store, fn func(tx store.Tx) error) error {
	t.Helper()
	return s.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("x"))
		return err
	})
}

func testRevokeHold(t *testing.T, s store.Store) {
	seedCA(t, s)
	a, b := big.NewInt(0xa1), big.NewInt(0xb2)
	issued(t, s, a)
	issued(t, s, b)
	steps := []struct {
		name   string
		fn     func(tx store.Tx) error
		wantOK bool
	}{
		{"unhold an issued certificate", func(tx store.Tx) error { return tx.Certificates().Unhold(a) }, false},
		{"hold", func(tx store.Tx) error { return tx.Certificates().Revoke(a, 6, t0) }, true},
		{"hold twice", func(tx store.Tx) error { return tx.Certificates().Revoke(a, 6, t0) }, false},
		{"unhold", func(tx store.Tx) error { return tx.Certificates().Unhold(a) }, true},
		{"hold again", func(tx store.Tx) error { return tx.Certificates().Revoke(a, 6, t0) }, true},
		{"a hold becomes a revocation", func(tx store.Tx) error { return tx.Certificates().Revoke(a, 1, t0) }, true},
		{"a revocation is never undone", func(tx store.Tx) error { return tx.Certificates().Unhold(a) }, false},
		{"nor repeated", func(tx store.Tx) error { return tx.Certificates().Revoke(a, 1, t0) }, false},
		{"revoke another", func(tx store.Tx) error { return tx.Certificates().Revoke(b, 4, t0) }, true},
	}
	for _, st := range steps {
		err := audited(t, s, st.fn)
		if (err == nil) != st.wantOK {
			t.Fatalf("%s: %v, want ok=%v", st.name, err, st.wantOK)
		}
		if err != nil && !failure.Is(err, failure.Conflict) {
			t.Fatalf("%s: %v, want a conflict", st.name, err)
		}
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		c, err := tx.Certificates().GetCert(a)
		if err != nil || c.State != ca.Revoked || c.Reason == nil || *c.Reason != 1 {
			t.Errorf("certificate = %+v, %v", c, err)
		}
		return nil
	})
}

func testChallenges(t *testing.T, s store.Store) {
	c := store.Challenge{ID: "c1", Nonce: []byte("nonce"), Purpose: "possession", ExpiresAt: t0.Add(time.Minute)}
	old := store.Challenge{ID: "c2", Nonce: []byte("old"), Purpose: "possession", ExpiresAt: t0.Add(-time.Minute)}
	for _, v := range []store.Challenge{c, old} {
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Challenges().CreateChallenge(v) }); err != nil {
			t.Fatalf("creating a challenge (exempt from audit): %v", err)
		}
	}
	consume := func(id string) error {
		return s.Update(ctx, func(tx store.Tx) error { _, err := tx.Challenges().ConsumeChallenge(id, t0); return err })
	}
	if err := consume("c1"); err != nil {
		t.Fatal(err)
	}
	if err := consume("c1"); !failure.Is(err, failure.NotFound) {
		t.Errorf("second use = %v, want not found", err)
	}
	if err := consume("c2"); !failure.Is(err, failure.NotFound) {
		t.Errorf("expired challenge = %v, want not found", err)
	}
}

func testPolicyVersions(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	seedCA(t, s)
	e := environment.Environment{ID: "env1", OperatorID: "op", Name: "plant", IssuingCAID: "ca1", TrustDomain: "td", Lifetime: environment.Duration(time.Hour), MaxAge: environment.Duration(2 * time.Hour), Services: []string{"a"}, CreatedAt: t0}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Environments().CreateEnvironment(e) }); err != nil {
		t.Fatal(err)
	}
	add := func(v int) error {
		return audited(t, s, func(tx store.Tx) error {
			return tx.Environments().AddPolicy(environment.PolicyVersion{EnvironmentID: "env1", Kind: environment.Renewal, Version: v, Spec: json.RawMessage(`{"rules":[]}`), CreatedBy: "x", CreatedAt: t0})
		})
	}
	for _, v := range []int{1, 2} {
		if err := add(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := add(2); !failure.Is(err, failure.Conflict) {
		t.Errorf("repeated version = %v, want conflict", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		p, err := tx.Environments().LatestPolicy("env1", environment.Renewal)
		if err != nil || p.Version != 2 {
			t.Errorf("latest = %+v, %v", p, err)
		}
		got, err := tx.Environments().GetEnvironment("env1")
		if err != nil || got.Lifetime != e.Lifetime || len(got.Services) != 1 {
			t.Errorf("environment = %+v, %v", got, err)
		}
		// A label is an ID first, else a name.
		for label, want := range map[string]int{"env1": 1, "plant": 1, "nowhere": 0} {
			found, err := tx.Environments().EnvironmentsByLabel(label)
			if err != nil || len(found) != want || (want == 1 && found[0].ID != "env1") {
				t.Errorf("EnvironmentsByLabel(%q) = %+v, %v; want %d environment(s)", label, found, err, want)
			}
		}
		return nil
	})
}

func testCascadeItems(t *testing.T, s store.Store) {
	seedParty(t, s, "acme", party.Manufacturer)
	run := store.RevocationRun{ID: "r1", ManufacturerID: "acme", Selector: store.FactorySelector{ManufacturerID: "acme", LotID: "l1"}, Reason: 1, RequestedBy: "x", CreatedAt: t0}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Revocations().CreateRun(run) }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := audited(t, s, func(tx store.Tx) error {
			return tx.Revocations().AddItem(store.CascadeItem{RunID: "r1", Serial: "ab", DeviceID: "d1", Action: "factory-revoked", At: t0})
		}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		items, err := tx.Revocations().ListItems("r1", "", 10)
		if err != nil || len(items) != 1 {
			t.Errorf("items = %+v, %v, want one", items, err)
		}
		got, err := tx.Revocations().GetRun("r1")
		if err != nil || got.Selector.LotID != "l1" {
			t.Errorf("run = %+v, %v", got, err)
		}
		return nil
	})
}
