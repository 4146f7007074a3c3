package manufacturing_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/manifest"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestSignManifest: a manufacturer's signed manifest lists the good devices of the lots named,
// by serial and key, and verifies with its published build-record key; a revoked device drops
// out. Only the manufacturer signs, and only its own lots; each signature is one audit event,
// and a refusal appends none.
func TestSignManifest(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, false)
	fis := []manufacturing.FactoryIdentity{w.issue(t, "alice", l, "SN-1"), w.issue(t, "alice", l, "SN-2"), w.issue(t, "alice", l, "SN-3")}
	keyPEM, err := w.svc.BuildRecordKeyPEM(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	key, err := manifest.ParseKey([]byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	spki := func(fi manufacturing.FactoryIdentity) [32]byte {
		blk, _ := pem.Decode([]byte(fi.CertificatePEM))
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(c.RawSubjectPublicKeyInfo)
	}

	n := w.events(t)
	wantErr(t, errOnly(w.svc.SignManifest(ctx, w.actors["gina"], "acme", []string{l.lot.ID})), failure.Denied, "only its own principals")
	wantErr(t, errOnly(w.svc.SignManifest(ctx, w.actors["gina"], "globex", []string{l.lot.ID})), failure.NotFound, "not a lot of globex")
	wantErr(t, errOnly(w.svc.SignManifest(ctx, w.actors["alice"], "acme", nil)), failure.Invalid, "1 to 100 lots")
	wantErr(t, errOnly(w.svc.SignManifest(ctx, w.actors["alice"], "acme", []string{l.lot.ID, l.lot.ID})), failure.Invalid, "named twice")
	if got := w.events(t); got != n {
		t.Fatalf("refused signatures changed the audit log: %d → %d events", n, got)
	}

	m, err := w.svc.SignManifest(ctx, w.actors["alice"], "acme", []string{l.lot.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.events(t); got != n+1 {
		t.Errorf("a signature appended %d events, want 1", got-n)
	}
	set, err := manifest.VerifyDSSE(m.Envelope, []manifest.Key{key}, "Acme", manifest.Limits{})
	if err != nil || m.Devices != 3 || set.Len() != 3 {
		t.Fatalf("the manifest: %d devices, %v", m.Devices, err)
	}
	for i, fi := range fis {
		if err := set.Check(fi.Device.Serial, spki(fi)); err != nil {
			t.Errorf("device %d: %v", i+1, err)
		}
	}
	if err := set.Check("SN-1", spki(fis[1])); err == nil {
		t.Error("the manifest admits SN-1 with SN-2's key")
	}

	// A revoked device drops out of the next manifest.
	no := false
	if _, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "acme", DeviceID: fis[0].Device.ID},
		Reason: "keyCompromise", DryRun: &no}); err != nil {
		t.Fatal(err)
	}
	m, err = w.svc.SignManifest(ctx, w.actors["alice"], "acme", []string{l.lot.ID})
	if err != nil {
		t.Fatal(err)
	}
	if set, err = manifest.VerifyDSSE(m.Envelope, []manifest.Key{key}, "", manifest.Limits{}); err != nil || m.Devices != 2 || set.Check("SN-1", spki(fis[0])) == nil {
		t.Errorf("after revoking SN-1: %d devices, %v; want SN-1 gone", m.Devices, err)
	}
}
