package agent

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/keys"
)

// ErrNoIdentity means the device holds no usable operational identity yet.
var ErrNoIdentity = errors.New("agent: no operational identity")

// Keystore holds the device's keys. Files today; a TPM-backed one needs only these methods,
// since every key is used through crypto.Signer.
type Keystore interface {
	// Factory returns the factory certificate (with its chain, if known) and key, for TLS.
	Factory() (tls.Certificate, error)
	// Operational returns the current operational certificate chain and key, or ErrNoIdentity.
	Operational() ([]*x509.Certificate, crypto.Signer, error)
	// NewKey makes the key for the next operational identity; it is kept only by Commit.
	NewKey() (crypto.Signer, error)
	// Commit stores a new operational identity in place of the current one.
	Commit(key crypto.Signer, chain []*x509.Certificate) error
}

// Files is a Keystore on files: the factory certificate and key given by the manufacturer,
// and the operational identity in Dir as operational.key and operational.pem (mode 0600).
type Files struct {
	FactoryCert, FactoryKey string
	Dir                     string
}

var _ Keystore = (*Files)(nil)

// Factory loads the factory identity; its key may be any PEM keys.ParsePrivateKeyPEM reads.
func (f *Files) Factory() (tls.Certificate, error) {
	certPEM, err := os.ReadFile(f.FactoryCert)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("agent: factory certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(f.FactoryKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("agent: factory key: %w", err)
	}
	signer, err := keys.ParsePrivateKeyPEM(keyPEM, nil)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("agent: factory key: %w", err)
	}
	chain, err := certpem.Parse(certPEM, certpem.Options{What: f.FactoryCert, SkipOther: true})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("agent: factory certificate: %w", err)
	}
	return tlsCert(chain, signer)
}

func (f *Files) paths() (key, cert string) {
	return filepath.Join(f.Dir, "operational.key"), filepath.Join(f.Dir, "operational.pem")
}

// Operational loads the stored identity. A key that does not match its certificate (a crash
// between the two renames of Commit) counts as no identity: the device enrolls again.
func (f *Files) Operational() ([]*x509.Certificate, crypto.Signer, error) {
	kp, cp := f.paths()
	keyPEM, err := os.ReadFile(kp)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, ErrNoIdentity
	} else if err != nil {
		return nil, nil, err
	}
	certPEM, err := os.ReadFile(cp)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, ErrNoIdentity
	} else if err != nil {
		return nil, nil, err
	}
	signer, err := keys.ParsePrivateKeyPEM(keyPEM, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: %s: %w", kp, err)
	}
	chain, err := certpem.Parse(certPEM, certpem.Options{What: cp, SkipOther: true})
	if err != nil {
		return nil, nil, fmt.Errorf("agent: %w", err)
	}
	if _, err := tlsCert(chain, signer); err != nil {
		return nil, nil, ErrNoIdentity
	}
	return chain, signer, nil
}

// NewKey makes an ECDSA P-256 key.
func (f *Files) NewKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// Commit writes the key, then the certificate, each to a temporary file that is synced and
// renamed over the old one, so a reader sees either the old or the new file, never a torn one.
func (f *Files) Commit(key crypto.Signer, chain []*x509.Certificate) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("agent: encoding the operational key: %w", err)
	}
	var certs []byte
	for _, c := range chain {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	kp, cp := f.paths()
	if err := writeAtomic(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return err
	}
	return writeAtomic(cp, certs)
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func tlsCert(chain []*x509.Certificate, key crypto.Signer) (tls.Certificate, error) {
	type eq interface{ Equal(crypto.PublicKey) bool }
	if k, ok := key.Public().(eq); !ok || !k.Equal(chain[0].PublicKey) {
		return tls.Certificate{}, errors.New("the key does not belong to the certificate")
	}
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}
