package issuance

import (
	"bytes"
	"crypto/x509"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// CrossCATemplate returns the template of a cross-certificate (ProfileCrossCA) for the CA
// certificate subject, to be signed by another root's issuer: subject's exact name (its DER,
// so that certificates naming it as their issuer chain to this certificate), key and subject
// key identifier, its basic constraints, and the keyUsage of CATemplate. The issuer's name and
// key identifier come from the issuer when it signs.
//
// A rollover keeps the root's name: the new root has the old one's, so both cross-certificates
// are self-issued (RFC 5280 section 3.2) and do not count against a pathLenConstraint on the
// way to either root (section 6.1.4 (l)).
func CrossCATemplate(subject *x509.Certificate, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if subject == nil || !subject.BasicConstraintsValid || !subject.IsCA {
		return nil, failure.New(failure.Invalid, "cross-certificate template: the subject is not a CA certificate")
	}
	t, err := base(subject.PublicKey, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	if len(subject.SubjectKeyId) > 0 {
		t.SubjectKeyId = bytes.Clone(subject.SubjectKeyId)
	}
	t.RawSubject = bytes.Clone(subject.RawSubject)
	t.Subject = subject.Subject
	t.BasicConstraintsValid = true
	t.IsCA = true
	t.MaxPathLen = subject.MaxPathLen
	t.MaxPathLenZero = subject.MaxPathLenZero
	t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return t, nil
}
