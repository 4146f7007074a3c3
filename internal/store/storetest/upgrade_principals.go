package storetest

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Upgrade to migration 0020 (principal tokens), shared by both dialects' upgrade tests.

// The tokens of the old principals, as main made them (only their SHA-256 was stored).
const (
	oldAdminToken  = "hmk_old-admin"
	oldAdmin2Token = "hmk_old-admin-2"
	oldUserToken   = "hmk_old-user"
)

// SeedBeforePrincipalTokens writes, into a database migrated to just before 0020, what main
// made: two parties, an administrator in each (both named admin), a plain principal with duty
// limits, and the administrator's duty limits. ph is the dialect's first placeholder ("?" or
// "$1"); every statement takes at most one argument.
func SeedBeforePrincipalTokens(t *testing.T, db *sql.DB, ph string) {
	t.Helper()
	h := func(tok string) []byte { v := party.HashToken(tok); return v[:] }
	execSeed(t, db, ph, []seedStmt{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('ops', 'Ops', 'operator', 1), ('acme', 'Acme', 'manufacturer', 1)`, nil},
		{`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at, last_used_at) VALUES ('prn_a', 'ops', 'admin', 'person', 1, ?, 1000000, 2000000)`, h(oldAdminToken)},
		{`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at) VALUES ('prn_b', 'acme', 'admin', 'person', 1, ?, 1000000)`, h(oldAdmin2Token)},
		{`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at) VALUES ('prn_u', 'ops', 'oscar', 'person', 0, ?, 1000000)`, h(oldUserToken)},
		{`INSERT INTO principal_duties (principal_id, stage, duty) VALUES ('prn_u', 'operational', 'issue'), ('prn_a', 'operational', 'approve')`, nil},
	})
}

// CheckPrincipalTokensUpgrade checks a store opened on what SeedBeforePrincipalTokens wrote.
func CheckPrincipalTokensUpgrade(t *testing.T, s store.Store) {
	t.Helper()
	_ = s.View(ctx, func(tx store.Tx) error {
		byHash := func(tok string) (party.Principal, party.Token) {
			h := party.HashToken(tok)
			p, tk, err := tx.Parties().TokenByHash(h[:])
			if err != nil {
				t.Fatalf("the token of before the upgrade %s: %v", tok, err)
			}
			return p, tk
		}
		a, at := byHash(oldAdminToken)
		if a.ID != "prn_a" || a.PartyID != party.Deployment || !a.DeploymentAdmin() || a.Name != "admin" {
			t.Errorf("the old administrator after the upgrade: %+v", a)
		}
		if at.ExpiresAt != nil || at.State(t0) != party.TokenPending || at.LastUsedAt == nil || !at.CreatedAt.Equal(time.UnixMicro(1000000).UTC()) {
			t.Errorf("its token: %+v (want no expiry until the first start, its creation and last use kept)", at)
		}
		b, _ := byHash(oldAdmin2Token)
		if b.PartyID != party.Deployment || b.Name != "acme-admin" {
			t.Errorf("the second old administrator named admin: %+v, want acme-admin of the deployment", b)
		}
		u, _ := byHash(oldUserToken)
		if u.PartyID != "ops" || u.Admin {
			t.Errorf("the plain principal: %+v", u)
		}
		if d, err := tx.Duties().PrincipalDuties("prn_u"); err != nil || len(d) != 1 {
			t.Errorf("the plain principal's duty limits: %v, %v", d, err)
		}
		if d, err := tx.Duties().PrincipalDuties("prn_a"); err != nil || len(d) != 0 {
			t.Errorf("the old administrator keeps its party's duty limits: %v, %v", d, err)
		}
		if ps, err := tx.Parties().ListParties(); err != nil || len(ps) != 2 {
			t.Errorf("parties after the upgrade: %+v, %v (the deployment scope is no party)", ps, err)
		}
		if _, err := tx.Parties().GetParty(party.Deployment); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetParty(*) = %v", err)
		}
		if n, err := tx.Parties().LegacyTokens(); err != nil || n != 3 {
			t.Errorf("LegacyTokens = %d, %v; want 3", n, err)
		}
		return nil
	})
}

// seedStmt is one statement of an upgrade test's seed, with at most one argument.
type seedStmt struct {
	q   string
	arg []byte
}

// execSeed runs an upgrade test's seed statements on db, in order; ph is the dialect's first
// placeholder ("?" or "$1"), put for the statement's one "?".
func execSeed(t *testing.T, db *sql.DB, ph string, stmts []seedStmt) {
	t.Helper()
	for _, st := range stmts {
		q := strings.Replace(st.q, "?", ph, 1)
		var err error
		if st.arg != nil {
			_, err = db.Exec(q, st.arg)
		} else {
			_, err = db.Exec(q)
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
