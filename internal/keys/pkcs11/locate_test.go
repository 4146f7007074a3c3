//go:build pkcs11 && cgo

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
)

// TestLocate finds keys an outside tool (OpenSC's pkcs11-tool) made, as a key ceremony would,
// by id, by object and by both, and refuses URIs that do not name one key of this token.
func TestLocate(t *testing.T) {
	p, label, pin := open(t, "locate")
	ctx := context.Background()
	hsmtest.PKCS11Tool(t, "--token-label", label, "--login", "--pin", pin, "--keypairgen", "--key-type", "EC:prime256v1", "--id", "0a0b0c", "--label", "issuing-2026")
	hsmtest.PKCS11Tool(t, "--token-label", label, "--login", "--pin", pin, "--keypairgen", "--key-type", "EC:secp384r1", "--id", "01", "--label", "twin")
	hsmtest.PKCS11Tool(t, "--token-label", label, "--login", "--pin", pin, "--keypairgen", "--key-type", "EC:secp384r1", "--id", "02", "--label", "twin")
	hsmtest.PKCS11Tool(t, "--token-label", label, "--login", "--pin", pin, "--keypairgen", "--key-type", "EC:secp521r1", "--id", "03", "--label", "p521")
	want := "pkcs11:token=" + label + ";id=%0a%0b%0c;object=issuing-2026"
	var first crypto.PublicKey
	for _, uri := range []string{
		"pkcs11:token=" + label + ";id=%0A%0B%0C",
		"pkcs11:token=" + label + ";object=issuing-2026",
		"pkcs11:object=issuing-2026;token=" + label + ";type=private",
		want,
		"pkcs11:token=" + label + ";id=%0a%0b%0c?module-path=" + hsmtest.Module,
	} {
		s, canon, err := p.Locate(ctx, uri)
		if err != nil {
			t.Fatalf("Locate(%s): %v", uri, err)
		}
		if canon != want {
			t.Errorf("Locate(%s) canonical = %s, want %s", uri, canon, want)
		}
		if first == nil {
			first = s.Public()
		} else if !s.Public().(*ecdsa.PublicKey).Equal(first) {
			t.Fatalf("Locate(%s) found another key", uri)
		}
		d := sha256.Sum256([]byte("m"))
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil || !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), d[:], sig) {
			t.Fatalf("signing with the located key: %v", err)
		}
		if s2, err := keys.Load(ctx, p, canon); err != nil || !s2.Public().(*ecdsa.PublicKey).Equal(first) {
			t.Fatalf("keys.Load(canonical): %v", err)
		}
	}
	bad := []struct {
		name, uri string
		kind      failure.Kind
		says      string
	}{
		{"not a URI", "file:/etc/key.pem", failure.Invalid, "not a PKCS#11 URI"},
		{"other token", "pkcs11:token=elsewhere;id=%0a%0b%0c", failure.Invalid, "names token \"elsewhere\""},
		{"no token", "pkcs11:id=%0a%0b%0c", failure.Invalid, "names no token"},
		{"no key", "pkcs11:token=" + label, failure.Invalid, "names no key"},
		{"pin in URI", "pkcs11:token=" + label + ";id=%0a?pin-value=1234", failure.Invalid, "may not carry pin-value"},
		{"pin source", "pkcs11:token=" + label + ";id=%0a?pin-source=file:/tmp/pin", failure.Invalid, "pin-source"},
		{"other module", "pkcs11:token=" + label + ";id=%0a?module-path=/usr/lib/other.so", failure.Invalid, "names module"},
		{"public key", "pkcs11:token=" + label + ";id=%0a;type=public", failure.Invalid, "public key"},
		{"bad escape", "pkcs11:token=" + label + ";id=%0g", failure.Invalid, "two hex digits"},
		{"unknown attribute", "pkcs11:token=" + label + ";colour=red", failure.Invalid, "unknown key URI path attribute"},
		{"absent", "pkcs11:token=" + label + ";id=%ff%ff", failure.NotFound, "holds no private key"},
		{"ambiguous label", "pkcs11:token=" + label + ";object=twin", failure.Conflict, "more than one private key"},
		{"weak curve", "pkcs11:token=" + label + ";id=%03", failure.Invalid, "not allowed"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := p.Locate(ctx, tc.uri)
			if failure.KindOf(err) != tc.kind || err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Locate(%s) = %v (kind %v), want kind %v saying %q", tc.uri, err, failure.KindOf(err), tc.kind, tc.says)
			}
			if strings.Contains(err.Error(), "1234") {
				t.Fatalf("the error repeats the PIN: %v", err)
			}
		})
	}
	// Each twin is reachable by its id.
	if _, canon, err := p.Locate(ctx, "pkcs11:token="+label+";id=%02;object=twin"); err != nil || !strings.HasSuffix(canon, "id=%02;object=twin") {
		t.Fatalf("Locate twin 2: %s %v", canon, err)
	}
}

func TestCreateURI(t *testing.T) {
	p, label, _ := open(t, "ceremony")
	ctx := context.Background()
	s, uri, err := p.CreateURI(ctx, "pkcs11:token="+label+";object=acme-root-2026", keys.ECDSAP384)
	if err != nil {
		t.Fatal(err)
	}
	u, err := pkcs11.ParseURI(uri)
	if err != nil || len(u.ID) != 16 || u.Object != "acme-root-2026" || u.Token != label {
		t.Fatalf("CreateURI returned %s (%v): want a 16-byte random id, the object and the token", uri, err)
	}
	s2, canon, err := p.Locate(ctx, uri)
	if err != nil || canon != uri || !s2.Public().(*ecdsa.PublicKey).Equal(s.Public()) {
		t.Fatalf("Locate(%s) = %s, %v", uri, canon, err)
	}
	if _, _, err := p.CreateURI(ctx, uri, keys.ECDSAP256); !failure.Is(err, failure.Conflict) {
		t.Fatalf("CreateURI with a taken id: want conflict, got %v", err)
	}
	if _, _, err := p.CreateURI(ctx, "pkcs11:token="+label+";id=%01", keys.ECDSAP256); !failure.Is(err, failure.Invalid) {
		t.Fatalf("CreateURI without object: want invalid, got %v", err)
	}
	if _, err := p.Import(ctx, "ca-x", []byte("-----BEGIN PRIVATE KEY-----"), nil); !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), "key URI") {
		t.Fatalf("Import: want a refusal pointing at key URIs, got %v", err)
	}
}

func TestOpenRefusals(t *testing.T) {
	label, pin := hsmtest.Token(t, "refuse")
	for _, tc := range []struct {
		name string
		cfg  pkcs11.Config
		kind failure.Kind
		says string
	}{
		{"wrong PIN", pkcs11.Config{ModulePath: hsmtest.Module, Token: label, PIN: keys.Secret("0000")}, failure.Unavailable, "refused the PIN (CKR_PIN_INCORRECT)"},
		{"no such token", pkcs11.Config{ModulePath: hsmtest.Module, Token: "nowhere", PIN: keys.Secret(pin)}, failure.Unavailable, "no token with label \"nowhere\""},
		{"no such module", pkcs11.Config{ModulePath: "/nonexistent/libpkcs11.so", Token: label, PIN: keys.Secret(pin)}, failure.Invalid, "cannot load the PKCS#11 module"},
		{"no module", pkcs11.Config{Token: label, PIN: keys.Secret(pin)}, failure.Invalid, "no module path"},
		{"no token", pkcs11.Config{ModulePath: hsmtest.Module, PIN: keys.Secret(pin)}, failure.Invalid, "no token"},
		{"sessions", pkcs11.Config{ModulePath: hsmtest.Module, Token: label, MaxSessions: -1}, failure.Invalid, "max sessions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pkcs11.Open(tc.cfg)
			if err == nil {
				p.Close()
				t.Fatal("Open succeeded")
			}
			if failure.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Open = %v (kind %v), want kind %v saying %q", err, failure.KindOf(err), tc.kind, tc.says)
			}
			if strings.Contains(err.Error(), pin) {
				t.Fatalf("the error shows the PIN: %v", err)
			}
		})
	}
	// The refusals left the token usable with the right PIN.
	p, err := pkcs11.Open(pkcs11.Config{ModulePath: hsmtest.Module, Token: label, PIN: keys.Secret(pin)})
	if err != nil {
		t.Fatalf("Open with the right PIN after refusals: %v", err)
	}
	p.Close()
}

// TestConcurrentSigning signs from more goroutines than there are sessions: every signature
// verifies, and the pool never opens more than MaxSessions.
func TestConcurrentSigning(t *testing.T) {
	label, pin := hsmtest.Token(t, "pool")
	p, err := pkcs11.Open(pkcs11.Config{ModulePath: hsmtest.Module, Token: label, PIN: keys.Secret(pin), MaxSessions: 2, SessionWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := p.Create(context.Background(), "ocsp-1", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				d := sha256.Sum256([]byte{byte(w), byte(i)})
				sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
				if err == nil && !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), d[:], sig) {
					err = errBadSig
				}
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := p.Stats()
	if n := st.Ops[pkcs11.OpResult{Op: "sign", Result: "ok"}]; n != workers*each || !st.Up {
		t.Fatalf("stats: %d signatures ok (want %d), up %v: %v", n, workers*each, st.Up, st.Ops)
	}
	out := hsmtest.PKCS11Tool(t, "--token-label", label, "--login", "--pin", pin, "--list-objects", "--type", "privkey")
	if !strings.Contains(out, "ocsp-1") {
		t.Fatalf("pkcs11-tool does not list the key:\n%s", out)
	}
}

type sigError string

func (e sigError) Error() string { return string(e) }

const errBadSig = sigError("signature does not verify")
