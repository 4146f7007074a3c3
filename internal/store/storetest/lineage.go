package storetest

import (
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Principal lineage (migration 0031): who created each principal, kept after it is deleted,
// for the independent-approver rule (internal/governance).

var lineageTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"LineageSurvivesDeletion", testLineageSurvivesDeletion},
	{"DeploymentCreations", testDeploymentCreations},
}

// testLineageSurvivesDeletion: creating a principal records its party, creator and creation
// time; deleting it keeps that record; a deleted principal's id is not reused; an id never
// recorded is not found.
func testLineageSurvivesDeletion(t *testing.T, s store.Store) {
	seedParty(t, s, "acme", party.Manufacturer)
	_, hash := party.NewToken()
	exp := t0.Add(24 * time.Hour)
	at := t0.Add(90 * time.Second)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().CreatePrincipal(party.Principal{ID: "prn_lead", PartyID: "acme", Name: "lead", Kind: party.Person, Admin: true, CreatedAt: t0, CreatedBy: "prn_root"}); err != nil {
			return err
		}
		if err := tx.Parties().CreatePrincipal(party.Principal{ID: "prn_bob", PartyID: "acme", Name: "bob", Kind: party.Person, CreatedAt: at, CreatedBy: "prn_lead"}); err != nil {
			return err
		}
		if err := tx.Parties().CreateToken(party.Token{ID: "tok_bob", PrincipalID: "prn_bob", CreatedAt: at, CreatedBy: "prn_lead", ExpiresAt: &exp}, hash[:]); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("principal.create"))
		return err
	})
	want := store.PrincipalLineage{PrincipalID: "prn_bob", PartyID: "acme", CreatedBy: "prn_lead", CreatedAt: at}
	check := func(when string) {
		t.Helper()
		_ = s.View(ctx, func(tx store.Tx) error {
			got, err := tx.Parties().PrincipalLineage("prn_bob")
			if err != nil || got.PrincipalID != want.PrincipalID || got.PartyID != want.PartyID || got.CreatedBy != want.CreatedBy || !got.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("lineage of bob %s = %+v, %v; want %+v", when, got, err, want)
			}
			if _, err := tx.Parties().PrincipalLineage("prn_never"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("lineage of a principal never made = %v, want not found", err)
			}
			return nil
		})
	}
	check("after its creation")

	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().DeletePrincipal("prn_bob"); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("principal.delete"))
		return err
	})
	_ = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Parties().GetPrincipal("prn_bob"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob after its deletion: %v, want not found", err)
		}
		return nil
	})
	check("after its deletion")

	// A deleted principal's id is not given to another principal: its lineage would lie.
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().CreatePrincipal(party.Principal{ID: "prn_bob", PartyID: "acme", Name: "bob2", Kind: party.Person, CreatedAt: at, CreatedBy: "prn_root"}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("principal.create"))
		return err
	})
	if err == nil {
		t.Errorf("a new principal took the id of deleted bob")
	}
	check("after a refused reuse of its id")
}

// testDeploymentCreations: DeploymentCreations lists, oldest first, the principals of one
// party that a deployment administrator created since a time, deleted ones included; not
// those its own administrators created, not another party's, not older ones, and not a
// principal whose creator was never recorded.
func testDeploymentCreations(t *testing.T, s store.Store) {
	seedParty(t, s, "acme", party.Manufacturer)
	seedParty(t, s, "globex", party.Operator)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	addPrincipal(t, s, party.Principal{ID: "prn_root", PartyID: party.Deployment, Name: "root", Kind: party.Person, Admin: true, CreatedAt: t0})
	for _, p := range []party.Principal{
		{ID: "prn_a1", PartyID: "acme", Name: "a1", Admin: true, CreatedAt: at(1), CreatedBy: "prn_root"},
		{ID: "prn_a2", PartyID: "acme", Name: "a2", CreatedAt: at(2), CreatedBy: "prn_a1"},     // by the party
		{ID: "prn_a3", PartyID: "acme", Name: "a3", CreatedAt: at(5), CreatedBy: "prn_root"},   // deleted below
		{ID: "prn_a4", PartyID: "acme", Name: "a4", CreatedAt: at(4), CreatedBy: "prn_ghost"},  // creator never recorded
		{ID: "prn_g1", PartyID: "globex", Name: "g1", CreatedAt: at(3), CreatedBy: "prn_root"}, // another party
	} {
		p.Kind = party.Person
		addPrincipal(t, s, p)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().DeletePrincipal("prn_a3"); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("principal.delete"))
		return err
	})
	for _, c := range []struct {
		party string
		since time.Time
		want  []time.Time
	}{
		{"acme", t0, []time.Time{at(1), at(5)}},
		{"acme", at(1), []time.Time{at(1), at(5)}},
		{"acme", at(2), []time.Time{at(5)}},
		{"acme", at(6), nil},
		{"globex", t0, []time.Time{at(3)}},
		{"initech", t0, nil},
	} {
		_ = s.View(ctx, func(tx store.Tx) error {
			got, err := tx.Parties().DeploymentCreations(c.party, c.since)
			ok := err == nil && len(got) == len(c.want)
			for i := 0; ok && i < len(got); i++ {
				ok = got[i].Equal(c.want[i])
			}
			if !ok {
				t.Errorf("DeploymentCreations(%s, %s) = %v, %v; want %v", c.party, c.since, got, err, c.want)
			}
			return nil
		})
	}
}

// SeedBeforeLineage writes, into a database migrated to just before 0031, two principals
// (prn_lead, made by prn_root, and prn_carl, made by prn_bob) and the audit log of a third,
// prn_bob, deleted before the upgrade: its principal.create event by prn_lead, then a later
// principal.create naming it again by prn_other (the first one counts), its deletion, and a
// principal.create without a principal id. ph is the dialect's first placeholder ("?" or
// "$1").
func SeedBeforeLineage(t *testing.T, db *sql.DB, ph string) {
	t.Helper()
	execSeed(t, db, ph, []seedStmt{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('acme', 'Acme', 'manufacturer', 1)`, nil},
		{`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at, created_by) VALUES ('prn_lead', 'acme', 'lead', 'person', 1, ?, 1000000, 'prn_root')`, []byte("lead")},
		{`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at, created_by) VALUES ('prn_carl', 'acme', 'carl', 'person', 0, ?, 3000000, 'prn_bob')`, []byte("carl")},
		{`INSERT INTO audit_events (seq, at, party_id, principal_id, action, scope, subject) VALUES (1, 1000000, '*', 'prn_root', 'principal.create', 'party:acme', 'principal:prn_lead')`, nil},
		{`INSERT INTO audit_events (seq, at, party_id, principal_id, action, scope, subject) VALUES (2, 2000000, 'acme', 'prn_lead', 'principal.create', 'party:acme', 'principal:prn_bob')`, nil},
		{`INSERT INTO audit_events (seq, at, party_id, principal_id, action, scope, subject) VALUES (3, 2500000, 'acme', 'prn_other', 'principal.create', 'party:acme', 'principal:prn_bob')`, nil},
		{`INSERT INTO audit_events (seq, at, party_id, principal_id, action, scope, subject) VALUES (4, 3000000, 'acme', 'prn_bob', 'principal.create', 'party:acme', 'principal:prn_carl')`, nil},
		{`INSERT INTO audit_events (seq, at, party_id, principal_id, action, scope, subject) VALUES (5, 4000000, 'acme', 'prn_lead', 'principal.delete', 'party:acme', 'principal:prn_bob')`, nil},
		{`INSERT INTO audit_events (seq, at, party_id, principal_id, action, scope, subject) VALUES (6, 5000000, 'acme', 'prn_lead', 'principal.create', 'party:acme', 'principal:')`, nil},
		// The events are the log's first, folded into the audit tree at the first write.
		{`UPDATE audit_head SET size = (SELECT MAX(seq) FROM audit_events) WHERE id = 1`, nil},
	})
}

// CheckLineageUpgrade checks a store opened on what SeedBeforeLineage wrote: the principals
// have their lineage from their rows, deleted prn_bob from its first principal.create event,
// and a principal made after the upgrade gets one too.
func CheckLineageUpgrade(t *testing.T, s store.Store) {
	t.Helper()
	want := map[string]store.PrincipalLineage{
		"prn_lead": {PrincipalID: "prn_lead", PartyID: "acme", CreatedBy: "prn_root", CreatedAt: time.UnixMicro(1000000).UTC()},
		"prn_carl": {PrincipalID: "prn_carl", PartyID: "acme", CreatedBy: "prn_bob", CreatedAt: time.UnixMicro(3000000).UTC()},
		"prn_bob":  {PrincipalID: "prn_bob", PartyID: "acme", CreatedBy: "prn_lead", CreatedAt: time.UnixMicro(2000000).UTC()},
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().CreatePrincipal(party.Principal{ID: "prn_dan", PartyID: "acme", Name: "dan", Kind: party.Person, CreatedAt: t0, CreatedBy: "prn_carl"}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("principal.create"))
		return err
	})
	want["prn_dan"] = store.PrincipalLineage{PrincipalID: "prn_dan", PartyID: "acme", CreatedBy: "prn_carl", CreatedAt: t0}
	_ = s.View(ctx, func(tx store.Tx) error {
		for id, w := range want {
			got, err := tx.Parties().PrincipalLineage(id)
			if err != nil || got != w {
				t.Errorf("lineage of %s after the upgrade = %+v, %v; want %+v", id, got, err, w)
			}
		}
		if got, err := tx.Parties().PrincipalLineage(""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("lineage of the empty id = %+v, %v; want not found", got, err)
		}
		return nil
	})
}
