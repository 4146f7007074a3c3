//go:build pkcs11 && cgo

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
)

// signWithin signs once, failing the test if the call does not return within a generous bound.
func signWithin(t *testing.T, s crypto.Signer) error {
	t.Helper()
	d := sha256.Sum256([]byte("device loss"))
	done := make(chan error, 1)
	go func() {
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err == nil && !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), d[:], sig) {
			err = errBadSig
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Sign did not return within 30s")
		return nil
	}
}

// TestDeviceLoss reaches a token through p11-kit's remote protocol and kills the server
// mid-run: signing fails with failure.Unavailable (not a hang, not a panic), Stats say the
// token is down, and once the server is back signing works again without reopening.
func TestDeviceLoss(t *testing.T) {
	label, pin := hsmtest.Token(t, "remote")
	r := hsmtest.StartRemote(t, label)
	p, err := pkcs11.Open(pkcs11.Config{ModulePath: hsmtest.ClientModule(t), Token: label, PIN: keys.Secret(pin), SessionWait: 5 * time.Second})
	if err != nil {
		t.Fatalf("Open through p11-kit: %v", err)
	}
	defer p.Close()
	s, err := p.Create(context.Background(), "ca-remote", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if err := signWithin(t, s); err != nil {
		t.Fatalf("signing before the loss: %v", err)
	}

	r.Stop()
	err = signWithin(t, s)
	if !failure.Is(err, failure.Unavailable) {
		t.Fatalf("signing with the HSM gone: want failure.Unavailable, got %v (kind %v)", err, failure.KindOf(err))
	}
	t.Logf("with the HSM gone: %v", err)
	if _, err := p.Signer(context.Background(), "ca-remote"); !failure.Is(err, failure.Unavailable) {
		t.Fatalf("finding a key with the HSM gone: want failure.Unavailable, got %v", err)
	}
	// Past the re-initialisation interval the module is initialised again while the HSM is
	// still gone: the token is absent, which must not stop the recovery below.
	time.Sleep(1200 * time.Millisecond)
	if err := signWithin(t, s); !failure.Is(err, failure.Unavailable) {
		t.Fatalf("signing after a re-initialisation with the HSM gone: want failure.Unavailable, got %v", err)
	} else {
		t.Logf("re-initialised, the HSM still gone: %v", err)
	}
	st := p.Stats()
	if st.Up || st.Ops[pkcs11.OpResult{Op: "sign", Result: "device"}] == 0 {
		t.Fatalf("stats after the loss: up %v, ops %v; want down with device failures counted", st.Up, st.Ops)
	}

	r.Start()
	var last error
	for i := 0; i < 40; i++ { // the module is initialised again at most once a second
		if last = signWithin(t, s); last == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("signing after the HSM came back: %v", last)
	}
	if !p.Stats().Up {
		t.Fatal("stats say down after a successful signature")
	}
}
