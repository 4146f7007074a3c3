package file

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
)

const testPass = "test passphrase, not a secret"

func newProvider(t *testing.T, dir string) *Provider {
	t.Helper()
	p, err := New(dir, keys.Secret(testPass))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkSigns(t *testing.T, s crypto.Signer) {
	t.Helper()
	msg := []byte("hallmark test message")
	digest := sha256.Sum256(msg)
	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Fatalf("ECDSA signature does not verify (err %v)", err)
		}
	case *rsa.PublicKey:
		sig, err := s.Sign(rand.Reader, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil || rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, nil) != nil {
			t.Fatalf("RSA signature does not verify (err %v)", err)
		}
	case ed25519.PublicKey:
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil || !ed25519.Verify(pub, msg, sig) {
			t.Fatalf("Ed25519 signature does not verify (err %v)", err)
		}
	default:
		t.Fatalf("unexpected public key type %T", pub)
	}
}

func samePublic(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// checkFileOnDisk checks that the key file for id is one encrypted PEM block with mode 0600 and
// that no temporary file was left behind.
func checkFileOnDisk(t *testing.T, p *Provider, id string) {
	t.Helper()
	data, err := os.ReadFile(p.Path(id))
	if err != nil {
		t.Fatal(err)
	}
	if n, e := bytes.Count(data, []byte("PRIVATE KEY-----")), bytes.Count(data, []byte("ENCRYPTED PRIVATE KEY-----")); n != 2 || e != 2 {
		t.Fatalf("%s holds %d PRIVATE KEY markers, %d of them ENCRYPTED; want exactly one encrypted block", id, n, e)
	}
	fi, err := os.Stat(p.Path(id))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("%s has mode %o; want 600", id, m)
	}
	tmps, _ := filepath.Glob(filepath.Join(p.dir, ".*.tmp"))
	if len(tmps) != 0 {
		t.Fatalf("temporary files left behind: %v", tmps)
	}
}

func TestNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "keys")
	tests := []struct {
		name     string
		dir      string
		pass     keys.Secret
		wantKind failure.Kind
		wantErr  bool
	}{
		{name: "creates dir", dir: dir, pass: keys.Secret("x")},
		{name: "existing dir", dir: dir, pass: keys.Secret("x")},
		{name: "empty passphrase", dir: dir, pass: nil, wantErr: true, wantKind: failure.Invalid},
		{name: "empty dir", dir: "", pass: keys.Secret("x"), wantErr: true, wantKind: failure.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.dir, tt.pass)
			if tt.wantErr {
				if !failure.Is(err, tt.wantKind) {
					t.Fatalf("New error = %v; want kind %v", err, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if m := fi.Mode().Perm(); m != 0o700 {
				t.Fatalf("dir mode %o; want 700", m)
			}
		})
	}
}

func TestCreateAndLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	p := newProvider(t, dir)
	for _, alg := range keys.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			id := "ca-" + string(alg)
			created, err := p.Create(ctx, id, alg)
			if err != nil {
				t.Fatal(err)
			}
			checkSigns(t, created)
			checkFileOnDisk(t, p, id)

			cached, err := p.Signer(ctx, id)
			if err != nil || cached != created {
				t.Fatalf("Signer from cache = %v, %v; want the created signer", cached, err)
			}

			// A fresh provider has an empty cache, so this reads and decrypts the file.
			loaded, err := newProvider(t, dir).Signer(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !samePublic(created.Public(), loaded.Public()) {
				t.Fatal("loaded key differs from the created one")
			}
			checkSigns(t, loaded)
			if _, ok := loaded.(*ecdsa.PrivateKey); ok {
				t.Fatal("Signer returned a bare private key")
			}
			checkOpenSSL(t, p.Path(id))
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	p := newProvider(t, dir)
	if _, err := p.Create(ctx, "taken", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	pemP256, err := os.ReadFile(filepath.Join("..", "testdata", "test-ec-p256-pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name     string
		call     func() error
		wantKind failure.Kind
		wantMsg  string
	}{
		{"create existing", func() error { _, err := p.Create(ctx, "taken", keys.ECDSAP256); return err }, failure.Conflict, `key "taken" already exists`},
		{"create existing, other provider", func() error {
			_, err := newProvider(t, dir).Create(ctx, "taken", keys.Ed25519)
			return err
		}, failure.Conflict, "already exists"},
		{"import over existing", func() error { _, err := p.Import(ctx, "taken", pemP256, nil); return err }, failure.Conflict, "already exists"},
		{"signer missing", func() error { _, err := p.Signer(ctx, "missing"); return err }, failure.NotFound, `no key "missing"`},
		{"bad id", func() error { _, err := p.Signer(ctx, "../taken"); return err }, failure.Invalid, "invalid key id"},
		{"bad algorithm", func() error { _, err := p.Create(ctx, "new", "rsa-1024"); return err }, failure.Invalid, "unknown key algorithm"},
		{"wrong passphrase", func() error {
			other, err := New(dir, keys.Secret("another passphrase"))
			if err != nil {
				return err
			}
			_, err = other.Signer(ctx, "taken")
			return err
		}, failure.Unclassified, "keys/file: decrypting taken: wrong passphrase or corrupt file"},
		{"cancelled", func() error { _, err := p.Create(cancelled, "new", keys.ECDSAP256); return err }, failure.Unclassified, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if k := failure.KindOf(err); k != tt.wantKind || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error = %q (kind %v); want kind %v containing %q", err, k, tt.wantKind, tt.wantMsg)
			}
		})
	}
	if _, err := newProvider(t, dir).Signer(ctx, "new"); !failure.Is(err, failure.NotFound) {
		t.Fatalf("a failed Create left a key behind: %v", err)
	}
}

func TestWrongPassphraseIsErrWrongPassphrase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := newProvider(t, dir).Create(ctx, "k", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	other, err := New(dir, keys.Secret("wrong"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Signer(ctx, "k"); !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Fatalf("error = %v; want keys.ErrWrongPassphrase", err)
	}
}

func TestRefusesClearKeyOnDisk(t *testing.T) {
	dir := t.TempDir()
	p := newProvider(t, dir)
	clearKey, err := os.ReadFile(filepath.Join("..", "testdata", "test-ec-p256-pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Path("planted"), clearKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Signer(context.Background(), "planted"); err == nil || !strings.Contains(err.Error(), "ENCRYPTED PRIVATE KEY") {
		t.Fatalf("loading an unencrypted key file: %v; want a refusal", err)
	}
}

func TestImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	p := newProvider(t, dir)
	tests := []struct {
		name     string
		file     string // in ../testdata; empty means data
		data     string
		pass     string
		wantKind failure.Kind // Unclassified means success
		wantMsg  string
	}{
		{name: "PKCS#8 P-256", file: "test-ec-p256-pkcs8.pem"},
		{name: "PKCS#8 Ed25519", file: "test-ed25519-pkcs8.pem"},
		{name: "SEC1 P-256", file: "test-ec-p256-sec1.pem"},
		{name: "SEC1 P-384 with params", file: "test-ec-p384-sec1-with-params.pem"},
		{name: "PKCS#1 RSA-3072", file: "test-rsa-3072-pkcs1.pem"},
		{name: "openssl encrypted PKCS#8", file: "test-ec-p256-pkcs8-encrypted-pass-x.pem", pass: "x"},
		{name: "encrypted, wrong passphrase", file: "test-ec-p256-pkcs8-encrypted-pass-x.pem", pass: "y", wantKind: failure.Invalid, wantMsg: "wrong passphrase"},
		{name: "RSA-1024", file: "test-rsa-1024-pkcs1-weak.pem", wantKind: failure.Invalid, wantMsg: "too weak"},
		{name: "P-224", file: "test-ec-p224-pkcs8-weak.pem", wantKind: failure.Invalid, wantMsg: "P-224"},
		{name: "garbage", data: "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", wantKind: failure.Invalid, wantMsg: "malformed"},
		{name: "not PEM", data: "hello", wantKind: failure.Invalid, wantMsg: "no PEM private key"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.data)
			if tt.file != "" {
				var err error
				if in, err = os.ReadFile(filepath.Join("..", "testdata", tt.file)); err != nil {
					t.Fatal(err)
				}
			}
			id := fmt.Sprintf("imported-%d", i)
			s, err := p.Import(ctx, id, in, []byte(tt.pass))
			if tt.wantKind != failure.Unclassified {
				if !failure.Is(err, tt.wantKind) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("error = %v; want kind %v containing %q", err, tt.wantKind, tt.wantMsg)
				}
				if _, err := os.Stat(p.Path(id)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("a refused import left a file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			orig, err := keys.ParsePrivateKeyPEM(in, []byte(tt.pass))
			if err != nil {
				t.Fatal(err)
			}
			if !samePublic(orig.Public(), s.Public()) {
				t.Fatal("imported key differs from the input")
			}
			checkSigns(t, s)
			checkFileOnDisk(t, p, id)

			// Re-encrypted under the provider's passphrase, not the import one.
			loaded, err := newProvider(t, dir).Signer(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !samePublic(orig.Public(), loaded.Public()) {
				t.Fatal("reloaded key differs from the input")
			}
			if tt.pass != "" {
				if _, err := keys.UnmarshalEncryptedPEM(mustRead(t, p.Path(id)), []byte(tt.pass)); !errors.Is(err, keys.ErrWrongPassphrase) {
					t.Fatalf("the stored key opens with the import passphrase: %v", err)
				}
			}
		})
	}
}

// TestOpenSSLMadeEncryptedKey generates the brief's example key with openssl at test time, so the
// import path is checked against the installed OpenSSL and not only the committed file.
func TestOpenSSLMadeEncryptedKey(t *testing.T) {
	t.Parallel()
	openssl := lookOpenSSL(t)
	cmd := exec.Command("sh", "-c", openssl+" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | "+openssl+" pkcs8 -topk8 -v2 aes-256-cbc -passout pass:x")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	s, err := newProvider(t, t.TempDir()).Import(context.Background(), "from-openssl", out, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	checkSigns(t, s)
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	p := newProvider(t, dir)
	if _, err := p.Create(ctx, "shared", keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	fresh := newProvider(t, dir) // empty cache: concurrent first loads
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	errs := make(chan error, 32)
	for i := range 4 {
		wg.Go(func() {
			if _, err := fresh.Signer(ctx, "shared"); err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			_, err := p.Create(ctx, "race", keys.Ed25519)
			switch {
			case err == nil:
				mu.Lock()
				created++
				mu.Unlock()
			case !failure.Is(err, failure.Conflict):
				errs <- err
			}
		})
		wg.Go(func() {
			if _, err := p.Create(ctx, fmt.Sprintf("own-%d", i), keys.Ed25519); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if created != 1 {
		t.Fatalf("%d concurrent Creates of one id succeeded; want exactly 1", created)
	}
	checkFileOnDisk(t, p, "race")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lookOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("skipping: openssl is not installed, so OpenSSL interoperability is not checked")
	}
	return path
}

// checkOpenSSL checks that OpenSSL reads the key file with the provider's passphrase and refuses
// it with another.
func checkOpenSSL(t *testing.T, path string) {
	t.Helper()
	openssl := lookOpenSSL(t)
	if out, err := exec.Command(openssl, "pkey", "-in", path, "-passin", "pass:"+testPass, "-noout").CombinedOutput(); err != nil {
		t.Fatalf("openssl pkey with the right passphrase: %v\n%s", err, out)
	}
	if err := exec.Command(openssl, "pkey", "-in", path, "-passin", "pass:wrong", "-noout").Run(); err == nil {
		t.Fatal("openssl pkey accepted a wrong passphrase")
	}
}

// TestImportSigner stores a key package keys parsed, so an import decrypts once; it refuses a
// signer from elsewhere (its bytes are not package keys' to encrypt) and a taken ID.
func TestImportSigner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := newProvider(t, dir)
	pemP256, err := os.ReadFile(filepath.Join("..", "testdata", "test-ec-p256-pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.ParsePrivateKeyPEM(pemP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ImportSigner(ctx, "parsed", s); err != nil {
		t.Fatal(err)
	}
	loaded, err := newProvider(t, dir).Signer(ctx, "parsed")
	if err != nil {
		t.Fatal(err)
	}
	checkSigns(t, loaded)
	if !loaded.Public().(*ecdsa.PublicKey).Equal(s.Public()) {
		t.Error("the stored key is another key")
	}
	if _, err := p.ImportSigner(ctx, "parsed", s); !failure.Is(err, failure.Conflict) {
		t.Errorf("import over an existing key: %v", err)
	}
	bare, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ImportSigner(ctx, "bare", bare); err == nil {
		t.Error("a bare ecdsa.PrivateKey was stored")
	}
	if _, err := os.Stat(p.Path("bare")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused import left a file: %v", err)
	}
}

// TestLoadByURI: the file backend reaches keys by ID only; a key URI gets a clear refusal.
func TestLoadByURI(t *testing.T) {
	p := newProvider(t, t.TempDir())
	ctx := context.Background()
	s, err := p.Create(ctx, "ca-1", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	got, err := keys.Load(ctx, p, "ca-1")
	if err != nil || !got.Public().(*ecdsa.PublicKey).Equal(s.Public()) {
		t.Fatalf("Load(ca-1): %v", err)
	}
	_, err = keys.Load(ctx, p, "pkcs11:token=hallmark;id=ca-1")
	if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), "does not resolve key URIs") {
		t.Fatalf("Load(URI) from files: want a clear failure.Invalid, got %v", err)
	}
	for name, want := range map[string]bool{"pkcs11:token=a": true, "awskms:key-id=x": true, "ca-1": false, ":x": false, "-a:b": false, "a.b": false} {
		if keys.IsURI(name) != want {
			t.Errorf("IsURI(%q) = %v, want %v", name, !want, want)
		}
	}
}
