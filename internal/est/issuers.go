package est

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// Issuers decides at the TLS layer whether a client certificate can be a Hallmark identity at
// all: issued by a CA of this deployment or by a registered anchor. It is a cheap filter in
// front of the Enroller, which still decides everything else (validity, revocation, custody,
// policy); a certificate it lets through may still be refused.
type Issuers interface {
	// Issued returns nil when chain[0] was signed by a known CA, directly or through the
	// certificates after it in chain; otherwise an error, best an *UnknownIssuerError.
	Issued(chain []*x509.Certificate) error
}

// UnknownIssuerError refuses a client certificate whose issuer is not known, or a handshake
// at a moment when the known issuers cannot be read (Err says why).
type UnknownIssuerError struct {
	Subject, Issuer string // of the certificate refused; empty when none was looked at
	Err             error
}

func (e *UnknownIssuerError) Error() string {
	if e.Subject == "" {
		return fmt.Sprintf("est: client certificate refused: %v", e.Err)
	}
	msg := fmt.Sprintf("est: client certificate %q: its issuer %q is not a CA of this deployment, a registered anchor nor a registered maker's CA", e.Subject, e.Issuer)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *UnknownIssuerError) Unwrap() error { return e.Err }

// Bounds of the work Issued does for one handshake, whatever the client sends.
const (
	// MaxChain is how many presented certificates are looked at, leaf included.
	MaxChain = 8
	// maxSignatures bounds the signature checks per chain.
	maxSignatures = 12
)

// IssuerSet is an immutable set of CA certificates, indexed by subject. Its Issued checks
// signatures and the CA flag only (x509.Certificate.CheckSignatureFrom), not validity periods:
// an expired certificate is the Enroller's to refuse, with a reason the client can read.
type IssuerSet struct {
	bySubject map[string][]*x509.Certificate
	n         int
	sig       SignatureChecker // nil: x509.Certificate.CheckSignatureFrom
}

var _ Issuers = (*IssuerSet)(nil)

// SignatureChecker checks child's signature by parent as x509.Certificate.CheckSignatureFrom
// does, every time, and may remember the successes for a later check of the same bytes in the
// same request (sigmemo.Memo: the Enroller's factory chain verification).
type SignatureChecker interface {
	CheckSignatureFrom(child, parent *x509.Certificate) error
}

// NewIssuerSet returns the set of cas; nil entries are skipped.
func NewIssuerSet(cas []*x509.Certificate) *IssuerSet {
	return NewCheckedIssuerSet(cas, nil)
}

// NewCheckedIssuerSet is NewIssuerSet whose signature checks go through sig (nil: none).
func NewCheckedIssuerSet(cas []*x509.Certificate, sig SignatureChecker) *IssuerSet {
	s := &IssuerSet{bySubject: make(map[string][]*x509.Certificate, len(cas)), sig: sig}
	for _, c := range cas {
		if c == nil || len(c.Raw) == 0 {
			continue
		}
		s.bySubject[string(c.RawSubject)] = append(s.bySubject[string(c.RawSubject)], c)
		s.n++
	}
	return s
}

// Len is how many CA certificates the set holds.
func (s *IssuerSet) Len() int { return s.n }

// Issued walks up from chain[0]: at each step it accepts when a CA of the set signed the
// certificate, else it climbs to a presented certificate that did. At most MaxChain
// certificates and a dozen signatures are looked at.
func (s *IssuerSet) Issued(chain []*x509.Certificate) error {
	if len(chain) == 0 || chain[0] == nil {
		return &UnknownIssuerError{Err: errors.New("no client certificate")}
	}
	leaf := chain[0]
	refuse := func(err error) error {
		return &UnknownIssuerError{Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), Err: err}
	}
	presented := chain[1:min(len(chain), MaxChain)]
	checks := 0
	check := func(c, by *x509.Certificate) error { return c.CheckSignatureFrom(by) }
	if s.sig != nil {
		check = s.sig.CheckSignatureFrom
	}
	signed := func(c, by *x509.Certificate) bool {
		checks++
		return checks <= maxSignatures && check(c, by) == nil
	}
	cur := leaf
	for range MaxChain {
		for _, ca := range s.bySubject[string(cur.RawIssuer)] {
			if signed(cur, ca) {
				return nil
			}
		}
		var next *x509.Certificate
		for _, p := range presented {
			if p != nil && p != cur && bytes.Equal(p.RawSubject, cur.RawIssuer) && signed(cur, p) {
				next = p
				break
			}
		}
		if next == nil || checks >= maxSignatures {
			break
		}
		cur = next
	}
	if checks >= maxSignatures {
		return refuse(fmt.Errorf("no known issuer within %d signature checks", maxSignatures))
	}
	return refuse(nil)
}

// verifyClient is the VerifyConnection callback of TLSConfig: no certificate passes (cacerts
// needs none; enrollments answer 401), any other must have a known issuer. VerifyConnection
// rather than VerifyPeerCertificate because it also runs on resumed sessions.
func verifyClient(issuers Issuers) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil
		}
		return issuers.Issued(cs.PeerCertificates)
	}
}
