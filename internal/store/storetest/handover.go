package storetest

import (
	"database/sql"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Hand-over tokens (migration 0033): each token row says whether it is a hand-over token
// (party.Token.Handover), set when it is minted; older rows get it from who minted them.

// SeedBeforeHandover writes, into a database migrated to just before 0033 (ph is the
// dialect's placeholder), a deployment administrator (prn_root), another one it made
// (prn_ops), one deleted (prn_gone: lineage only) and a party acme whose first administrator
// prn_first prn_root made, with tokens minted by each.
func SeedBeforeHandover(t *testing.T, db *sql.DB, ph string) {
	t.Helper()
	tok := func(id, principal, by string) seedStmt {
		return seedStmt{`INSERT INTO principal_tokens (id, principal_id, token_hash, created_at, created_by, expires_at) VALUES ('` + id + `', '` + principal + `', ?, 1000000, '` + by + `', 9000000000000000)`, []byte("hash-" + id)}
	}
	execSeed(t, db, ph, []seedStmt{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('acme', 'Acme', 'manufacturer', 1)`, nil},
		{`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at, created_by) VALUES ('prn_root', '*', 'root', 'person', 1, ?, 1000000, '')`, []byte("root")},
		{`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at, created_by) VALUES ('prn_ops', '*', 'ops', 'person', 1, ?, 1000000, 'prn_root')`, []byte("ops")},
		{`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at, created_by) VALUES ('prn_first', 'acme', 'admin', 'person', 1, ?, 1000000, 'prn_root')`, []byte("first")},
		{`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at, created_by) VALUES ('prn_bob', 'acme', 'bob', 'person', 0, ?, 1000000, 'prn_first')`, []byte("bob")},
		{`INSERT INTO principal_lineage (principal_id, party_id, created_by, created_at) VALUES ('prn_gone', '*', 'prn_root', 1000000)`, nil},
		tok("tok_first", "prn_first", "prn_root"), // the hand-over
		tok("tok_first_own", "prn_first", "prn_first"),
		tok("tok_bob", "prn_bob", "prn_first"),
		tok("tok_bob_glass", "prn_bob", "prn_gone"), // under break-glass, by an administrator since deleted
		tok("tok_ops", "prn_ops", "prn_root"),       // a deployment administrator's own
		tok("tok_bob_legacy", "prn_bob", ""),
	})
}

// CheckHandoverUpgrade checks a store opened on what SeedBeforeHandover wrote: exactly the
// tokens a deployment administrator minted for acme's principals are hand-over tokens, and a
// token stored after the upgrade keeps the flag it was minted with, read by ID, by hash and
// in lists.
func CheckHandoverUpgrade(t *testing.T, s store.Store) {
	t.Helper()
	want := map[string]bool{"tok_first": true, "tok_first_own": false, "tok_bob": false, "tok_bob_glass": true, "tok_ops": false, "tok_bob_legacy": false}
	exp := t0.Add(72 * time.Hour)
	_, hash := party.NewToken()
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().CreateToken(party.Token{ID: "tok_new", PrincipalID: "prn_bob", CreatedAt: t0, CreatedBy: "prn_bob", ExpiresAt: &exp, Handover: true}, hash[:]); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("principal.token.rotate"))
		return err
	})
	want["tok_new"] = true
	_ = s.View(ctx, func(tx store.Tx) error {
		for id, w := range want {
			got, err := tx.Parties().GetToken(id)
			if err != nil || got.Handover != w {
				t.Errorf("token %s after the upgrade: handover %v, %v; want %v", id, got.Handover, err, w)
			}
		}
		list, err := tx.Parties().ListTokens(store.TokenFilter{PartyID: "acme"})
		if err != nil || len(list) != 6 {
			t.Fatalf("acme's tokens: %d, %v; want 6", len(list), err)
		}
		for _, pt := range list {
			if pt.Token.Handover != want[pt.Token.ID] {
				t.Errorf("listed token %s: handover %v, want %v", pt.Token.ID, pt.Token.Handover, want[pt.Token.ID])
			}
		}
		if _, tok, err := tx.Parties().TokenByHash(hash[:]); err != nil || tok.ID != "tok_new" || !tok.Handover {
			t.Errorf("the new token by hash: %+v, %v; want tok_new, a hand-over token", tok, err)
		}
		return nil
	})
}
