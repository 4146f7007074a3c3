package agent

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"sync"
)

// Memory is a Keystore in memory, for virtual devices (hallmark simulate) and tests.
type Memory struct {
	mu      sync.Mutex
	factory tls.Certificate
	chain   []*x509.Certificate
	key     crypto.Signer
}

var _ Keystore = (*Memory)(nil)

// NewMemory holds a factory identity.
func NewMemory(factory []*x509.Certificate, key crypto.Signer) (*Memory, error) {
	c, err := tlsCert(factory, key)
	if err != nil {
		return nil, err
	}
	return &Memory{factory: c}, nil
}

// Factory returns the factory identity.
func (m *Memory) Factory() (tls.Certificate, error) { return m.factory, nil }

// Operational returns the current operational identity.
func (m *Memory) Operational() ([]*x509.Certificate, crypto.Signer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chain == nil {
		return nil, nil, ErrNoIdentity
	}
	return m.chain, m.key, nil
}

// NewKey makes an ECDSA P-256 key.
func (m *Memory) NewKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// Commit keeps the new identity.
func (m *Memory) Commit(key crypto.Signer, chain []*x509.Certificate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chain, m.key = chain, key
	return nil
}
