// Package tpm keeps Hallmark's keys in a TPM 2.0, through go.step.sm/crypto's tpm package
// (on google/go-tpm and go-attestation), pure Go with no cgo.
//
// Invariants:
//   - Every key is generated inside the TPM under its storage root key, fixedTPM and
//     fixedParent (it can never be exported or duplicated), and may only sign. What is stored
//     on disk, in the storage folder, is the key's public part and its private part wrapped by
//     the TPM's storage key: useless without that TPM.
//   - A TPM 2.0 has no Ed25519, and the layer makes RSA keys of at most 2048 bits: only ECDSA
//     P-256 and P-384 are made here. Any other algorithm is refused with failure.Invalid
//     before the TPM is touched.
//   - Keys are named by key URIs tpmkms:name=NAME (uri.go). A key Hallmark makes under an ID
//     has the ID as its name.
//   - When the TPM cannot be reached (the device gone, a simulator stopped), operations fail
//     with failure.Unavailable; nothing is stored for a key that was not made. Every operation
//     opens the TPM afresh, so the backend answers again once the TPM does, without a restart.
package tpm

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	steptpm "go.step.sm/crypto/tpm"
	"go.step.sm/crypto/tpm/storage"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
)

// Config says which TPM to use and where to keep its keys' wrapped blobs.
type Config struct {
	// Device is the TPM's path: its resource manager (/dev/tpmrm0, the default, which the
	// layer opens by itself) or the Unix socket of a TPM simulator such as swtpm.
	Device string
	// StorageDir is the folder for the keys' wrapped blobs (created 0700 if missing). Back it
	// up: a key whose blob is lost cannot be loaded again, though it never left the TPM.
	StorageDir string
}

// Provider keeps keys in one TPM. It is safe for concurrent use; the TPM runs one command at
// a time, so signatures are serialised.
type Provider struct {
	t   *steptpm.TPM
	cfg Config

	mu  sync.Mutex
	ops map[keys.OpResult]uint64
	up  bool
}

var (
	_ keys.Provider = (*Provider)(nil)
	_ keys.Locator  = (*Provider)(nil)
)

// Open readies the TPM cfg names and checks that it answers (reading its properties), so
// that a missing device or a stopped simulator stops a server's start with a clear error.
func Open(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.StorageDir == "" {
		return nil, failure.New(failure.Invalid, "keys/tpm: a storage folder for the keys' wrapped blobs is required")
	}
	if err := os.MkdirAll(cfg.StorageDir, 0o700); err != nil {
		return nil, fmt.Errorf("keys/tpm: creating the storage folder: %w", err)
	}
	t, err := steptpm.New(steptpm.WithDeviceName(cfg.Device), steptpm.WithStore(storage.NewDirstore(cfg.StorageDir)),
		steptpm.WithDisableDownload())
	if err != nil {
		return nil, fmt.Errorf("keys/tpm: %w", err)
	}
	p := &Provider{t: t, cfg: cfg, ops: map[keys.OpResult]uint64{}}
	if _, err := t.Info(ctx); err != nil {
		return nil, p.fail("open", unavailable(p, "reading the TPM's properties", err))
	}
	p.count("open", nil)
	return p, nil
}

// Close releases nothing: the TPM is opened per operation. It is here so that a Provider is
// an io.Closer like the other backends.
func (p *Provider) Close() error { return nil }

var _ io.Closer = (*Provider)(nil)

// CheckAlgorithm returns a failure.Invalid error unless a TPM key can be of algorithm alg.
// Configuration and the ceremony commands call it before anything touches the TPM.
func CheckAlgorithm(alg keys.Algorithm) error {
	_, _, err := keyConfig(alg)
	return err
}

func keyConfig(alg keys.Algorithm) (string, int, error) {
	switch alg {
	case keys.ECDSAP256:
		return "ECDSA", 256, nil
	case keys.ECDSAP384:
		return "ECDSA", 384, nil
	case keys.Ed25519:
		return "", 0, failure.New(failure.Invalid, "keys/tpm: a TPM 2.0 cannot hold Ed25519 keys (the TPM 2.0 library has no EdDSA); "+
			"use ecdsa-p256 or ecdsa-p384, or keep this kind of key in another backend (docs/keys.md)")
	case keys.RSA3072:
		return "", 0, failure.New(failure.Invalid, "keys/tpm: RSA-3072 keys are not made in a TPM here (the TPM layer makes RSA keys of at most 2048 bits); use ecdsa-p256 or ecdsa-p384")
	}
	if err := alg.Validate(); err != nil {
		return "", 0, err
	}
	return "", 0, failure.New(failure.Invalid, "keys/tpm: %s keys are not made in a TPM", alg)
}

// Create makes a new key in the TPM under the name id.
func (p *Provider) Create(ctx context.Context, id string, alg keys.Algorithm) (crypto.Signer, error) {
	if err := keys.ValidID(id); err != nil {
		return nil, err
	}
	s, _, err := p.create(ctx, URI{Name: id}, alg)
	return s, err
}

// CreateURI makes a new key named by a key URI, for key ceremonies; device and
// storage-directory, when given, must be this provider's. It returns the key's canonical URI.
func (p *Provider) CreateURI(ctx context.Context, uri string, alg keys.Algorithm) (crypto.Signer, string, error) {
	u, err := p.parseKeyURI(uri)
	if err != nil {
		return nil, "", err
	}
	return p.create(ctx, u, alg)
}

func (p *Provider) create(ctx context.Context, u URI, alg keys.Algorithm) (crypto.Signer, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	kind, size, err := keyConfig(alg)
	if err != nil {
		return nil, "", err
	}
	_, err = p.t.CreateKey(ctx, u.Name, steptpm.CreateKeyConfig{Algorithm: kind, Size: size})
	switch {
	case errors.Is(err, steptpm.ErrExists) || errors.Is(err, storage.ErrExists):
		return nil, "", p.fail("create", failure.New(failure.Conflict, "keys/tpm: a key named %q exists already", u.Name))
	case err != nil:
		return nil, "", p.fail("create", unavailable(p, "creating key "+u.Name, err))
	}
	p.count("create", nil)
	s, err := p.signer(ctx, u.Name)
	if err != nil {
		return nil, "", err
	}
	return s, u.KeyOnly().String(), nil
}

// Signer returns the key made under id.
func (p *Provider) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	if err := keys.ValidID(id); err != nil {
		return nil, err
	}
	return p.signer(ctx, id)
}

// Import refuses: a private key is never sent to the server to be put in a TPM. Create the key
// in the TPM (a key ceremony, docs/ceremony.md) and import the CA by key URI.
func (p *Provider) Import(context.Context, string, []byte, []byte) (crypto.Signer, error) {
	return nil, failure.New(failure.Invalid, "keys/tpm: this server keeps CA keys in a TPM and does not take private keys over its API; "+
		"create the key in the TPM and import the CA by certificate and key URI (docs/ceremony.md)")
}

// Locate returns the key a key URI names. A device or storage-directory in the URI must be
// this provider's: a server uses only its own TPM. The canonical URI is tpmkms:name=NAME.
func (p *Provider) Locate(ctx context.Context, uri string) (crypto.Signer, string, error) {
	u, err := p.parseKeyURI(uri)
	if err != nil {
		return nil, "", err
	}
	s, err := p.signer(ctx, u.Name)
	if err != nil {
		return nil, "", err
	}
	return s, u.KeyOnly().String(), nil
}

// URI returns the key URI of the key made under id.
func (p *Provider) URI(id string) string { return URI{Name: id}.String() }

// String describes the provider, for logs.
func (p *Provider) String() string {
	return fmt.Sprintf("TPM 2.0 at %s (blobs in %s)", firstNonEmpty(p.cfg.Device, "the system's default device"), p.cfg.StorageDir)
}

func (p *Provider) parseKeyURI(uri string) (URI, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return URI{}, err
	}
	if u.Device != "" && u.Device != p.cfg.Device {
		return URI{}, failure.New(failure.Invalid, "keys/tpm: the key URI names device %s, but this server's TPM is %s", u.Device, firstNonEmpty(p.cfg.Device, "the default device"))
	}
	if u.StorageDirectory != "" && u.StorageDirectory != p.cfg.StorageDir {
		return URI{}, failure.New(failure.Invalid, "keys/tpm: the key URI names storage-directory %s, but this server keeps its TPM keys in %s", u.StorageDirectory, p.cfg.StorageDir)
	}
	return u, nil
}

func (p *Provider) signer(ctx context.Context, name string) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := p.t.GetSigner(ctx, name)
	switch {
	case errors.Is(err, steptpm.ErrNotFound):
		return nil, p.fail("find", failure.New(failure.NotFound, "keys/tpm: the TPM backend holds no key named %q (in %s)", name, p.cfg.StorageDir))
	case err != nil:
		return nil, p.fail("find", unavailable(p, "loading key "+name, err))
	}
	p.count("find", nil)
	return &signer{p: p, name: name, s: s}, nil
}

// signer is a TPM key: Sign asks the TPM, counts the result and classifies its failure.
type signer struct {
	p    *Provider
	name string
	s    crypto.Signer
}

func (s *signer) Public() crypto.PublicKey { return s.s.Public() }

func (s *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.s.Sign(rand, digest, opts)
	if err != nil {
		return nil, s.p.fail("sign", unavailable(s.p, "signing with key "+s.name, err))
	}
	s.p.count("sign", nil)
	return sig, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
