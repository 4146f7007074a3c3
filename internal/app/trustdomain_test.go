package app

import (
	"database/sql"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// TestTrustDomainHeldByFirstOperator: the first operator whose environment names a SPIFFE
// trust domain holds it. Operator A (contoso, whose dev environment named contoso.example)
// creates a second environment in it; operator B (tailspin) naming it is refused with 409
// naming the domain and the rule, not A's environment; nothing of B's attempt is stored; the
// refusal is counted at once and becomes a refusal audit event when its window ends; B's
// environment in a domain of its own is accepted. An environment's trust domain cannot be
// changed afterwards (the update refuses the field).
func TestTrustDomainHeldByFirstOperator(t *testing.T) {
	var skew atomic.Int64
	s := startDevWith(t, "", func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	demoA := demoEnvID(t, s)

	// A's second environment in its own domain.
	plantA := opEnv(t, s, "plant-td", nil)
	var envA api.EnvironmentView
	s.must(t, 200, oscar, "GET", "/v1/environments/"+plantA, nil).json(t, &envA)
	if envA.TrustDomain != "contoso.example" {
		t.Fatalf("A's second environment has trust domain %q, want contoso.example", envA.TrustDomain)
	}

	// B names A's domain.
	issuingB := addOperator(t, s)
	before := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "conflict"})
	spoof := map[string]any{"operator_id": "tailspin", "name": "spoof", "issuing_ca_id": issuingB, "trust_domain": "contoso.example", "lifetime": "24h", "max_age": "72h"}
	p := s.must(t, 409, tom, "POST", "/v1/environments", spoof).problem(t)
	detail, _ := p["detail"].(string)
	if p["type"] != "https://hallmark.dev/problems/conflict" || !strings.Contains(detail, `"contoso.example"`) || !strings.Contains(detail, "environment:trust-domain-owned") {
		t.Fatalf("B naming A's trust domain: %v; want a conflict naming the domain and the rule", p)
	}
	for _, secret := range []string{demoA, plantA, "Contoso", "plant-td"} {
		if strings.Contains(detail, secret) {
			t.Errorf("the refusal tells B %q, of A's: %s", secret, detail)
		}
	}
	if got := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "conflict"}); got != before+1 {
		t.Errorf("hallmark_refusals_total{reason=conflict} = %v, want %v", got, before+1)
	}

	// Spellings of A's domain with an empty label are not names of their own.
	for _, spelling := range []string{"contoso.example.", ".contoso.example", "contoso..example"} {
		spoof["trust_domain"] = spelling
		s.must(t, 400, tom, "POST", "/v1/environments", spoof)
	}

	// Nothing of the attempt is stored: the name is free, and B's environment in a domain of
	// its own is accepted.
	var envs struct{ Items []api.Environment }
	s.must(t, 200, tom, "GET", "/v1/environments", nil).json(t, &envs)
	if len(envs.Items) != 0 {
		t.Fatalf("B's refused environment was stored: %+v", envs.Items)
	}
	spoof["trust_domain"] = "tailspin.example"
	var envB api.EnvironmentView
	s.must(t, 201, tom, "POST", "/v1/environments", spoof).json(t, &envB)
	if envB.TrustDomain != "tailspin.example" || envB.Name != "spoof" {
		t.Fatalf("B's own environment: %+v", envB)
	}
	// A now cannot take B's domain either.
	if r := s.call(t, oscar, "POST", "/v1/environments", map[string]any{"operator_id": "contoso", "name": "grab", "issuing_ca_id": envA.IssuingCAID,
		"trust_domain": "tailspin.example", "lifetime": "24h", "max_age": "72h"}); r.Status != 409 {
		t.Fatalf("A naming B's trust domain: %d %s, want 409", r.Status, r.Body)
	}

	// No update moves a trust domain: the field is refused, the environment unchanged.
	if r := s.call(t, tom, "PATCH", "/v1/environments/"+envB.ID, map[string]any{"trust_domain": "contoso.example"}); r.Status != 400 {
		t.Fatalf("PATCH with a trust_domain: %d %s, want 400", r.Status, r.Body)
	}
	s.must(t, 200, tom, "GET", "/v1/environments/"+envB.ID, nil).json(t, &envB)
	if envB.TrustDomain != "tailspin.example" {
		t.Fatalf("B's environment's trust domain became %q", envB.TrustDomain)
	}

	// The refusal window ends a minute later: one refusal audit event names the rule.
	skew.Add(int64(61 * time.Second))
	var rep api.RefusalReport
	var got *api.Refusal
	waitFor(t, "the trust domain refusal event", func() bool {
		s.must(t, 200, audrey, "GET", "/v1/reports/refusals", nil).json(t, &rep)
		for i := range rep.Items {
			if rep.Items[i].Rule == "environment:trust-domain-owned" && rep.Items[i].PartyID == "tailspin" {
				got = &rep.Items[i]
			}
		}
		return got != nil
	})
	if got.Reason != "conflict" || got.Count != 1 || got.Operation != "POST /v1/environments" || !strings.Contains(got.Message, "contoso.example") {
		t.Errorf("the refusal event = %+v", got)
	}
	found := false
	for _, e := range auditEvents(t, s) {
		if e.Action == "refusal" && strings.Contains(string(e.Detail), "environment:trust-domain-owned") {
			found = true
		}
	}
	if !found {
		t.Error("no refusal event in the audit log names environment:trust-domain-owned")
	}
	// Nobody shares a domain: no trust-domain gap.
	var gaps api.GapsReport
	s.must(t, 200, audrey, "GET", "/v1/reports/gaps", nil).json(t, &gaps)
	if len(gaps.TrustDomains) != 0 {
		t.Errorf("trust domain gaps with no domain shared: %+v", gaps.TrustDomains)
	}
}

// TestTrustDomainSharedBeforeClaims: an environment of another operator that named a domain
// before trust domains were claimed (written as migration 0035 found it: a row with no claim
// of its own) keeps working, and the gaps report lists it as a trust-domain gap: to its
// operator without the holder, to the holder without the environment, to auditors whole.
func TestTrustDomainSharedBeforeClaims(t *testing.T) {
	s := startDev(t, "")
	issuingB := addOperator(t, s)
	legacy := legacyEnvironment(t, s, "env_legacy", "tailspin", "old-yard", issuingB, "contoso.example")
	s.must(t, 200, tom, "GET", "/v1/environments/"+legacy, nil)

	rows := func(who string) []api.TrustDomainGap {
		var g api.GapsReport
		s.must(t, 200, who, "GET", "/v1/reports/gaps", nil).json(t, &g)
		return g.TrustDomains
	}
	for _, tc := range []struct {
		who               string
		env, op, holder   string
		whyHas, whyHasNot string
	}{
		{audrey, legacy, "tailspin", "contoso", "contoso", ""},
		{tom, legacy, "tailspin", "", "another operator", "contoso holds"},
		{oscar, "", "", "contoso", "another operator", "old-yard"},
	} {
		got := rows(tc.who)
		if len(got) != 1 {
			t.Fatalf("%s sees %d trust domain gaps, want 1: %+v", tc.who, len(got), got)
		}
		g := got[0]
		if g.TrustDomain != "contoso.example" || g.EnvironmentID != tc.env || g.OperatorID != tc.op || g.HolderID != tc.holder || !strings.Contains(g.Why, tc.whyHas) ||
			(tc.whyHasNot != "" && strings.Contains(g.Why, tc.whyHasNot)) {
			t.Errorf("%s's trust domain gap = %+v", tc.who, g)
		}
	}
	// A party with neither environment sees none.
	newParty(t, s, "bystander", "Bystander Ops", "operator")
	if got := rows("bystander/admin"); len(got) != 0 {
		t.Errorf("a bystander operator sees trust domain gaps: %+v", got)
	}
	// The holder's next environment in its domain is still accepted; the other operator's is not.
	opEnv(t, s, "plant-after", nil)
	if r := s.call(t, tom, "POST", "/v1/environments", map[string]any{"operator_id": "tailspin", "name": "new-yard", "issuing_ca_id": issuingB,
		"trust_domain": "contoso.example", "lifetime": "24h", "max_age": "72h"}); r.Status != 409 {
		t.Fatalf("B's new environment in the shared domain: %d %s, want 409", r.Status, r.Body)
	}
}

// legacyEnvironment writes an environment row straight into the dev server's SQLite database,
// as one created before migration 0035 stands after it: no claim of its own, its domain held
// by the operator that named it first. It returns the ID.
func legacyEnvironment(t *testing.T, s *devServer, id, operator, name, issuingCA, domain string) string {
	t.Helper()
	if strings.HasPrefix(s.info.Database, "postgres") {
		t.Skip("the legacy environment is written in SQLite only")
	}
	db, err := sql.Open("sqlite", "file:"+s.info.Database+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO environments (id, operator_id, name, issuing_ca_id, trust_domain, lifetime_seconds, max_age_seconds, created_at) VALUES (?, ?, ?, ?, ?, 86400, 259200, 1)`,
		id, operator, name, issuingCA, domain); err != nil {
		t.Fatalf("writing the legacy environment: %v", err)
	}
	for _, kind := range []string{"onboarding", "renewal"} {
		if _, err := db.Exec(`INSERT INTO policies (environment_id, kind, version, spec, created_by, created_at) VALUES (?, ?, 1, '{"rules":[]}', 'test', 1)`, id, kind); err != nil {
			t.Fatalf("writing the legacy environment's %s policy: %v", kind, err)
		}
	}
	return id
}
