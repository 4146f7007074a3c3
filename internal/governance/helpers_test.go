package governance_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	// admin is a deployment administrator (it needs no stored principal: actors are trusted
	// here, tokens are tested through Authenticate).
	admin = audit.Actor{PartyID: party.Deployment, PrincipalID: "prn-root", Admin: true}
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// world is a governance service over a real SQLite store. An administrator created, through
// the service, manufacturer acme (principals alice, bob, carol), contract manufacturer cm
// (principal cindy), operator op (principal oscar) and auditor aud (principal audrey); acme
// has model m1 with lots l1 and l2, seeded in the store as manufacturing would.
type world struct {
	st     store.Store
	svc    *governance.Service
	clock  *clock
	actors map[string]audit.Actor // by principal name
	tokens map[string]string      // by principal name
	admins map[string]audit.Actor // each party's first administrator, by party
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{st: st, clock: &clock{now: t0}, actors: map[string]audit.Actor{}, tokens: map[string]string{}, admins: map[string]audit.Actor{}}
	w.svc = governance.New(governance.Config{Store: st, Now: w.clock.Now})
	for _, p := range []governance.CreatePartyRequest{
		{ID: "hq", Name: "Headquarters", Kind: party.Distributor},
		{ID: "acme", Name: "Acme", Kind: party.Manufacturer},
		{ID: "cm", Name: "Contract Works", Kind: party.ContractManufacturer},
		{ID: "op", Name: "Operator", Kind: party.Operator},
		{ID: "aud", Name: "Auditors", Kind: party.Auditor},
	} {
		if _, err := w.svc.CreateParty(ctx, admin, p); err != nil {
			t.Fatalf("creating party %s: %v", p.ID, err)
		}
		// The deployment administrator creates each party's first administrator.
		a, _, err := w.svc.CreatePrincipal(ctx, admin, governance.CreatePrincipalRequest{PartyID: p.ID, Name: "admin", Admin: true})
		if err != nil {
			t.Fatalf("creating the administrator of %s: %v", p.ID, err)
		}
		w.admins[p.ID] = governance.Actor(a)
	}
	for name, partyID := range map[string]string{"alice": "acme", "bob": "acme", "carol": "acme", "cindy": "cm", "oscar": "op", "audrey": "aud"} {
		p, token, err := w.svc.CreatePrincipal(ctx, w.admins[partyID], governance.CreatePrincipalRequest{PartyID: partyID, Name: name})
		if err != nil {
			t.Fatalf("creating principal %s: %v", name, err)
		}
		w.actors[name], w.tokens[name] = governance.Actor(p), token.Secret
	}
	w.seed(t, func(tx store.Tx) error {
		if err := tx.CAs().CreateCA(ca.CA{ID: "ca1", PartyID: "acme", Stage: "manufacturing", Role: ca.Issuing, Name: "acme", KeyID: "k", CertDER: storetest.SelfSignedForTest(t), CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Catalog().CreateModel(device.Model{ID: "m1", ManufacturerID: "acme", Name: "sensor", HardwareType: "1.3.6.1.4.1.99999.1", CreatedAt: t0}); err != nil {
			return err
		}
		for _, l := range []string{"l1", "l2"} {
			if err := tx.Catalog().CreateLot(device.Lot{ID: l, ManufacturerID: "acme", ModelID: "m1", Name: l, Line: "a", IssuingCAID: "ca1", CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	return w
}

// seed writes directly to the store, with the audit event every transaction carries.
func (w *world) seed(t *testing.T, fn func(tx store.Tx) error) {
	t.Helper()
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "test", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// events is the number of audit events: a refused call leaves it as it was.
func (w *world) events(t *testing.T) int {
	t.Helper()
	n := 0
	if err := w.st.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Audit().List(0, 100000)
		n = len(evs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// lastEvent is the newest audit event.
func (w *world) lastEvent(t *testing.T) audit.Event {
	t.Helper()
	var last audit.Event
	if err := w.st.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Audit().List(0, 100000)
		if len(evs) > 0 {
			last = evs[len(evs)-1]
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return last
}

// require runs governance.Require in a read transaction.
func (w *world) require(who string, stage ownership.Stage, duty ownership.Duty, chain ownership.Chain) error {
	return w.st.View(ctx, func(tx store.Tx) error { return governance.Require(tx, w.actors[who], stage, duty, chain) })
}

func lot(id string) device.Lot { return device.Lot{ID: id, ModelID: "m1", ManufacturerID: "acme"} }

// wantErr fails unless err is of kind k and its message holds msg.
func wantErr(t *testing.T, err error, k failure.Kind, msg string) {
	t.Helper()
	if err == nil || !failure.Is(err, k) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("err = %v, want %s containing %q", err, k, msg)
	}
}

// wantDenied fails unless err is an ownership refusal naming owner.
func wantDenied(t *testing.T, err error, owner string) {
	t.Helper()
	var d *ownership.DeniedError
	if !errors.As(err, &d) || d.Owner != owner {
		t.Fatalf("err = %v, want a not-owner refusal naming owner %q", err, owner)
	}
}
