package rotation_test

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
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/rotation"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

var (
	ctx   = context.Background()
	admin = audit.Actor{PartyID: party.Deployment, PrincipalID: "prn-root", Admin: true} // the deployment administrator
)

type world struct {
	st     store.Store
	mfg    *manufacturing.Service
	rot    *rotation.Service
	now    time.Time
	actors map[string]audit.Actor
}

// newWorld is the rotation service over a real SQLite store and file keys, with manufacturers
// acme (alice) and globex (gina) and operator op (oscar).
func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kp, err := keyfile.New(filepath.Join(dir, "keys"), keys.Secret("rotation-test"))
	if err != nil {
		t.Fatal(err)
	}
	linter, err := issuance.NewLinter()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{st: st, now: time.Now().UTC().Truncate(time.Second), actors: map[string]audit.Actor{}}
	clock := func() time.Time { return w.now }
	auth := authority.New(authority.Config{Store: st, Keys: kp, Linter: linter, Now: clock, Rand: rand.Reader})
	gov := governance.New(governance.Config{Store: st, Now: clock})
	w.mfg = manufacturing.New(manufacturing.Config{Store: st, Authority: auth, Keys: kp, RootLife: 10 * 365 * 24 * time.Hour, IssuingLife: 5 * 365 * 24 * time.Hour})
	w.rot = rotation.New(rotation.Config{Store: st, Authority: auth})
	for _, p := range []governance.CreatePartyRequest{
		{ID: "acme", Name: "Acme", Kind: party.Manufacturer},
		{ID: "globex", Name: "Globex", Kind: party.Manufacturer},
		{ID: "op", Name: "Operator", Kind: party.Operator},
	} {
		if _, err := gov.CreateParty(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
	}
	// The deployment administrator makes each party's first administrator, who makes the rest.
	for name, partyID := range map[string]string{"alice": "acme", "gina": "globex", "oscar": "op"} {
		padm, _, err := gov.CreatePrincipal(ctx, admin, governance.CreatePrincipalRequest{PartyID: partyID, Name: "admin", Admin: true})
		if err != nil {
			t.Fatal(err)
		}
		w.actors[partyID+"/admin"] = governance.Actor(padm)
		p, _, err := gov.CreatePrincipal(ctx, governance.Actor(padm), governance.CreatePrincipalRequest{PartyID: partyID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		w.actors[name] = governance.Actor(p)
	}
	return w
}

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

func (w *world) issue(t *testing.T, lotID, serial string) manufacturing.FactoryIdentity {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: serial}}, k)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := w.mfg.IssueFactory(ctx, w.actors["alice"], manufacturing.IssueFactoryRequest{LotID: lotID, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		BuildRecord: buildrecord.Record{Manufacturer: "acme", Model: "sensor", Serial: serial, Lot: "lot-1", Line: "a",
			FirmwareDigest: buildrecord.Digest{SHA256: strings.Repeat("ab", 32)}, TestResult: buildrecord.TestPass, BuiltAt: w.now.Add(-time.Hour)}})
	if err != nil {
		t.Fatalf("issuing %s: %v", serial, err)
	}
	return fi
}

// TestRotateGoverned: the manufacturer rotates its issuing CA and its lot moves with it; other
// parties may not; bad requests change nothing; a rolled-over root's successor takes the next
// issuing CA.
func TestRotateGoverned(t *testing.T) {
	w := newWorld(t)
	alice := w.actors["alice"]
	root, issuing, err := w.mfg.CreateHierarchy(ctx, alice, manufacturing.CreateHierarchyRequest{ManufacturerID: "acme", Name: "acme-mfg"})
	if err != nil {
		t.Fatal(err)
	}
	model, err := w.mfg.CreateModel(ctx, alice, manufacturing.CreateModelRequest{ManufacturerID: "acme", Name: "sensor"})
	if err != nil {
		t.Fatal(err)
	}
	lot, err := w.mfg.CreateLot(ctx, alice, manufacturing.CreateLotRequest{ModelID: model.ID, Name: "lot-1", Line: "a", IssuingCAID: issuing.ID})
	if err != nil {
		t.Fatal(err)
	}
	before := w.issue(t, lot.ID, "SN-1")

	n := w.events(t)
	for _, bad := range []struct {
		name string
		who  string
		id   string
		r    rotation.Request
		kind failure.Kind
	}{
		{"another manufacturer", "gina", issuing.ID, rotation.Request{}, failure.Denied},
		{"an operator", "oscar", issuing.ID, rotation.Request{}, failure.Denied},
		{"another manufacturer's administrator", "globex/admin", issuing.ID, rotation.Request{}, failure.Denied},
		{"a negative overlap", "alice", issuing.ID, rotation.Request{Overlap: "-1h"}, failure.Invalid},
		{"an overlap over the bound", "alice", issuing.ID, rotation.Request{Overlap: "169h"}, failure.Invalid},
		{"an overlap that is no duration", "alice", issuing.ID, rotation.Request{Overlap: "soon"}, failure.Invalid},
		{"a root", "alice", root.ID, rotation.Request{}, failure.Invalid},
		{"an unknown CA", "alice", "ca-nope", rotation.Request{}, failure.NotFound},
	} {
		if _, err := w.rot.Rotate(ctx, w.actors[bad.who], bad.id, bad.r); !failure.Is(err, bad.kind) {
			t.Errorf("rotating %s = %v, want %s", bad.name, err, bad.kind)
		}
	}
	if _, err := w.rot.Rollover(ctx, w.actors["gina"], root.ID, rotation.Request{}); !failure.Is(err, failure.Denied) {
		t.Errorf("another manufacturer rolling acme's root over = %v, want not owner", err)
	}
	// The deployment administrator holds no stage duty: CA rotation is the CA's party's.
	if _, err := w.rot.Rotate(ctx, admin, issuing.ID, rotation.Request{}); err == nil {
		t.Error("the deployment administrator rotated acme's issuing CA")
	}
	if _, err := w.rot.Rollover(ctx, admin, root.ID, rotation.Request{}); err == nil {
		t.Error("the deployment administrator rolled acme's root over")
	}
	if got := w.events(t); got != n {
		t.Fatalf("refused rotations changed the audit log: %d → %d events", n, got)
	}

	out, err := w.rot.Rotate(ctx, alice, issuing.ID, rotation.Request{Overlap: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	if out.LotsMoved != 1 || out.EnvironmentsMoved != 0 || out.New.Name != "acme-mfg-2" {
		t.Fatalf("rotation = %d lots, %d environments, successor %s", out.LotsMoved, out.EnvironmentsMoved, out.New.Name)
	}
	if got := w.events(t); got != n+2 {
		t.Fatalf("a rotation appended %d events, want 2 (ca.create, ca.rotate)", got-n)
	}
	moved, err := w.mfg.GetLot(ctx, alice, lot.ID)
	if err != nil || moved.IssuingCAID != out.New.ID {
		t.Fatalf("the lot issues from %s, %v; want the successor %s", moved.IssuingCAID, err, out.New.ID)
	}
	after := w.issue(t, lot.ID, "SN-2")
	if !strings.Contains(after.ChainPEM, strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: out.New.CertDER})))) {
		t.Fatal("a device issued after the rotation is not under the successor")
	}
	if before.Device.FactoryCert == after.Device.FactoryCert {
		t.Fatal("the same serial twice")
	}
	// A new lot may not name the succeeded CA.
	if _, err := w.mfg.CreateLot(ctx, alice, manufacturing.CreateLotRequest{ModelID: model.ID, Name: "lot-2", Line: "a", IssuingCAID: issuing.ID}); !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), out.New.ID) {
		t.Fatalf("a lot on the succeeded CA = %v, want invalid naming the successor", err)
	}

	ro, err := w.rot.Rollover(ctx, alice, root.ID, rotation.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ro.Cross) != 2 || ro.Old.SuccessorID != ro.New.ID {
		t.Fatalf("rollover = %+v", ro)
	}
	next, err := w.rot.Rotate(ctx, alice, out.New.ID, rotation.Request{})
	if err != nil || next.New.ParentID != ro.New.ID || next.New.Name != "acme-mfg-3" {
		t.Fatalf("rotation after the rollover = parent %s name %s, %v; want the new root %s", next.New.ParentID, next.New.Name, err, ro.New.ID)
	}
	path, err := w.rot.Path(ctx, next.New.ID)
	if err != nil || len(path) != 4 {
		t.Fatalf("Path = %d certificates, %v; want issuing, root and two cross-certificates", len(path), err)
	}
}
