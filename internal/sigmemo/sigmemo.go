// Package sigmemo remembers certificate signatures that verified, so that a request that
// checks the same signature twice (an EST enrollment checks the factory certificate's at the
// TLS handshake and again when its chain is verified) computes it once.
//
// Invariants: only successes are remembered, never a failure; an entry is keyed by the
// SHA-256 of the full DER of both certificates, so a change to either (a tampered child, a
// different parent with the same subject or key) misses; the memo holds at most its size in
// entries whatever it is fed; it is safe for concurrent use. It remembers exactly what
// x509.Certificate.CheckSignatureFrom decided (the signature, and the parent's CA flag and
// keyUsage that it checks), which is a function of those bytes alone: nothing else about a
// certificate (its validity period, its path, its revocation) is remembered or implied.
package sigmemo

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
)

// DefaultSize is the number of entries New keeps when given none: a few seconds of
// enrollments at full rate, far more than the handshakes waiting for their request.
const DefaultSize = 4096

// key is the SHA-256 of the child's DER followed by the SHA-256 of the parent's.
type key [2 * sha256.Size]byte

// Memo is a bounded memory of successful signature checks. The zero value is not usable;
// a nil *Memo remembers nothing (CheckSignatureFrom always computes, Checked is false).
type Memo struct {
	mu   sync.Mutex
	half int // each generation holds at most half; together at most 2*half entries
	// cur takes new entries; when it is full it becomes prev and the old prev is dropped,
	// so an entry used within the last half..size additions survives.
	cur, prev map[key]struct{}
}

// New returns a Memo of at most size entries (DefaultSize when size < 2).
func New(size int) *Memo {
	if size < 2 {
		size = DefaultSize
	}
	return &Memo{half: size / 2, cur: make(map[key]struct{})}
}

func keyOf(child, parent *x509.Certificate) key {
	var k key
	c, p := sha256.Sum256(child.Raw), sha256.Sum256(parent.Raw)
	copy(k[:sha256.Size], c[:])
	copy(k[sha256.Size:], p[:])
	return k
}

// CheckSignatureFrom returns child.CheckSignatureFrom(parent), always computed, and
// remembers a success. Certificates are as x509.ParseCertificate returned them (Raw and the
// parsed fields agree); a nil or unparsed certificate is refused by x509 and not
// remembered.
func (m *Memo) CheckSignatureFrom(child, parent *x509.Certificate) error {
	if child == nil || parent == nil {
		return x509.ErrUnsupportedAlgorithm
	}
	err := child.CheckSignatureFrom(parent)
	if err == nil && m != nil && len(child.Raw) > 0 && len(parent.Raw) > 0 {
		m.add(keyOf(child, parent))
	}
	return err
}

// Checked reports whether child.CheckSignatureFrom(parent) succeeded, through
// CheckSignatureFrom, for these exact bytes of both, and is still remembered. False means
// only "not known": the caller checks the signature itself.
func (m *Memo) Checked(child, parent *x509.Certificate) bool {
	if m == nil || child == nil || parent == nil || len(child.Raw) == 0 || len(parent.Raw) == 0 {
		return false
	}
	k := keyOf(child, parent)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cur[k]; ok {
		return true
	}
	_, ok := m.prev[k]
	return ok
}

// Len is the number of entries remembered.
func (m *Memo) Len() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur) + len(m.prev)
}

func (m *Memo) add(k key) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cur[k]; ok {
		return
	}
	if len(m.cur) >= m.half {
		m.prev, m.cur = m.cur, make(map[key]struct{}, m.half)
	}
	m.cur[k] = struct{}{}
}
