package makers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/store"
)

// failingOnceStore runs every write function first with a transaction in which activating a
// manifest fails (a serialization failure, a lost connection), rolls that run back, then
// runs the function again for real: a retry, which Update's contract allows.
type failingOnceStore struct{ store.Store }

var errFirstRun = errors.New("first run failed by the test")

func (s failingOnceStore) Update(c context.Context, fn func(store.Tx) error) error {
	if err := s.Store.Update(c, func(tx store.Tx) error { _ = fn(activationFails{tx}); return errFirstRun }); !errors.Is(err, errFirstRun) {
		return err
	}
	return s.Store.Update(c, fn)
}

type activationFails struct{ store.Tx }

func (t activationFails) Makers() store.Makers { return failingMakers{t.Tx.Makers()} }

type failingMakers struct{ store.Makers }

func (failingMakers) SetManifestState(string, maker.ManifestState, string, time.Time) error {
	return errFirstRun
}

// TestSignedManifestActiveAfterRetry: a signed manifest is active after a retry of its import.
// The write function used to pick its branch from the manifest's state, which its failed first
// run had left pending, so the retry stored the signed manifest as a pending upload waiting for
// an approval.
func TestSignedManifestActiveAfterRetry(t *testing.T) {
	w := newWorld(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	oscar := w.actors["oscar"]
	m, err := w.svc.Register(ctx, oscar, makers.RegisterRequest{Name: "sensors", AnchorsPEM: caPEM(t, "Sensors Root", true),
		ManifestKeysPEM: []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}})
	if err != nil {
		t.Fatal(err)
	}
	svc := makers.New(makers.Config{Store: failingOnceStore{w.st}, Now: func() time.Time { return t0 }})
	res, err := svc.ImportManifest(ctx, oscar, m.ID, makers.ManifestUpload{Format: "dsse", Data: signedManifest(t, key, t0, "SNS-1")})
	if err != nil || res.Manifest.State != maker.ManifestActive || res.Approval != nil {
		t.Fatalf("importing a signed manifest, retried: %+v, %v", res, err)
	}
	if got, _ := w.active(t, m); got.ID != res.Manifest.ID {
		t.Fatalf("active manifest %s, want %s", got.ID, res.Manifest.ID)
	}
}
