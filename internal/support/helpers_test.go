package support_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
	"github.com/hallmark-id/hallmark/internal/support"
)

var (
	ctx   = context.Background()
	admin = audit.Actor{PartyID: party.Deployment, PrincipalID: "prn-root", Admin: true} // a deployment administrator
)

// world is the support service over a real SQLite store and file key provider, wired to
// governance as the server wires it (an approved grant is issued, a denied one recorded).
//
// Parties (created through governance) and principals: manufacturers acme (alice) and globex
// (gina), support vendor vend (victor), operators op (oscar, olga) and op2 (ozzie). op runs
// environment e1 (support windows up to 8h) with a support CA; op2 runs e2 without one.
// Devices: d1, d2 of acme's lot l1 and d5 of globex's lot g1, held by op in e1; d3 of l1, held
// by op2 in e2.
type world struct {
	st     store.Store
	gov    *governance.Service
	svc    *support.Service
	clock  *clock
	actors map[string]audit.Actor
}

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

var (
	linterOnce sync.Once
	linter     *issuance.Linter
	linterErr  error
)

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kp, err := keyfile.New(filepath.Join(dir, "keys"), keys.Secret("support-test"))
	if err != nil {
		t.Fatal(err)
	}
	linterOnce.Do(func() { linter, linterErr = issuance.NewLinter() })
	if linterErr != nil {
		t.Fatal(linterErr)
	}
	w := &world{st: st, clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, actors: map[string]audit.Actor{}}
	auth := authority.New(authority.Config{Store: st, Keys: kp, Linter: linter, Now: w.clock.Now, Rand: rand.Reader})
	w.gov = governance.New(governance.Config{Store: st, Now: w.clock.Now})
	w.svc = support.New(support.Config{Store: st, Authority: auth, RootLife: 10 * 365 * 24 * time.Hour, IssuingLife: 5 * 365 * 24 * time.Hour})
	w.gov.OnApproved(approval.SupportGrant, w.svc.IssueApproved)
	w.gov.OnDenied(approval.SupportGrant, w.svc.Denied)

	partyAdmins := map[string]audit.Actor{}
	for _, p := range []governance.CreatePartyRequest{
		{ID: "acme", Name: "Acme", Kind: party.Manufacturer},
		{ID: "globex", Name: "Globex", Kind: party.Manufacturer},
		{ID: "vend", Name: "Vendor", Kind: party.SupportVendor},
		{ID: "op", Name: "Operator", Kind: party.Operator},
		{ID: "op2", Name: "Operator Two", Kind: party.Operator},
	} {
		if _, err := w.gov.CreateParty(ctx, admin, p); err != nil {
			t.Fatalf("creating party %s: %v", p.ID, err)
		}
		// Its first administrator, who creates its other principals.
		pa, _, err := w.gov.CreatePrincipal(ctx, admin, governance.CreatePrincipalRequest{PartyID: p.ID, Name: "admin", Admin: true})
		if err != nil {
			t.Fatal(err)
		}
		partyAdmins[p.ID] = governance.Actor(pa)
	}
	for name, partyID := range map[string]string{"alice": "acme", "gina": "globex", "victor": "vend", "oscar": "op", "olga": "op", "ozzie": "op2"} {
		p, _, err := w.gov.CreatePrincipal(ctx, partyAdmins[partyID], governance.CreatePrincipalRequest{PartyID: partyID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		w.actors[name] = governance.Actor(p)
	}
	now := w.clock.Now()
	der := storetest.SelfSignedForTest(t)
	w.seed(t, func(tx store.Tx) error {
		for _, c := range []ca.CA{
			{ID: "ca-acme", PartyID: "acme", Stage: "manufacturing", Role: ca.Issuing, Name: "acme", KeyID: "k1", CertDER: der, CreatedAt: now},
			{ID: "ca-globex", PartyID: "globex", Stage: "manufacturing", Role: ca.Issuing, Name: "globex", KeyID: "k2", CertDER: der, CreatedAt: now},
			{ID: "ca-op", PartyID: "op", Stage: "operational", Role: ca.Issuing, Name: "op", KeyID: "k3", CertDER: der, CreatedAt: now},
			{ID: "ca-op2", PartyID: "op2", Stage: "operational", Role: ca.Issuing, Name: "op2", KeyID: "k4", CertDER: der, CreatedAt: now},
		} {
			if err := tx.CAs().CreateCA(c); err != nil {
				return err
			}
		}
		for _, e := range []environment.Environment{
			{ID: "e1", OperatorID: "op", Name: "plant", IssuingCAID: "ca-op", TrustDomain: "op.example", Lifetime: environment.Duration(24 * time.Hour), MaxAge: environment.Duration(time.Hour), SupportMaxWindow: environment.Duration(8 * time.Hour), CreatedAt: now},
			{ID: "e2", OperatorID: "op2", Name: "depot", IssuingCAID: "ca-op2", TrustDomain: "op2.example", Lifetime: environment.Duration(24 * time.Hour), MaxAge: environment.Duration(time.Hour), SupportMaxWindow: environment.Duration(8 * time.Hour), CreatedAt: now},
		} {
			if err := tx.Environments().CreateEnvironment(e); err != nil {
				return err
			}
		}
		for _, m := range []device.Model{{ID: "m1", ManufacturerID: "acme", Name: "sensor", HardwareType: "1.3.6.1.4.1.99999.1", CreatedAt: now}, {ID: "mg", ManufacturerID: "globex", Name: "gauge", HardwareType: "1.3.6.1.4.1.99999.2", CreatedAt: now}} {
			if err := tx.Catalog().CreateModel(m); err != nil {
				return err
			}
		}
		for _, l := range []device.Lot{{ID: "l1", ManufacturerID: "acme", ModelID: "m1", Name: "l1", Line: "a", IssuingCAID: "ca-acme", CreatedAt: now}, {ID: "g1", ManufacturerID: "globex", ModelID: "mg", Name: "g1", Line: "a", IssuingCAID: "ca-globex", CreatedAt: now}} {
			if err := tx.Catalog().CreateLot(l); err != nil {
				return err
			}
		}
		for _, d := range []device.Device{
			{ID: "d1", ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: "SN-1", CustodianID: "op", EnvironmentID: "e1"},
			{ID: "d2", ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: "SN-2", CustodianID: "op", EnvironmentID: "e1"},
			{ID: "d3", ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: "SN-3", CustodianID: "op2", EnvironmentID: "e2"},
			{ID: "d5", ManufacturerID: "globex", ModelID: "mg", LotID: "g1", Serial: "SN-5", CustodianID: "op", EnvironmentID: "e1"},
		} {
			d.State, d.CreatedAt, d.UpdatedAt = device.Active, now, now
			if err := tx.Devices().CreateDevice(d); err != nil {
				return err
			}
		}
		return nil
	})
	if _, _, err := w.svc.CreateHierarchy(ctx, w.actors["oscar"], support.CreateHierarchyRequest{OperatorID: "op", Name: "op-support"}); err != nil {
		t.Fatalf("creating op's support CAs: %v", err)
	}
	return w
}

// seed writes directly to the store, with the audit event every transaction carries.
func (w *world) seed(t *testing.T, fn func(tx store.Tx) error) {
	t.Helper()
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: w.clock.Now(), PartyID: "test", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// csrPEM is a fresh engineer key's PKCS#10 request, PEM.
func csrPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "engineer"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// request is a four-hour grant over devices in e1, starting now.
func (w *world) request(t *testing.T, devices ...string) support.Request {
	t.Helper()
	return support.Request{EnvironmentID: "e1", Devices: devices, Reason: "firmware crash on site", NotAfter: w.clock.Now().Add(4 * time.Hour), CSR: csrPEM(t)}
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

// wantErr fails unless err is of kind k and its message holds msg.
func wantErr(t *testing.T, err error, k failure.Kind, msg string) {
	t.Helper()
	if err == nil || !failure.Is(err, k) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("err = %v, want %s containing %q", err, k, msg)
	}
}

func errOnly[T any](_ T, err error) error { return err }
