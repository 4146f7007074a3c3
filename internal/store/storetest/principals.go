package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

var principalTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"TokensRotateRevokeExpire", testTokens},
	{"PrincipalDisableDelete", testPrincipalLife},
	{"BreakGlassAccess", testAccess},
}

func init() { governanceTests = append(governanceTests, principalTests...) }

func addPrincipal(t *testing.T, s store.Store, p party.Principal, toks ...party.Token) {
	t.Helper()
	if err := audited(t, s, func(tx store.Tx) error {
		if err := tx.Parties().CreatePrincipal(p); err != nil {
			return err
		}
		for _, tok := range toks {
			h := party.HashToken(tok.ID + "-secret")
			if err := tx.Parties().CreateToken(tok, h[:]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func at(d time.Duration) *time.Time { v := t0.Add(d); return &v }

func testTokens(t *testing.T, s store.Store) {
	seedParty(t, s, "fab", party.ContractManufacturer)
	day := 24 * time.Hour
	addPrincipal(t, s, party.Principal{ID: "st1", PartyID: "fab", Name: "station-1", Kind: party.Service, CreatedAt: t0},
		party.Token{ID: "old", PrincipalID: "st1", CreatedAt: t0, ExpiresAt: at(90 * day)},
		party.Token{ID: "gone", PrincipalID: "st1", CreatedAt: t0, ExpiresAt: at(time.Hour)})
	addPrincipal(t, s, party.Principal{ID: "adm", PartyID: "fab", Name: "admin", Kind: party.Person, Admin: true, CreatedAt: t0},
		party.Token{ID: "admtok", PrincipalID: "adm", CreatedAt: t0, ExpiresAt: at(2 * day)})

	// A second token of one hash is refused.
	if err := audited(t, s, func(tx store.Tx) error {
		h := party.HashToken("old-secret")
		return tx.Parties().CreateToken(party.Token{ID: "dup", PrincipalID: "st1", CreatedAt: t0, ExpiresAt: at(day)}, h[:])
	}); !failure.Is(err, failure.Conflict) {
		t.Fatalf("a token with another token's hash: %v, want conflict", err)
	}

	// Rotation at t0+2h with a 24h overlap: "old" ends at t0+26h, "gone" (expired) stays as it was.
	now := t0.Add(2 * time.Hour)
	var n int
	if err := audited(t, s, func(tx store.Tx) (err error) {
		h := party.HashToken("new-secret")
		if err := tx.Parties().CreateToken(party.Token{ID: "new", PrincipalID: "st1", CreatedAt: now, ExpiresAt: at(92 * day)}, h[:]); err != nil {
			return err
		}
		n, err = tx.Parties().SupersedeTokens("st1", "new", now, now.Add(day))
		return err
	}); err != nil || n != 1 {
		t.Fatalf("SupersedeTokens = %d, %v; want 1 (the expired token is left alone)", n, err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		old, err := tx.Parties().GetToken("old")
		if err != nil || old.SupersededBy != "new" || !old.ExpiresAt.Equal(now.Add(day)) || old.State(now) != party.TokenOverlap || old.State(now.Add(day)) != party.TokenExpired {
			t.Errorf("the superseded token = %+v, %v", old, err)
		}
		if g, _ := tx.Parties().GetToken("gone"); g.SupersededBy != "" || !g.ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("the expired token changed: %+v", g)
		}
		live, err := tx.Parties().ListTokens(store.TokenFilter{PrincipalID: "st1", LiveAt: now})
		if err != nil || len(live) != 2 || live[0].Token.ID != "new" || live[0].Principal.Name != "station-1" {
			t.Errorf("live tokens of st1 = %+v, %v; want new then old", live, err)
		}
		all, err := tx.Parties().ListTokens(store.TokenFilter{PartyID: "fab"})
		if err != nil || len(all) != 4 {
			t.Errorf("tokens of fab = %d, %v; want 4", len(all), err)
		}
		if n, err := tx.Parties().LiveAdmins("fab", now); err != nil || n != 1 {
			t.Errorf("LiveAdmins(fab) = %d, %v; want 1", n, err)
		}
		if n, err := tx.Parties().LiveAdmins("fab", t0.Add(3*day)); err != nil || n != 0 {
			t.Errorf("LiveAdmins(fab) after its admin's token expired = %d, %v; want 0", n, err)
		}
		return nil
	})
	// An administrator bound to a claim of the party's identity provider still signs in.
	if err := audited(t, s, func(tx store.Tx) error {
		if err := tx.Signin().PutProvider(store.SigninProvider{PartyID: "fab", Issuer: "https://idp.example", ClientID: "hallmark", Claim: "sub", UpdatedBy: "adm", UpdatedAt: t0}); err != nil {
			return err
		}
		return tx.Signin().PutBinding(store.SigninBinding{PartyID: "fab", ClaimValue: "adm@fab", PrincipalID: "adm", CreatedBy: "adm", CreatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if n, err := tx.Parties().LiveAdmins("fab", t0.Add(3*day)); err != nil || n != 1 {
			t.Errorf("LiveAdmins(fab) of an administrator bound to the party's provider = %d, %v; want 1", n, err)
		}
		return nil
	})

	// Revocation: once; again is a conflict, an unknown token not found.
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().RevokeToken("new", now) }); err != nil {
		t.Fatal(err)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().RevokeToken("new", now) }); !failure.Is(err, failure.Conflict) {
		t.Errorf("revoking twice: %v, want conflict", err)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().RevokeToken("nope", now) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking an unknown token: %v, want not found", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		h := party.HashToken("new-secret")
		_, tok, err := tx.Parties().TokenByHash(h[:])
		if err != nil || tok.State(now) != party.TokenRevoked {
			t.Errorf("the revoked token reads %+v, %v", tok, err)
		}
		return nil
	})

	// Legacy tokens (no expiry) get one.
	addPrincipal(t, s, party.Principal{ID: "leg", PartyID: "fab", Name: "legacy", Kind: party.Service, CreatedAt: t0},
		party.Token{ID: "legtok", PrincipalID: "leg", CreatedAt: t0})
	if err := audited(t, s, func(tx store.Tx) error {
		if n, err := tx.Parties().LegacyTokens(); err != nil || n != 1 {
			t.Errorf("LegacyTokens = %d, %v; want 1", n, err)
		}
		if n, err := tx.Parties().SetLegacyExpiry(t0.Add(30 * day)); err != nil || n != 1 {
			t.Errorf("SetLegacyExpiry = %d, %v; want 1", n, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if tok, err := tx.Parties().GetToken("legtok"); err != nil || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(t0.Add(30*day)) {
			t.Errorf("the legacy token after SetLegacyExpiry = %+v, %v", tok, err)
		}
		return nil
	})
}

func testPrincipalLife(t *testing.T, s store.Store) {
	seedParty(t, s, "op", party.Operator)
	addPrincipal(t, s, party.Principal{ID: "p1", PartyID: "op", Name: "oscar", Kind: party.Person, CreatedAt: t0, CreatedBy: "adm", AccessID: "acc1"},
		party.Token{ID: "t1", PrincipalID: "p1", CreatedAt: t0, ExpiresAt: at(time.Hour)})
	addPrincipal(t, s, party.Principal{ID: "d1", PartyID: party.Deployment, Name: "root", Kind: party.Person, Admin: true, CreatedAt: t0})
	if err := audited(t, s, func(tx store.Tx) error {
		return tx.Duties().SetPrincipalDuties("p1", []ownership.Pair{{Stage: ownership.Operational, Duty: ownership.Issue}})
	}); err != nil {
		t.Fatal(err)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().SetDisabled("p1", at(time.Minute)) }); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		p, err := tx.Parties().GetPrincipal("p1")
		if err != nil || p.DisabledAt == nil || !p.DisabledAt.Equal(t0.Add(time.Minute)) || p.CreatedBy != "adm" || p.AccessID != "acc1" {
			t.Errorf("the disabled principal = %+v, %v", p, err)
		}
		d, err := tx.Parties().ListPrincipals(party.Deployment)
		if err != nil || len(d) != 1 || d[0].ID != "d1" || !d[0].DeploymentAdmin() {
			t.Errorf("the deployment administrators = %+v, %v", d, err)
		}
		if ps, _ := tx.Parties().ListParties(); len(ps) != 1 {
			t.Errorf("ListParties = %+v: the deployment scope is listed as a party", ps)
		}
		return nil
	})
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().SetDisabled("p1", nil) }); err != nil {
		t.Fatal(err)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().SetDisabled("nope", nil) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enabling an unknown principal: %v", err)
	}
	// A principal with sign-in bindings and sessions is deleted with them.
	if err := audited(t, s, func(tx store.Tx) error {
		if err := tx.Signin().PutProvider(store.SigninProvider{PartyID: "op", Issuer: "https://idp.example", ClientID: "hallmark", Claim: "sub", UpdatedBy: "adm", UpdatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Signin().PutBinding(store.SigninBinding{PartyID: "op", ClaimValue: "oscar@op", PrincipalID: "p1", CreatedBy: "adm", CreatedAt: t0}); err != nil {
			return err
		}
		return tx.Signin().CreateSession(store.Session{ID: "ses1", TokenHash: []byte("ses1-hash-0123456789abcdef0123456"), PrincipalID: "p1", PartyID: "op", Method: "oidc", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().DeletePrincipal("p1") }); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Signin().Binding("op", "oscar@op"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the deleted principal's binding: %v", err)
		}
		if _, err := tx.Signin().SessionByTokenHash([]byte("ses1-hash-0123456789abcdef0123456")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the deleted principal's session: %v", err)
		}
		return nil
	})
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().DeletePrincipal("p1") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Parties().GetToken("t1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the deleted principal's token: %v", err)
		}
		if ds, err := tx.Duties().PrincipalDuties("p1"); err != nil || len(ds) != 0 {
			t.Errorf("the deleted principal's duties: %v, %v", ds, err)
		}
		return nil
	})
	// Its name is free again.
	addPrincipal(t, s, party.Principal{ID: "p2", PartyID: "op", Name: "oscar", Kind: party.Person, CreatedAt: t0})
}

func testAccess(t *testing.T, s store.Store) {
	seedParty(t, s, "acme", party.Manufacturer)
	a := party.Access{ID: "acc1", PartyID: "acme", PrincipalID: "root", Reason: "lost admin", Duration: time.Hour, State: party.AccessPending,
		RequestedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().CreateAccess(a) }); err != nil {
		t.Fatal(err)
	}
	b := a
	b.ID, b.PartyID, b.RequestedAt = "acc2", "acme", t0.Add(time.Minute)
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().CreateAccess(b) }); err != nil {
		t.Fatal(err)
	}
	approved := a
	approved.State, approved.DecidedBy, approved.DecidedAt, approved.Comment, approved.Until = party.AccessApproved, "alice", at(time.Minute), "ok", at(time.Minute+time.Hour)
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().UpdateAccess(approved, party.AccessPending) }); err != nil {
		t.Fatal(err)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Parties().UpdateAccess(approved, party.AccessPending) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second decision: %v, want conflict", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Parties().GetAccess("acc1")
		if err != nil || got.State != party.AccessApproved || got.Duration != time.Hour || !got.Until.Equal(t0.Add(time.Minute+time.Hour)) || got.Comment != "ok" {
			t.Errorf("GetAccess = %+v, %v", got, err)
		}
		if !got.Open(t0.Add(time.Hour)) || got.Open(t0.Add(2*time.Hour)) {
			t.Errorf("the window of %+v", got)
		}
		l, err := tx.Parties().ListAccess(store.AccessFilter{PartyID: "acme"})
		if err != nil || len(l) != 2 || l[0].ID != "acc2" {
			t.Errorf("ListAccess = %+v, %v; want acc2 then acc1", l, err)
		}
		if _, err := tx.Parties().GetAccess("nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccess(nope) = %v", err)
		}
		return nil
	})
}
