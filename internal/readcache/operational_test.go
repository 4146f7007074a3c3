package readcache_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/readcache"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/pgtest"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

// backend opens n stores on one database (n processes' views of it) and a plain SQL handle
// on the same database, for changes made by hand.
type backend struct {
	name string
	open func(t testing.TB, n int) ([]store.Store, *sql.DB)
}

// backends is SQLite, and PostgreSQL when HALLMARK_TEST_POSTGRES names a server.
func backends() []backend {
	return []backend{{"sqlite", openSQLite}, {"postgres", openPostgres}}
}

func openSQLite(t testing.TB, n int) ([]store.Store, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hallmark.db")
	var out []store.Store
	for range n {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return out, db
}

func openPostgres(t testing.TB, n int) ([]store.Store, *sql.DB) {
	t.Helper()
	dsn := pgtest.SchemaDSN(t, "hm_rc")
	var out []store.Store
	for range n {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return out, db
}

func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

var (
	envID = "env1"
	label = "plant"
	// waiverAt is when the seeded waivers are read as active: before any of them ends.
	waiverAt = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
)

// seedEST creates what an EST renewal reads: an operator's environment claiming label, its
// onboarding and renewal policies (version 1), a manufacturer's build-record key history
// (one current, one retired key), and an active waiver for device d1.
func seedEST(t testing.TB, s store.Store) {
	t.Helper()
	der := storetest.SelfSignedForTest(t)
	at := waiverAt.Add(-time.Hour)
	if err := s.Update(ctx, func(tx store.Tx) error {
		for _, p := range []party.Party{{ID: "op", Name: "op", Kind: party.Operator, CreatedAt: at}, {ID: "acme", Name: "acme", Kind: party.Manufacturer, CreatedAt: at}} {
			if err := tx.Parties().CreateParty(p); err != nil {
				return err
			}
		}
		if err := tx.CAs().CreateCA(ca.CA{ID: "ca1", PartyID: "op", Stage: "operational", Role: ca.Root, Name: "root", KeyID: "k", CertDER: der, CreatedAt: at}); err != nil {
			return err
		}
		e := environment.Environment{ID: envID, OperatorID: "op", Name: label, IssuingCAID: "ca1", TrustDomain: "td",
			Lifetime: environment.Duration(time.Hour), MaxAge: environment.Duration(2 * time.Hour), Services: []string{"mqtt"}, CreatedAt: at}
		if err := tx.Environments().CreateEnvironment(e); err != nil {
			return err
		}
		if _, err := tx.Environments().ClaimESTName(label, envID, at); err != nil {
			return err
		}
		for _, k := range []environment.PolicyKind{environment.Onboarding, environment.Renewal} {
			if err := tx.Environments().AddPolicy(policyV(k, 1)); err != nil {
				return err
			}
		}
		if err := tx.CAs().CreateSigningKey(ca.SigningKey{ID: "sk1", PartyID: "acme", Purpose: "build-record", KeyID: "brk-1", PublicKeyDER: []byte{1}, CreatedAt: at}); err != nil {
			return err
		}
		if err := tx.KeyHistory().RotateSigningKey(ca.SigningKey{ID: "sk2", PartyID: "acme", Purpose: "build-record", KeyID: "brk-2", PublicKeyDER: []byte{2}, CreatedAt: at.Add(time.Second)}); err != nil {
			return err
		}
		if err := tx.Waivers().CreateWaiver(waiverFor("w1", "d1", "fw", at)); err != nil {
			return err
		}
		_, err := tx.Audit().Append(auditEvent())
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func policyV(k environment.PolicyKind, v int) environment.PolicyVersion {
	return environment.PolicyVersion{EnvironmentID: envID, Kind: k, Version: v, Spec: json.RawMessage(fmt.Sprintf(`{"rules":[],"v":%d}`, v)),
		CreatedBy: "x", CreatedAt: waiverAt.Add(-time.Hour).Add(time.Duration(v) * time.Second)}
}

func waiverFor(id, device, rule string, created time.Time) waiver.Waiver {
	return waiver.Waiver{ID: id, PartyID: "op", DeviceID: device, EnvironmentID: envID, Rule: rule, Reason: "r", ApprovalID: "a-" + id,
		RequestedBy: "u", NotAfter: waiverAt.Add(24 * time.Hour), CreatedAt: created}
}

// estView is what an EST renewal reads of the rows the cache now keeps.
type estView struct {
	Env      environment.Environment
	ByLabel  environment.Environment
	Renewal  environment.PolicyVersion
	Keys     []ca.SigningKey
	Waivers  []waiver.Waiver
	CAs      []ca.CA
	Lifetime time.Duration
}

func readEST(tx store.Tx) (estView, error) {
	var v estView
	var err error
	if v.Env, err = tx.Environments().GetEnvironment(envID); err != nil {
		return v, err
	}
	if v.ByLabel, err = tx.Environments().EnvironmentByLabel(label); err != nil {
		return v, err
	}
	if v.Renewal, err = tx.Environments().LatestPolicy(envID, environment.Renewal); err != nil {
		return v, err
	}
	if v.Keys, err = tx.KeyHistory().SigningKeys("acme", "build-record"); err != nil {
		return v, err
	}
	at := waiverAt
	if v.Waivers, err = tx.Waivers().ListWaivers(store.WaiverFilter{DeviceID: "d1", ActiveAt: &at}); err != nil {
		return v, err
	}
	if v.CAs, err = tx.CAs().ListCAs(""); err != nil {
		return v, err
	}
	v.Lifetime = time.Duration(v.Env.Lifetime)
	return v, nil
}

func viewEST(t testing.TB, c *readcache.Cache) estView {
	t.Helper()
	var v estView
	if err := c.ViewCached(ctx, func(tx store.Tx) (err error) { v, err = readEST(tx); return err }); err != nil {
		t.Fatal(err)
	}
	return v
}

func auditEvent() audit.Event { return audit.Event{At: time.Now(), PartyID: "op", Action: "test"} }

// changeEST changes every row readEST reads: a new renewal policy, a longer lifetime, a second
// waiver of d1, a rotated build-record key, and a second CA.
func changeEST(tx store.Tx) error {
	if err := tx.Environments().AddPolicy(policyV(environment.Renewal, 2)); err != nil {
		return err
	}
	e, err := tx.Environments().GetEnvironment(envID)
	if err != nil {
		return err
	}
	e.Lifetime = environment.Duration(3 * time.Hour)
	if err := tx.Environments().UpdateEnvironment(e); err != nil {
		return err
	}
	if err := tx.Waivers().CreateWaiver(waiverFor("w2", "d1", "age", waiverAt.Add(-time.Minute))); err != nil {
		return err
	}
	if err := tx.KeyHistory().RotateSigningKey(ca.SigningKey{ID: "sk3", PartyID: "acme", Purpose: "build-record", KeyID: "brk-3", PublicKeyDER: []byte{3}, CreatedAt: waiverAt.Add(-time.Minute)}); err != nil {
		return err
	}
	c, err := tx.CAs().GetCA("ca1")
	if err != nil {
		return err
	}
	c.ID, c.Name, c.Stage = "ca2", "maker root", "manufacturing"
	return tx.CAs().CreateCA(c)
}

// isOld and isNew tell the state before changeEST from the one after it, on every read.
func isOld(v estView) bool {
	return v.Renewal.Version == 1 && v.Lifetime == time.Hour && time.Duration(v.ByLabel.Lifetime) == time.Hour && len(v.Waivers) == 1 && len(v.Keys) == 2 && len(v.CAs) == 1
}
func isNew(v estView) bool {
	return v.Renewal.Version == 2 && v.Lifetime == 3*time.Hour && time.Duration(v.ByLabel.Lifetime) == 3*time.Hour && len(v.Waivers) == 2 && len(v.Keys) == 3 && len(v.CAs) == 2 && v.CAs[1].Name == "maker root"
}

// A change to the environment, its policy, its waivers or the key history made through
// another store handle is never seen before it commits, and is seen by every read that starts
// the bound after it committed; a replica with a long bound keeps serving what it cached.
func TestESTReadsOtherReplicaChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		st, _ := b.open(t, 3)
		seedEST(t, st[0])
		const bound = 50 * time.Millisecond
		quick := readcache.New(st[0], readcache.Config{Staleness: bound})
		slow := readcache.New(st[1], readcache.Config{Staleness: time.Hour})
		for _, c := range []*readcache.Cache{quick, slow} {
			if v := viewEST(t, c); !isOld(v) {
				t.Fatalf("first read: %+v", v)
			}
		}
		changed, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- st[2].Update(ctx, func(tx store.Tx) error { // the bare store: no cache hears of it
				if err := changeEST(tx); err != nil {
					return err
				}
				if _, err := tx.Audit().Append(auditEvent()); err != nil {
					return err
				}
				close(changed)
				select {
				case <-release:
					return nil
				case <-time.After(30 * time.Second):
					return fmt.Errorf("not released")
				}
			})
		}()
		select {
		case <-changed:
		case err := <-done:
			t.Fatalf("change: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("the change did not start within 30s")
		}
		time.Sleep(2 * bound) // the quick replica reads the epoch again: still the committed one
		if v := viewEST(t, quick); !isOld(v) {
			t.Errorf("a change not yet committed was seen: %+v", v)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("change: %v", err)
		}
		time.Sleep(bound)
		if v := viewEST(t, quick); !isNew(v) {
			t.Errorf("a change by another replica not seen %s after it committed: %+v", bound, v)
		}
		if v := viewEST(t, slow); !isOld(v) {
			t.Errorf("a replica with a bound of an hour read the rows again (it caches nothing): %+v", v)
		}
	})
}

// A change made through the cache shows at its next read, however long the bound; and a
// ViewCacheFirst of the EST reads opens no transaction once they are cached.
func TestESTReadsOwnChangeAndCacheFirst(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		st, _ := b.open(t, 1)
		seedEST(t, st[0])
		c := readcache.New(st[0], readcache.Config{Staleness: time.Hour})
		runs := 0
		first := func() estView {
			t.Helper()
			var v estView
			if err := c.ViewCacheFirst(ctx, func(tx store.Tx) (err error) { runs++; v, err = readEST(tx); return err }); err != nil {
				t.Fatal(err)
			}
			return v
		}
		if v := first(); !isOld(v) || runs != 2 {
			t.Fatalf("first read after %d runs: %+v", runs, v)
		}
		runs = 0
		if v := first(); !isOld(v) || runs != 1 {
			t.Fatalf("cached read after %d runs, want 1 (no transaction): %+v", runs, v)
		}
		if err := c.Update(ctx, func(tx store.Tx) error {
			if err := changeEST(tx); err != nil {
				return err
			}
			_, err := tx.Audit().Append(auditEvent())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if v := first(); !isNew(v) {
			t.Errorf("a change made through the cache did not show at the next read: %+v", v)
		}
		// What a caller does to what it got does not reach the cache.
		v := viewEST(t, c)
		v.Env.Services[0] = "changed"
		v.Renewal.Spec[0] = 'X'
		v.Keys[0].KeyID = "changed"
		v.Waivers[0].Rule = "changed"
		if w := viewEST(t, c); w.Env.Services[0] != "mqtt" || w.Renewal.Spec[0] != '{' || w.Keys[0].KeyID != "brk-3" || w.Waivers[0].Rule != "age" {
			t.Errorf("a caller's change reached the cache: %+v", w)
		}
	})
}

// Each table migration 0030 covers moves the epoch when changed by hand in SQL, and the
// cache sees such a change within the bound.
func TestESTTablesChangedBySQL(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		st, db := b.open(t, 1)
		seedEST(t, st[0])
		epoch := func() int64 {
			t.Helper()
			var e int64
			if err := st[0].View(ctx, func(tx store.Tx) (err error) { e, err = tx.Epochs().Epoch(store.GovernanceEpoch); return err }); err != nil {
				t.Fatal(err)
			}
			return e
		}
		const bound = 20 * time.Millisecond
		c := readcache.New(st[0], readcache.Config{Staleness: bound})
		viewEST(t, c)
		for _, q := range []string{
			`UPDATE environments SET lifetime_seconds = 7200 WHERE id = 'env1'`,
			`UPDATE est_labels SET claimed_at = claimed_at + 1 WHERE name = 'plant'`,
			`UPDATE policies SET created_by = 'by-hand' WHERE environment_id = 'env1'`,
			`UPDATE waivers SET reason = 'by hand' WHERE id = 'w1'`,
			`INSERT INTO retired_signing_keys (id, party_id, purpose, key_id, public_key_der, created_at, retired_at) VALUES ('sk0', 'acme', 'build-record', 'brk-0', X'00', 1, 2)`,
			`UPDATE retired_signing_keys SET key_id = 'brk-00' WHERE id = 'sk0'`,
			`DELETE FROM retired_signing_keys WHERE id = 'sk0'`,
			`DELETE FROM waivers WHERE id = 'w1'`,
			`UPDATE cas SET name = 'by hand' WHERE id = 'ca1'`,
		} {
			if b.name == "postgres" {
				q = strings.ReplaceAll(q, `X'00'`, `'\x00'::bytea`)
			}
			before := epoch()
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if after := epoch(); after <= before {
				t.Errorf("%s left the governance epoch at %d", q, before)
			}
		}
		time.Sleep(bound)
		v := viewEST(t, c)
		if v.Lifetime != 2*time.Hour || v.Renewal.CreatedBy != "by-hand" || len(v.Waivers) != 0 || len(v.CAs) != 1 || v.CAs[0].Name != "by hand" {
			t.Errorf("changes by hand not seen %s after they committed: %+v", bound, v)
		}
	})
}

// The waiver snapshot answers as the store does: by device, by party, at a later time (a
// waiver ends by itself), with a limit; a query at an earlier time, or with no time, reads
// through; and with more active waivers than a snapshot keeps, every query reads through.
func TestESTWaiversAnswerAsTheStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		st, _ := b.open(t, 1)
		seedEST(t, st[0])
		c := readcache.New(st[0], readcache.Config{Staleness: time.Hour})
		add := func(from, n int) {
			t.Helper()
			update(t, c, func(tx store.Tx) error { // through the cache: it drops its snapshot at once
				for i := from; i < from+n; i++ {
					w := waiverFor(fmt.Sprintf("wx%04d", i), fmt.Sprintf("d%d", i%7), "fw", waiverAt.Add(time.Duration(i)*time.Second))
					w.NotAfter = waiverAt.Add(time.Duration(i%5) * time.Hour)
					if i%3 == 0 {
						w.PartyID = "acme"
					}
					if err := tx.Waivers().CreateWaiver(w); err != nil {
						return err
					}
				}
				return nil
			})
		}
		check := func(stage string) {
			t.Helper()
			// A cache smaller than the active waivers keeps only the note that there are too many.
			small := readcache.New(st[0], readcache.Config{Staleness: time.Hour, MaxEntries: 4})
			viewEST(t, small)
			later, earlier, ended := waiverAt.Add(90*time.Minute), waiverAt.Add(-time.Hour), waiverAt.Add(48*time.Hour)
			for _, f := range []store.WaiverFilter{
				{DeviceID: "d1", ActiveAt: &waiverAt},
				{DeviceID: "d1", ActiveAt: &later},
				{DeviceID: "d3", ActiveAt: &later, Limit: 2},
				{Party: "acme", ActiveAt: &later},
				{ActiveAt: &later, Limit: 5},
				{ActiveAt: &ended},
				{DeviceID: "d1", ActiveAt: &earlier},
				{DeviceID: "d1"},
			} {
				var want, got, first []waiver.Waiver
				if err := st[0].View(ctx, func(tx store.Tx) (err error) { want, err = tx.Waivers().ListWaivers(f); return err }); err != nil {
					t.Fatal(err)
				}
				for j, cc := range []*readcache.Cache{c, small} {
					for i, out := range []*[]waiver.Waiver{&first, &got} { // filling, then filled
						if err := cc.ViewCached(ctx, func(tx store.Tx) (err error) { *out, err = tx.Waivers().ListWaivers(f); return err }); err != nil {
							t.Fatalf("%s: cache %d: query %d: %v", stage, j, i, err)
						}
					}
					if !reflect.DeepEqual(first, want) || !reflect.DeepEqual(got, want) {
						t.Errorf("%s: cache %d: %+v: the cache answered %d then %d waivers, the store %d", stage, j, f, len(first), len(got), len(want))
					}
				}
			}
		}
		// Fill the snapshot at waiverAt first, as a renewal would.
		viewEST(t, c)
		add(0, 40)
		check("few")
		add(40, 700) // more active waivers than a snapshot keeps (593 at waiverAt)
		check("many")
	})
}

// ReadOnWriter serves the cached reads from the cache and keeps what it reads through only
// when the write transaction holds no change the cache has not seen committed.
func TestReadOnWriter(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		st, db := b.open(t, 1)
		seedEST(t, st[0])
		onWriter := func(c *readcache.Cache) estView {
			t.Helper()
			var v estView
			if err := c.ReadOnWriter(ctx, func(tx store.Tx) (err error) { v, err = readEST(tx); return err }); err != nil {
				t.Fatal(err)
			}
			return v
		}
		lifetime := func(seconds int) {
			t.Helper()
			if _, err := db.Exec(fmt.Sprintf(`UPDATE environments SET lifetime_seconds = %d WHERE id = 'env1'`, seconds)); err != nil {
				t.Fatal(err)
			}
		}
		// Filled on the writer: a change by hand (which moves the epoch) is not seen by a
		// replica with an hour's bound, so the second read came from the cache.
		c := readcache.New(st[0], readcache.Config{Staleness: time.Hour})
		if v := onWriter(c); !isOld(v) {
			t.Fatalf("first read: %+v", v)
		}
		lifetime(7200)
		if v := onWriter(c); v.Lifetime != time.Hour {
			t.Errorf("the second read on the writer did not come from the cache: lifetime %s", v.Lifetime)
		}
		// A transaction whose epoch is not the one the cache observed keeps nothing: here a
		// new cache observed the epoch, then a change by hand moved it.
		fresh := readcache.New(st[0], readcache.Config{Staleness: time.Hour})
		if err := fresh.ViewCached(ctx, func(store.Tx) error { return nil }); err != nil { // observes the epoch, caches nothing
			t.Fatal(err)
		}
		lifetime(10800)
		if v := onWriter(fresh); v.Lifetime != 3*time.Hour {
			t.Fatalf("read through: lifetime %s, want 3h", v.Lifetime)
		}
		lifetime(14400)
		if v := onWriter(fresh); v.Lifetime != 4*time.Hour {
			t.Errorf("a read made under an epoch the cache had not observed was kept: lifetime %s, want 4h", v.Lifetime)
		}
	})
}
