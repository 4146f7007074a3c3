package makers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/manifest"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

var (
	ctx   = context.Background()
	t0    = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	admin = audit.Actor{PartyID: party.Deployment, PrincipalID: "prn-root", Admin: true} // a deployment administrator
)

// world is the makers service over a real SQLite store, with parties made through the
// governance service: operator op (oscar, olivia), integrator integ (ian), manufacturer acme
// (alice) and auditor aud (audrey).
type world struct {
	st     store.Store
	gov    *governance.Service
	svc    *makers.Service
	actors map[string]audit.Actor
	admins map[string]audit.Actor // each party's first administrator
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := t0
	now := func() time.Time { clock = clock.Add(time.Second); return clock } // every call a second later
	w := &world{st: st, gov: governance.New(governance.Config{Store: st, Now: now}), svc: makers.New(makers.Config{Store: st, Now: now}), actors: map[string]audit.Actor{}, admins: map[string]audit.Actor{}}
	for _, p := range []governance.CreatePartyRequest{
		{ID: "hq", Name: "Headquarters", Kind: party.Distributor},
		{ID: "op", Name: "Operator", Kind: party.Operator},
		{ID: "integ", Name: "Integrator", Kind: party.Integrator},
		{ID: "acme", Name: "Acme", Kind: party.Manufacturer},
		{ID: "aud", Name: "Auditors", Kind: party.Auditor},
	} {
		if _, err := w.gov.CreateParty(ctx, admin, p); err != nil {
			t.Fatalf("creating party %s: %v", p.ID, err)
		}
		// The deployment administrator creates each party's first administrator, who
		// creates the party's other principals.
		a, _, err := w.gov.CreatePrincipal(ctx, admin, governance.CreatePrincipalRequest{PartyID: p.ID, Name: "admin", Admin: true})
		if err != nil {
			t.Fatalf("creating the administrator of %s: %v", p.ID, err)
		}
		w.admins[p.ID] = governance.Actor(a)
	}
	for name, partyID := range map[string]string{"oscar": "op", "olivia": "op", "ian": "integ", "alice": "acme", "audrey": "aud"} {
		p, _, err := w.gov.CreatePrincipal(ctx, w.admins[partyID], governance.CreatePrincipalRequest{PartyID: partyID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		w.actors[name] = governance.Actor(p)
	}
	w.gov.OnApproved(approval.Manifest, w.svc.ManifestApproved)
	w.gov.OnDenied(approval.Manifest, w.svc.ManifestDenied)
	return w
}

// caPEM makes a CA certificate (isCA) or a device certificate, PEM.
func caPEM(t *testing.T, cn string, isCA bool) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour),
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func (w *world) events(t *testing.T, action string) int {
	t.Helper()
	n := 0
	_ = w.st.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Audit().List(0, 10000)
		for _, e := range evs {
			if e.Action == action {
				n++
			}
		}
		return err
	})
	return n
}

// TestRegisterGovernance: the party owning operational/issue over the operator registers its
// makers: the operator by default, an integrator once an administrator gave it that cell; a
// manufacturer never. Bad registrations are refused and store nothing.
func TestRegisterGovernance(t *testing.T) {
	w := newWorld(t)
	anchor := caPEM(t, "Sensors Root", true)
	reg := func(who, operator, name string) error {
		_, err := w.svc.Register(ctx, w.actors[who], makers.RegisterRequest{OperatorID: operator, Name: name, AnchorsPEM: caPEM(t, name+" Root", true)})
		return err
	}
	if _, err := w.svc.Register(ctx, w.actors["oscar"], makers.RegisterRequest{Name: "sensors", AnchorsPEM: anchor, CRLURLs: []string{"http://crl.example/s.crl"},
		Policy: maker.Policy{RequireManifest: true, KeyTypes: []string{"ecdsa-p256"}}}); err != nil {
		t.Fatalf("the operator registering a maker: %v", err)
	}
	if n := w.events(t, "maker.register"); n != 1 {
		t.Errorf("%d maker.register events, want 1", n)
	}
	for _, tc := range []struct {
		who, operator, name string
		kind                failure.Kind
	}{
		{"ian", "op", "ian-first", failure.Denied},     // an integrator, before it acts for op
		{"alice", "op", "alice-maker", failure.Denied}, // a manufacturer
		{"oscar", "acme", "not-an-op", failure.Denied}, // for a party it does not act for (no operator)
	} {
		if err := reg(tc.who, tc.operator, tc.name); !failure.Is(err, tc.kind) {
			t.Errorf("%s registering for %s: %v, want %s", tc.who, tc.operator, err, tc.kind)
		}
	}
	if err := w.gov.SetCell(ctx, w.admins["op"], ownership.Cell{Stage: ownership.Operational, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Operator, ID: "op"}, PartyID: "integ"}); err != nil {
		t.Fatal(err)
	}
	if err := reg("ian", "op", "ian-acting"); err != nil {
		t.Errorf("the integrator acting for op: %v", err)
	}
	if err := reg("oscar", "op", "oscar-after"); !failure.Is(err, failure.Denied) {
		t.Errorf("the operator after giving its cell away: %v, want denied", err)
	}
	for _, tc := range []struct {
		name string
		r    makers.RegisterRequest
		want string
	}{
		{"device certificate as anchor", makers.RegisterRequest{Name: "x1", AnchorsPEM: caPEM(t, "dev", false)}, "not a CA"},
		{"no anchor", makers.RegisterRequest{Name: "x2"}, "anchor"},
		{"ldap source", makers.RegisterRequest{Name: "x3", AnchorsPEM: caPEM(t, "r3", true), CRLURLs: []string{"ldap://dir/cn=crl"}}, "http"},
		{"unknown key type", makers.RegisterRequest{Name: "x4", AnchorsPEM: caPEM(t, "r4", true), Policy: maker.Policy{KeyTypes: []string{"dsa"}}}, "key type"},
		{"unknown mode", makers.RegisterRequest{Name: "x5", AnchorsPEM: caPEM(t, "r5", true), Policy: maker.Policy{Revocation: "sometimes"}}, "revocation"},
		{"bad manifest key", makers.RegisterRequest{Name: "x6", AnchorsPEM: caPEM(t, "r6", true), ManifestKeysPEM: []string{"not a key"}}, "manifest key 1"},
		{"bad name", makers.RegisterRequest{Name: "Not A Slug", AnchorsPEM: caPEM(t, "r7", true)}, "maker name"},
		{"same anchor", makers.RegisterRequest{Name: "again", AnchorsPEM: anchor}, "already registered"},
		{"same name", makers.RegisterRequest{Name: "sensors", AnchorsPEM: caPEM(t, "r8", true)}, "already has a maker named"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.OperatorID = "op"
			_, err := w.svc.Register(ctx, w.actors["ian"], tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
	list, err := w.svc.List(ctx, w.actors["audrey"], "op")
	if err != nil || len(list) != 2 {
		t.Errorf("the auditor lists %d makers of op (%v), want 2", len(list), err)
	}
	if _, err := w.svc.List(ctx, w.actors["alice"], "op"); !failure.Is(err, failure.Denied) {
		t.Errorf("a manufacturer listing op's makers: %v", err)
	}
	if _, err := w.svc.Get(ctx, w.actors["alice"], list[0].ID); !failure.Is(err, failure.NotFound) {
		t.Errorf("a manufacturer reading one of op's makers: %v, want not found", err)
	}
}

// signedManifest signs a manifest document listing serials with key, issued at issued.
func signedManifest(t *testing.T, key *ecdsa.PrivateKey, issued time.Time, serials ...string) []byte {
	t.Helper()
	var devs []string
	for _, s := range serials {
		devs = append(devs, fmt.Sprintf(`{"serial":%q}`, s))
	}
	payload := []byte(`{"manifestType":"` + manifest.DocumentType + `","maker":"Sensors Inc","issuedAt":"` + issued.Format(time.RFC3339) + `","devices":[` + strings.Join(devs, ",") + `]}`)
	sum := sha256.Sum256(dsse.PAE(manifest.PayloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	env, err := json.Marshal(dsse.Envelope{PayloadType: manifest.PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// active returns the maker's active manifest, parsed.
func (w *world) active(t *testing.T, m maker.Maker) (maker.Manifest, *manifest.Set) {
	t.Helper()
	var mf maker.Manifest
	if err := w.st.View(ctx, func(tx store.Tx) (err error) {
		mf, err = tx.Makers().ActiveManifest(m.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	set, err := makers.Parse(m, mf, manifest.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return mf, set
}

// TestManifests: a signed manifest verifies with the maker's key and is active at once; an
// older one is refused; a CSV waits for another principal's approval, then supersedes it.
func TestManifests(t *testing.T) {
	w := newWorld(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.svc.Register(ctx, w.actors["oscar"], makers.RegisterRequest{Name: "sensors", AnchorsPEM: caPEM(t, "Sensors Root", true),
		ManifestKeysPEM: []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}})
	if err != nil {
		t.Fatal(err)
	}
	oscar := w.actors["oscar"]
	res, err := w.svc.ImportManifest(ctx, oscar, m.ID, makers.ManifestUpload{Format: "dsse", Data: signedManifest(t, key, t0, "SNS-1", "SNS-2")})
	if err != nil || res.Manifest.State != maker.ManifestActive || res.Approval != nil || res.Manifest.Entries != 2 {
		t.Fatalf("importing a signed manifest: %+v, %v", res, err)
	}
	if _, set := w.active(t, m); set.Check("SNS-2", [32]byte{}) != nil || set.Check("SNS-3", [32]byte{}) == nil {
		t.Error("the active signed manifest does not list SNS-1 and SNS-2 alone")
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name string
		u    makers.ManifestUpload
		kind failure.Kind
	}{
		{"signed by another key", makers.ManifestUpload{Format: "dsse", Data: signedManifest(t, other, t0.Add(time.Hour), "SNS-9")}, failure.Invalid},
		{"older than the active one", makers.ManifestUpload{Format: "dsse", Data: signedManifest(t, key, t0.Add(-time.Hour), "SNS-9")}, failure.Conflict},
		{"CSV without a reason", makers.ManifestUpload{Format: "csv", Data: []byte("serial\nSNS-9\n")}, failure.Invalid},
		{"CSV with a duplicate", makers.ManifestUpload{Format: "csv", Data: []byte("serial\nSNS-9\nSNS-9\n"), Reason: "r"}, failure.Invalid},
		{"unknown format", makers.ManifestUpload{Format: "xml", Data: []byte("<x/>")}, failure.Invalid},
	} {
		if _, err := w.svc.ImportManifest(ctx, oscar, m.ID, tc.u); !failure.Is(err, tc.kind) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.kind)
		}
	}
	if _, err := w.svc.ImportManifest(ctx, w.actors["alice"], m.ID, makers.ManifestUpload{Format: "csv", Data: []byte("serial\nX\n"), Reason: "r"}); !failure.Is(err, failure.NotFound) {
		t.Errorf("a manufacturer uploading op's manifest: %v, want not found", err)
	}
	res, err = w.svc.ImportManifest(ctx, oscar, m.ID, makers.ManifestUpload{Format: "csv", Data: []byte("serial\nSNS-3\n"), Reason: "delivery note 4711"})
	if err != nil || res.Manifest.State != maker.ManifestPending || res.Approval == nil || res.Approval.Kind != approval.Manifest {
		t.Fatalf("uploading a CSV: %+v, %v", res, err)
	}
	if mf, _ := w.active(t, m); mf.Format != "dsse" {
		t.Errorf("the pending CSV is active already")
	}
	if _, err := w.gov.Decide(ctx, oscar, res.Approval.ID, governance.Decision{Approve: true}); err == nil {
		t.Error("the uploader approved its own CSV")
	}
	dec, err := w.gov.Decide(ctx, w.actors["olivia"], res.Approval.ID, governance.Decision{Approve: true})
	if err != nil {
		t.Fatalf("olivia approving: %+v, %v", dec, err)
	}
	mf, set := w.active(t, m)
	if mf.ID != res.Manifest.ID || mf.ApprovalID != res.Approval.ID || set.Check("SNS-3", [32]byte{}) != nil || set.Check("SNS-1", [32]byte{}) == nil {
		t.Errorf("after the approval the active manifest is %+v", mf)
	}
	all, err := w.svc.ListManifests(ctx, oscar, m.ID)
	if err != nil || len(all) != 2 || all[1].State != maker.ManifestSuperseded {
		t.Errorf("manifests = %+v, %v; want the CSV, then the signed one superseded", all, err)
	}
	for action, want := range map[string]int{"maker.manifest.import": 1, "maker.manifest.upload": 1, "maker.manifest.activate": 1} {
		if n := w.events(t, action); n != want {
			t.Errorf("%d %s events, want %d", n, action, want)
		}
	}
	// A denied CSV stays denied and changes nothing.
	res, err = w.svc.ImportManifest(ctx, oscar, m.ID, makers.ManifestUpload{Format: "csv", Data: []byte("serial\nSNS-4\n"), Reason: "unknown sender"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.gov.Decide(ctx, w.actors["olivia"], res.Approval.ID, governance.Decision{Approve: false, Comment: "not ours"}); err != nil {
		t.Fatal(err)
	}
	if mf, _ := w.active(t, m); mf.ID != all[0].ID {
		t.Errorf("after a denial the active manifest is %s, want %s", mf.ID, all[0].ID)
	}
	if all, _ := w.svc.ListManifests(ctx, oscar, m.ID); len(all) != 3 || all[0].State != maker.ManifestDenied {
		t.Errorf("the denied CSV: %+v", all)
	}
	// Removing the key retires what it signed: the signed manifest no longer parses.
	if _, err := w.svc.Update(ctx, oscar, m.ID, makers.UpdateRequest{ManifestKeysPEM: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	m, _ = w.svc.Get(ctx, oscar, m.ID)
	var signed maker.Manifest
	_ = w.st.View(ctx, func(tx store.Tx) (err error) { signed, err = tx.Makers().GetManifest(all[1].ID); return err })
	if _, err := makers.Parse(m, signed, manifest.Limits{}); err == nil {
		t.Error("a signed manifest still parses after its key was removed")
	}
}
