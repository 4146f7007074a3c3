package manufacturing_test

import (
	"context"
	"crypto"
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

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

var (
	ctx   = context.Background()
	admin = audit.Actor{PartyID: party.Deployment, PrincipalID: "prn-root", Admin: true} // a deployment administrator

	linterOnce sync.Once
	linter     *issuance.Linter
	linterErr  error
)

// world is the manufacturing service over a real SQLite store and file key provider, with
// parties created through governance: manufacturers acme (principals alice, bob) and globex
// (gina), contract manufacturer cm (cindy) and operator op (oscar).
type world struct {
	st     store.Store
	dbPath string // the SQLite file under st
	auth   *authority.Authority
	gov    *governance.Service
	svc    *manufacturing.Service
	keys   string // the key provider's folder
	now    time.Time
	actors map[string]audit.Actor
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kp, err := keyfile.New(filepath.Join(dir, "keys"), keys.Secret("manufacturing-test"))
	if err != nil {
		t.Fatal(err)
	}
	linterOnce.Do(func() { linter, linterErr = issuance.NewLinter() })
	if linterErr != nil {
		t.Fatal(linterErr)
	}
	w := &world{st: st, dbPath: filepath.Join(dir, "hallmark.db"), keys: filepath.Join(dir, "keys"), now: time.Now().UTC().Truncate(time.Second), actors: map[string]audit.Actor{}}
	clock := func() time.Time { return w.now }
	w.auth = authority.New(authority.Config{Store: st, Keys: kp, Linter: linter, Now: clock, Rand: rand.Reader})
	w.gov = governance.New(governance.Config{Store: st, Now: clock})
	w.svc = manufacturing.New(manufacturing.Config{Store: st, Authority: w.auth, Keys: kp, RootLife: 10 * 365 * 24 * time.Hour, IssuingLife: 5 * 365 * 24 * time.Hour})
	partyAdmins := map[string]audit.Actor{}
	for _, p := range []governance.CreatePartyRequest{
		{ID: "acme", Name: "Acme", Kind: party.Manufacturer},
		{ID: "globex", Name: "Globex", Kind: party.Manufacturer},
		{ID: "cm", Name: "Contract Works", Kind: party.ContractManufacturer},
		{ID: "op", Name: "Operator", Kind: party.Operator},
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
	for name, partyID := range map[string]string{"alice": "acme", "bob": "acme", "gina": "globex", "cindy": "cm", "oscar": "op"} {
		p, _, err := w.gov.CreatePrincipal(ctx, partyAdmins[partyID], governance.CreatePrincipalRequest{PartyID: partyID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		w.actors[name] = governance.Actor(p)
	}
	return w
}

// replica is a second manufacturing service over w's database and key folder, with its own
// authority, key provider and caches: another `hallmark serve` of the same deployment.
func (w *world) replica(t *testing.T) *manufacturing.Service {
	t.Helper()
	kp, err := keyfile.New(w.keys, keys.Secret("manufacturing-test"))
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return w.now }
	auth := authority.New(authority.Config{Store: w.st, Keys: kp, Linter: linter, Now: clock, Rand: rand.Reader})
	return manufacturing.New(manufacturing.Config{Store: w.st, Authority: auth, Keys: kp, RootLife: 10 * 365 * 24 * time.Hour, IssuingLife: 5 * 365 * 24 * time.Hour})
}

// line is an acme hierarchy with model "sensor" and lot "lot-1" (line "a"), its issuance
// delegated to cm when delegate is set.
type line struct {
	root, issuing ca.CA
	model         device.Model
	lot           device.Lot
}

func (w *world) line(t *testing.T, delegate bool) line {
	t.Helper()
	var l line
	var err error
	if l.root, l.issuing, err = w.svc.CreateHierarchy(ctx, w.actors["alice"], manufacturing.CreateHierarchyRequest{ManufacturerID: "acme", Name: "acme-mfg", CRLPartitions: 4}); err != nil {
		t.Fatal(err)
	}
	if l.model, err = w.svc.CreateModel(ctx, w.actors["alice"], manufacturing.CreateModelRequest{ManufacturerID: "acme", Name: "sensor"}); err != nil {
		t.Fatal(err)
	}
	r := manufacturing.CreateLotRequest{ModelID: l.model.ID, Name: "lot-1", Line: "a", IssuingCAID: l.issuing.ID}
	if delegate {
		r.DelegateTo = "cm"
	}
	if l.lot, err = w.svc.CreateLot(ctx, w.actors["alice"], r); err != nil {
		t.Fatal(err)
	}
	return l
}

// csrPEM is a fresh device key's PKCS#10 request, PEM.
func csrPEM(t *testing.T) (crypto.Signer, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// record is what the factory asserts about device serial of lot-1.
func (w *world) record(serial string) buildrecord.Record {
	return buildrecord.Record{Manufacturer: "acme", Model: "sensor", Serial: serial, Lot: "lot-1", Line: "a",
		FirmwareDigest: buildrecord.Digest{SHA256: strings.Repeat("ab", 32)}, TestResult: buildrecord.TestPass, BuiltAt: w.now.Add(-time.Hour)}
}

// issue issues the factory identity of serial in lot l as who.
func (w *world) issue(t *testing.T, who string, l line, serial string) manufacturing.FactoryIdentity {
	t.Helper()
	_, c := csrPEM(t)
	fi, err := w.svc.IssueFactory(ctx, w.actors[who], manufacturing.IssueFactoryRequest{LotID: l.lot.ID, CSR: c, BuildRecord: w.record(serial)})
	if err != nil {
		t.Fatalf("issuing %s: %v", serial, err)
	}
	return fi
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

func (w *world) device(t *testing.T, id string) device.Device {
	t.Helper()
	var d device.Device
	if err := w.st.View(ctx, func(tx store.Tx) (err error) { d, err = tx.Devices().GetDevice(id); return err }); err != nil {
		t.Fatal(err)
	}
	return d
}

func (w *world) certState(t *testing.T, serialHex string) ca.CertState {
	t.Helper()
	serial, ok := ca.ParseSerialHex(serialHex)
	if !ok {
		t.Fatalf("serial %q", serialHex)
	}
	var c ca.Cert
	if err := w.st.View(ctx, func(tx store.Tx) (err error) { c, err = tx.Certificates().GetCert(serial); return err }); err != nil {
		t.Fatal(err)
	}
	return c.State
}

// wantErr fails unless err is of kind k and its message holds msg.
func wantErr(t *testing.T, err error, k failure.Kind, msg string) {
	t.Helper()
	if err == nil || !failure.Is(err, k) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("err = %v, want %s containing %q", err, k, msg)
	}
}

func errOnly[T any](_ T, err error) error { return err }
