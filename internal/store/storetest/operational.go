package storetest

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
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
	{"ChallengesArePurgedByExpiry", testChallengePurge},
	{"ESTNamesAreClaimedOnce", testESTNames},
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
	mk := func(id, principal string, expires time.Time) store.Challenge {
		return store.Challenge{ID: id, Nonce: []byte("nonce-" + id), Purpose: "onboard", PrincipalID: principal, PartyID: "op", EnvironmentID: "env1",
			KeySHA256: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: t0.Add(-time.Minute), ExpiresAt: expires}
	}
	for _, v := range []store.Challenge{mk("c1", "p1", t0.Add(time.Minute)), mk("c2", "p1", t0.Add(-time.Second)), mk("c3", "p1", t0.Add(time.Minute)), mk("c4", "p2", t0.Add(time.Minute))} {
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Challenges().CreateChallenge(v) }); err != nil {
			t.Fatalf("creating a challenge (exempt from audit): %v", err)
		}
	}
	live := func(principal string, limit int) int {
		t.Helper()
		var n int
		_ = s.View(ctx, func(tx store.Tx) (err error) {
			n, err = tx.Challenges().LiveChallenges(principal, t0, limit)
			if err != nil {
				t.Fatal(err)
			}
			return nil
		})
		return n
	}
	if n := live("p1", 10); n != 2 {
		t.Errorf("p1 holds %d live challenges, want 2 (the expired one does not count)", n)
	}
	if n := live("p1", 1); n != 1 {
		t.Errorf("counting up to 1 gave %d", n)
	}
	consume := func(id, principal string) (store.Challenge, error) {
		var c store.Challenge
		err := s.Update(ctx, func(tx store.Tx) (err error) {
			c, err = tx.Challenges().ConsumeChallenge(id, principal, t0)
			return err
		})
		return c, err
	}
	if _, err := consume("c1", "p2"); !failure.Is(err, failure.NotFound) {
		t.Errorf("another principal's challenge = %v, want not found", err)
	}
	got, err := consume("c1", "p1")
	if err != nil || string(got.Nonce) != "nonce-c1" || got.EnvironmentID != "env1" || got.Purpose != "onboard" || string(got.KeySHA256) != "0123456789abcdef0123456789abcdef" || got.UsedAt == nil || got.PartyID != "op" {
		t.Fatalf("consumed = %+v, %v", got, err)
	}
	if _, err := consume("c1", "p1"); !failure.Is(err, failure.NotFound) {
		t.Errorf("second use = %v, want not found", err)
	}
	if _, err := consume("c2", "p1"); !failure.Is(err, failure.NotFound) {
		t.Errorf("expired challenge = %v, want not found", err)
	}
	if _, err := consume("nope", "p1"); !failure.Is(err, failure.NotFound) {
		t.Errorf("unknown challenge = %v, want not found", err)
	}
	// A used challenge still counts until it expires: the cap is a rate.
	if n := live("p1", 10); n != 2 {
		t.Errorf("after a use p1 holds %d live challenges, want 2", n)
	}
}

func testChallengePurge(t *testing.T, s store.Store) {
	for i := range 5 {
		v := store.Challenge{ID: fmt.Sprintf("c%d", i), Nonce: []byte{byte(i)}, Purpose: "renew", PrincipalID: "p", PartyID: "op", EnvironmentID: "env1",
			KeySHA256: make([]byte, 32), CreatedAt: t0, ExpiresAt: t0.Add(time.Duration(5-i) * time.Minute)}
		mustUpdate(t, s, func(tx store.Tx) error { return tx.Challenges().CreateChallenge(v) })
	}
	mustUpdate(t, s, func(tx store.Tx) error { _, err := tx.Challenges().ConsumeChallenge("c3", "p", t0); return err })
	purge := func(now time.Time, limit int) []string {
		t.Helper()
		var ids []string
		mustUpdate(t, s, func(tx store.Tx) error {
			got, err := tx.Challenges().PurgeChallenges(now, limit)
			for _, c := range got {
				ids = append(ids, c.ID)
				if c.ID == "c3" && c.UsedAt == nil {
					t.Errorf("the purged c3 lost its use")
				}
			}
			return err
		})
		return ids
	}
	// At t0+3m, c4 (t0+1m), c3 (t0+2m) and c2 (t0+3m) have expired: oldest first, two at a time.
	if ids := purge(t0.Add(3*time.Minute), 2); !slices.Equal(ids, []string{"c4", "c3"}) {
		t.Errorf("first purge = %v, want [c4 c3]", ids)
	}
	if ids := purge(t0.Add(3*time.Minute), 2); !slices.Equal(ids, []string{"c2"}) {
		t.Errorf("second purge = %v, want [c2]", ids)
	}
	if ids := purge(t0.Add(3*time.Minute), 2); len(ids) != 0 {
		t.Errorf("third purge = %v, want none", ids)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if n, err := tx.Challenges().LiveChallenges("p", t0, 10); err != nil || n != 2 {
			t.Errorf("left: %d live challenges (%v), want c0 and c1", n, err)
		}
		return nil
	})
}

// testESTNames: the first environment to claim a name keeps it; a label is an ID first.
func testESTNames(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	seedParty(t, s, "op2", party.Operator)
	seedCA(t, s)
	env := func(id, operator, name string) environment.Environment {
		return environment.Environment{ID: id, OperatorID: operator, Name: name, IssuingCAID: "ca1", TrustDomain: "td", Lifetime: environment.Duration(time.Hour), MaxAge: environment.Duration(2 * time.Hour), Services: []string{}, CreatedAt: t0}
	}
	claim := func(e environment.Environment) bool {
		t.Helper()
		var ok bool
		if err := audited(t, s, func(tx store.Tx) error {
			if err := tx.Environments().CreateEnvironment(e); err != nil {
				return err
			}
			var err error
			ok, err = tx.Environments().ClaimESTName(e.Name, e.ID, t0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim(env("env_a", "op", "plant")) {
		t.Fatal("the first environment named plant did not get the name")
	}
	if claim(env("env_b", "op2", "plant")) {
		t.Fatal("a second environment named plant took the name")
	}
	if !claim(env("env_c", "op2", "yard")) {
		t.Fatal("env_c did not get its own name")
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		for label, want := range map[string]string{"plant": "env_a", "env_a": "env_a", "env_b": "env_b", "yard": "env_c", "nowhere": ""} {
			got, err := tx.Environments().EnvironmentByLabel(label)
			switch {
			case want == "" && !failure.Is(err, failure.NotFound):
				t.Errorf("EnvironmentByLabel(%q) = %+v, %v; want not found", label, got, err)
			case want != "" && (err != nil || got.ID != want):
				t.Errorf("EnvironmentByLabel(%q) = %+v, %v; want %s", label, got, err, want)
			}
		}
		for id, want := range map[string]string{"env_a": "plant", "env_b": "", "env_c": "yard"} {
			if got, err := tx.Environments().ESTName(id); err != nil || got != want {
				t.Errorf("ESTName(%s) = %q, %v; want %q", id, got, err, want)
			}
		}
		return nil
	})
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
		vs, err := tx.Environments().PolicyVersions("env1", environment.Renewal)
		if err != nil || len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 || string(vs[1].Spec) != `{"rules":[]}` || !vs[1].CreatedAt.Equal(t0) {
			t.Errorf("versions = %+v, %v", vs, err)
		}
		if vs, err := tx.Environments().PolicyVersions("env1", environment.Onboarding); err != nil || len(vs) != 0 {
			t.Errorf("onboarding versions = %+v, %v", vs, err)
		}
		got, err := tx.Environments().GetEnvironment("env1")
		if err != nil || got.Lifetime != e.Lifetime || len(got.Services) != 1 {
			t.Errorf("environment = %+v, %v", got, err)
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

// Statement is one SQL statement with '?' placeholders, for seeding an old schema.
type Statement struct {
	Query string
	Args  []any
}

// UpgradeESTNamesSeed fills a database at schema 0011 for CheckUpgradedESTNames: two operators
// each have an environment named "plant" (op2's created first, at 1; op's at 2), and op has
// one named "yard".
func UpgradeESTNamesSeed(t *testing.T) []Statement {
	return []Statement{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('op', 'Op', 'operator', 1), ('op2', 'Op2', 'operator', 1)`, nil},
		{`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca1', 'op', 'operational', 'issuing', 'ca', 'k', ?, 1)`, []any{SelfSignedForTest(t)}},
		{`INSERT INTO environments (id, operator_id, name, issuing_ca_id, trust_domain, lifetime_seconds, max_age_seconds, created_at) VALUES
  ('env_late', 'op', 'plant', 'ca1', 'td', 3600, 7200, 2), ('env_early', 'op2', 'plant', 'ca1', 'td', 3600, 7200, 1), ('env_yard', 'op', 'yard', 'ca1', 'td', 3600, 7200, 3)`, nil},
		{`INSERT INTO challenges (id, nonce, purpose, expires_at) VALUES ('chl_old', ?, 'possession', 9000000000000000)`, []any{[]byte{0}}},
	}
}

// CheckUpgradedESTNames checks a store migrated from UpgradeESTNamesSeed.
func CheckUpgradedESTNames(t *testing.T, tx store.Tx) {
	t.Helper()
	for label, want := range map[string]string{"plant": "env_early", "yard": "env_yard", "env_late": "env_late"} {
		if got, err := tx.Environments().EnvironmentByLabel(label); err != nil || got.ID != want {
			t.Errorf("EST label %q after the upgrade: %s (%v), want %s", label, got.ID, err, want)
		}
	}
	if name, err := tx.Environments().ESTName("env_late"); err != nil || name != "" {
		t.Errorf("env_late holds the EST name %q (%v); the earlier environment should", name, err)
	}
	if n, err := tx.Challenges().LiveChallenges("", time.Unix(0, 0), 10); err != nil || n != 0 {
		t.Errorf("%d challenges of the old shape survived (%v)", n, err)
	}
}
