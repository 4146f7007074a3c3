package simulate

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync"

	"github.com/hallmark-id/hallmark/internal/agent"
)

// deviceStore is one simulated device's keystore, kept small because a run holds a million
// of them: certificates are kept as DER and parsed when used, and the CA certificates every
// device shares are parsed once (interned). agent.Memory keeps parsed chains, about 40 KB per
// device once the operational identity is added: 40 GB at a million devices.
type deviceStore struct {
	mu         sync.Mutex
	factoryKey crypto.Signer
	factory    [][]byte // leaf DER, then the shared CA DERs
	opKey      crypto.Signer
	opLeaf     []byte
	opCAs      []*x509.Certificate // interned
}

var _ agent.Keystore = (*deviceStore)(nil)

// interned holds each CA certificate the fleet has seen, parsed once, by DER.
var interned sync.Map // string(DER) → *x509.Certificate

func intern(c *x509.Certificate) *x509.Certificate {
	if v, ok := interned.Load(string(c.Raw)); ok {
		return v.(*x509.Certificate)
	}
	v, _ := interned.LoadOrStore(string(bytes.Clone(c.Raw)), c)
	return v.(*x509.Certificate)
}

func newDeviceStore(chain []*x509.Certificate, key crypto.Signer) (*deviceStore, error) {
	if len(chain) == 0 {
		return nil, errors.New("simulate: no factory certificate")
	}
	type eq interface{ Equal(crypto.PublicKey) bool }
	if k, ok := key.Public().(eq); !ok || !k.Equal(chain[0].PublicKey) {
		return nil, errors.New("simulate: the key does not belong to the factory certificate")
	}
	s := &deviceStore{factoryKey: key, factory: [][]byte{bytes.Clone(chain[0].Raw)}}
	for _, c := range chain[1:] {
		s.factory = append(s.factory, intern(c).Raw)
	}
	return s, nil
}

// Factory returns the factory identity for TLS, its leaf parsed for the agent.
func (s *deviceStore) Factory() (tls.Certificate, error) {
	leaf, err := x509.ParseCertificate(s.factory[0])
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: s.factory, PrivateKey: s.factoryKey, Leaf: leaf}, nil
}

// Operational returns the current operational identity, or agent.ErrNoIdentity.
func (s *deviceStore) Operational() ([]*x509.Certificate, crypto.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opLeaf == nil {
		return nil, nil, agent.ErrNoIdentity
	}
	leaf, err := x509.ParseCertificate(s.opLeaf)
	if err != nil {
		return nil, nil, err
	}
	return append([]*x509.Certificate{leaf}, s.opCAs...), s.opKey, nil
}

// NewKey makes an ECDSA P-256 key.
func (s *deviceStore) NewKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// Commit keeps the new identity.
func (s *deviceStore) Commit(key crypto.Signer, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("simulate: empty chain")
	}
	cas := make([]*x509.Certificate, 0, len(chain)-1)
	for _, c := range chain[1:] {
		cas = append(cas, intern(c))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opKey, s.opLeaf, s.opCAs = key, bytes.Clone(chain[0].Raw), cas
	return nil
}
