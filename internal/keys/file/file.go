// Package file is the keys.Provider that keeps CA keys in passphrase-encrypted PEM files.
//
// Invariants:
//   - Each key is one file, <dir>/<id>.key.pem, holding an "ENCRYPTED PRIVATE KEY" (PKCS#8 under
//     PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC; see keys.MarshalEncryptedPEM) with mode 0600.
//     Nothing is written in clear, and a file that is not encrypted is refused on load.
//   - A file appears whole or not at all (temporary file, fsync, link into place, fsync of the
//     directory), and an existing key is never replaced: a second Create or Import of an ID fails
//     with failure.Conflict, also across processes sharing the directory.
//   - This package never handles key bytes itself: generating, parsing and encrypting is done by
//     package keys, and the signers it returns are opaque.
package file

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
)

// Suffix ends the name of every key file.
const Suffix = ".key.pem"

// Provider stores keys as encrypted PEM files in one directory. It is safe for concurrent use.
// Loaded keys are cached in memory for the life of the Provider.
type Provider struct {
	dir   string
	pass  []byte
	mu    sync.Mutex // serialises the no-hard-link fallback in writeNew
	cache sync.Map   // id → crypto.Signer
}

var _ keys.Provider = (*Provider)(nil)

// New returns a Provider over dir, creating it with mode 0700 if it does not exist. Every key is
// encrypted under passphrase, which must not be empty.
func New(dir string, passphrase keys.Secret) (*Provider, error) {
	if len(passphrase) == 0 {
		return nil, failure.New(failure.Invalid, "keys/file: the key passphrase is empty; set one to encrypt CA keys")
	}
	if dir == "" {
		return nil, failure.New(failure.Invalid, "keys/file: no key directory given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys/file: creating the key directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("keys/file: key directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, failure.New(failure.Invalid, "keys/file: %s is not a directory", dir)
	}
	return &Provider{dir: dir, pass: bytes.Clone(passphrase)}, nil
}

// Path returns the file that holds, or would hold, the key id. It does not check id.
func (p *Provider) Path(id string) string { return filepath.Join(p.dir, id+Suffix) }

// Create generates a key of algorithm alg and stores it under id.
func (p *Provider) Create(ctx context.Context, id string, alg keys.Algorithm) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidID(id); err != nil {
		return nil, err
	}
	if err := alg.Validate(); err != nil {
		return nil, err
	}
	if err := p.checkFree(id); err != nil { // before the (possibly slow) key generation
		return nil, err
	}
	s, err := keys.Generate(alg)
	if err != nil {
		return nil, fmt.Errorf("keys/file: creating %s: %w", id, err)
	}
	if err := p.store(id, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Signer loads the key id, from the cache or its file.
func (p *Provider) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidID(id); err != nil {
		return nil, err
	}
	if s, ok := p.cache.Load(id); ok {
		return s.(crypto.Signer), nil
	}
	data, err := os.ReadFile(p.Path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, failure.New(failure.NotFound, "keys/file: no key %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("keys/file: reading %s: %w", id, err)
	}
	s, err := keys.UnmarshalEncryptedPEM(data, p.pass)
	clear(data)
	if errors.Is(err, keys.ErrWrongPassphrase) {
		// Unclassified on purpose: a key the server cannot open is its own fault, not the caller's.
		return nil, failure.Wrap(failure.Unclassified, keys.ErrWrongPassphrase, "keys/file: decrypting "+id)
	}
	if err != nil {
		return nil, failure.Wrap(failure.Unclassified, err, "keys/file: loading "+id)
	}
	actual, _ := p.cache.LoadOrStore(id, s)
	return actual.(crypto.Signer), nil
}

// Import stores an existing key under id, re-encrypted under the provider's passphrase. See
// keys.ParsePrivateKeyPEM for the formats accepted and the keys refused.
func (p *Provider) Import(ctx context.Context, id string, pemData, passphrase []byte) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidID(id); err != nil {
		return nil, err
	}
	if err := p.checkFree(id); err != nil {
		return nil, err
	}
	s, err := keys.ParsePrivateKeyPEM(pemData, passphrase)
	if err != nil {
		return nil, fmt.Errorf("keys/file: importing %s: %w", id, err)
	}
	if err := p.store(id, s); err != nil {
		return nil, err
	}
	return s, nil
}

// ImportSigner stores under id, encrypted under the provider's passphrase, a key that
// keys.ParsePrivateKeyPEM already parsed and checked, so that a caller that had to parse the
// key first (to check it against its certificate) does not parse, and decrypt, it again.
// Signers from anywhere else are refused.
func (p *Provider) ImportSigner(ctx context.Context, id string, s crypto.Signer) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidID(id); err != nil {
		return nil, err
	}
	if err := p.checkFree(id); err != nil {
		return nil, err
	}
	if err := p.store(id, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *Provider) checkFree(id string) error {
	_, err := os.Lstat(p.Path(id))
	switch {
	case err == nil:
		return failure.New(failure.Conflict, "keys/file: key %q already exists", id)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("keys/file: checking %s: %w", id, err)
	}
}

// store encrypts s, writes it as the new key id and caches it.
func (p *Provider) store(id string, s crypto.Signer) error {
	data, err := keys.MarshalEncryptedPEM(s, p.pass)
	if err != nil {
		return fmt.Errorf("keys/file: storing %s: %w", id, err)
	}
	if err := p.writeNew(id, data); err != nil {
		return err
	}
	p.cache.Store(id, s)
	return nil
}

// writeNew puts data in place as the file for id, atomically and without replacing an existing
// file: it writes and fsyncs a temporary file in the same directory, hard-links it to the final
// name (link fails if the name exists, which rename would not), removes the temporary name and
// fsyncs the directory. On a file system without hard links it falls back to check-then-rename,
// which is atomic but guards against replacement only within this process.
func (p *Provider) writeNew(id string, data []byte) (err error) {
	final := p.Path(id)
	tmp, err := os.CreateTemp(p.dir, "."+id+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("keys/file: writing %s: %w", id, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if rerr := os.Remove(tmpName); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("keys/file: removing the temporary file for %s: %w", id, rerr)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("keys/file: writing %s: %w", id, err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("keys/file: writing %s: %w", id, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("keys/file: syncing %s: %w", id, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keys/file: writing %s: %w", id, err)
	}
	if err := os.Link(tmpName, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return failure.New(failure.Conflict, "keys/file: key %q already exists", id)
		}
		if err := p.renameNew(id, tmpName, final); err != nil {
			return err
		}
	}
	if err := syncDir(p.dir); err != nil {
		return fmt.Errorf("keys/file: syncing the key directory after writing %s: %w", id, err)
	}
	return nil
}

func (p *Provider) renameNew(id, tmpName, final string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkFree(id); err != nil {
		return err
	}
	if err := os.Rename(tmpName, final); err != nil {
		return fmt.Errorf("keys/file: moving %s into place: %w", id, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}
