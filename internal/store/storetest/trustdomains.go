package storetest

import (
	"database/sql"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// SPIFFE trust domains owned per operator (migration 0035): the first operator whose
// environment names a domain claims it for good.

var trustDomainTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"TrustDomainsAreClaimedOnce", testTrustDomainClaims},
	{"ConcurrentTrustDomainClaimsOneWins", testConcurrentTrustDomainClaims},
}

// testTrustDomainClaims: the first claim of a domain holds it, whoever claims it again (the
// same operator by another environment, or another operator); a claim that found one already
// stored changes nothing; the claims list by name.
func testTrustDomainClaims(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	seedParty(t, s, "op2", party.Operator)
	seedCA(t, s)
	claim := func(id, operator, domain string, at time.Time) environment.TrustDomainClaim {
		t.Helper()
		var c environment.TrustDomainClaim
		if err := audited(t, s, func(tx store.Tx) error {
			e := environment.Environment{ID: id, OperatorID: operator, Name: id, IssuingCAID: "ca1", TrustDomain: domain, Lifetime: environment.Duration(time.Hour),
				MaxAge: environment.Duration(2 * time.Hour), Services: []string{}, CreatedAt: at}
			if err := tx.Environments().CreateEnvironment(e); err != nil {
				return err
			}
			var err error
			c, err = tx.Environments().ClaimTrustDomain(domain, operator, id, at)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := environment.TrustDomainClaim{Name: "a.example", OperatorID: "op", EnvironmentID: "env_a", ClaimedAt: t0}
	for _, tc := range []struct {
		env, operator, domain string
		at                    time.Time
		want                  environment.TrustDomainClaim
	}{
		{"env_a", "op", "a.example", t0, first},
		{"env_a2", "op", "a.example", t0.Add(time.Second), first},     // the same operator: its claim stands
		{"env_b", "op2", "a.example", t0.Add(2 * time.Second), first}, // another operator: the first claim stands
		{"env_b2", "op2", "b.example", t0.Add(3 * time.Second), environment.TrustDomainClaim{Name: "b.example", OperatorID: "op2", EnvironmentID: "env_b2", ClaimedAt: t0.Add(3 * time.Second)}},
	} {
		if got := claim(tc.env, tc.operator, tc.domain, tc.at); !sameClaim(got, tc.want) {
			t.Errorf("%s (%s) claiming %s: holder %+v, want %+v", tc.env, tc.operator, tc.domain, got, tc.want)
		}
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Environments().ListTrustDomains()
		if err != nil || len(got) != 2 || !sameClaim(got[0], first) || got[1].Name != "b.example" || got[1].OperatorID != "op2" {
			t.Errorf("ListTrustDomains = %+v, %v; want a.example held by op (env_a), then b.example held by op2", got, err)
		}
		return nil
	})
}

// testConcurrentTrustDomainClaims: two operators' environments claim one new domain at once;
// both transactions commit, and both see the one claim that holds, of one of them.
func testConcurrentTrustDomainClaims(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	seedParty(t, s, "op2", party.Operator)
	seedCA(t, s)
	ops := []string{"op", "op2"}
	got := make([]environment.TrustDomainClaim, len(ops))
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() {
			errs[i] = audited(t, s, func(tx store.Tx) error {
				id := "env_" + op
				e := environment.Environment{ID: id, OperatorID: op, Name: id, IssuingCAID: "ca1", TrustDomain: "race.example", Lifetime: environment.Duration(time.Hour),
					MaxAge: environment.Duration(2 * time.Hour), Services: []string{}, CreatedAt: t0}
				if err := tx.Environments().CreateEnvironment(e); err != nil {
					return err
				}
				var err error
				got[i], err = tx.Environments().ClaimTrustDomain("race.example", op, id, t0)
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s's claim: %v", ops[i], err)
		}
	}
	if got[0].OperatorID == "" || !sameClaim(got[0], got[1]) || got[0].EnvironmentID != "env_"+got[0].OperatorID {
		t.Errorf("concurrent claims saw %+v and %+v; want one claim, of one of them", got[0], got[1])
	}
}

func sameClaim(a, b environment.TrustDomainClaim) bool {
	return a.Name == b.Name && a.OperatorID == b.OperatorID && a.EnvironmentID == b.EnvironmentID && a.ClaimedAt.Equal(b.ClaimedAt)
}

// SeedBeforeTrustDomains writes, into a database migrated to just before 0035 (ph is the
// dialect's first placeholder), environments of three operators: shared.example named first by
// op2's env_b1 (at 1 s), then by op's env_a1 and env_a2; tie.example named by op3's env_t2 and
// op's env_t1 at the same instant; solo.example by op's env_s only.
func SeedBeforeTrustDomains(t *testing.T, db *sql.DB, ph string) {
	t.Helper()
	env := func(id, operator, domain string, at int64) seedStmt {
		return seedStmt{`INSERT INTO environments (id, operator_id, name, issuing_ca_id, trust_domain, lifetime_seconds, max_age_seconds, created_at) VALUES ('` +
			id + `', '` + operator + `', '` + id + `', 'ca1', '` + domain + `', 3600, 7200, ` + strconv.FormatInt(at, 10) + `)`, nil}
	}
	execSeed(t, db, ph, []seedStmt{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('op', 'Op', 'operator', 1), ('op2', 'Op2', 'operator', 1), ('op3', 'Op3', 'operator', 1)`, nil},
		{`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca1', 'op', 'operational', 'issuing', 'ca', 'k', ?, 1)`, SelfSignedForTest(t)},
		env("env_a1", "op", "shared.example", 2000000),
		env("env_b1", "op2", "shared.example", 1000000),
		env("env_a2", "op", "shared.example", 3000000),
		env("env_t2", "op3", "tie.example", 5000000),
		env("env_t1", "op", "tie.example", 5000000),
		env("env_s", "op", "solo.example", 4000000),
	})
}

// CheckTrustDomainsUpgrade checks a store opened on what SeedBeforeTrustDomains wrote: each
// domain is claimed by the operator of the environment that named it first (by ID on a tie),
// at that environment's creation; and a claim after the upgrade finds those claims.
func CheckTrustDomainsUpgrade(t *testing.T, s store.Store) {
	t.Helper()
	want := []environment.TrustDomainClaim{
		{Name: "shared.example", OperatorID: "op2", EnvironmentID: "env_b1", ClaimedAt: time.UnixMicro(1000000).UTC()},
		{Name: "solo.example", OperatorID: "op", EnvironmentID: "env_s", ClaimedAt: time.UnixMicro(4000000).UTC()},
		{Name: "tie.example", OperatorID: "op", EnvironmentID: "env_t1", ClaimedAt: time.UnixMicro(5000000).UTC()},
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Environments().ListTrustDomains()
		if err != nil || len(got) != len(want) {
			t.Fatalf("the claims after the upgrade: %+v, %v; want %+v", got, err, want)
		}
		for i := range want {
			if !sameClaim(got[i], want[i]) {
				t.Errorf("claim %d after the upgrade: %+v, want %+v", i, got[i], want[i])
			}
		}
		return nil
	})
	var got environment.TrustDomainClaim
	mustUpdate(t, s, func(tx store.Tx) error {
		var err error
		if got, err = tx.Environments().ClaimTrustDomain("shared.example", "op", "env_a2", t0); err != nil {
			return err
		}
		_, err = tx.Audit().Append(ev("x"))
		return err
	})
	if !sameClaim(got, want[0]) {
		t.Errorf("op claiming shared.example after the upgrade: holder %+v, want op2's %+v", got, want[0])
	}
}
