package authority

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/store"
)

func checkCA(c *x509.Certificate) error {
	if !c.BasicConstraintsValid || !c.IsCA {
		return failure.New(failure.Invalid, "certificate %q is not a CA certificate (basicConstraints cA is not true)", c.Subject.String())
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return failure.New(failure.Invalid, "certificate %q may not sign certificates (keyUsage lacks keyCertSign)", c.Subject.String())
	}
	return nil
}

// signerImporter is a key provider that stores a key keys.ParsePrivateKeyPEM already parsed
// (internal/keys/file does).
type signerImporter interface {
	ImportSigner(ctx context.Context, id string, s crypto.Signer) (crypto.Signer, error)
}

// ImportRequest brings an existing CA (certificate and key) under Hallmark.
type ImportRequest struct {
	PartyID    string
	Stage      string
	Name       string
	CertPEM    []byte // the CA certificate first, then optionally its issuers
	KeyPEM     []byte
	Passphrase []byte // for an encrypted key; the key is re-encrypted under Hallmark's passphrase
	// CRLPartitions is an imported issuing CA's CRL partition count, as in HierarchyRequest.
	CRLPartitions int
}

// ImportCA checks the key against the certificate before anything is stored, then stores the
// key through the key provider and the CA with fin's audit event. An encrypted key is
// decrypted once, with at most keys.MaxPBKDF2Iterations of PBKDF2.
func (a *Authority) ImportCA(ctx context.Context, r ImportRequest, fin func(tx store.Tx, c ca.CA) error) (ca.CA, error) {
	certs, err := certpem.Parse(r.CertPEM, certpem.Options{What: "certificate_pem"})
	if err != nil {
		return ca.CA{}, err
	}
	cert := certs[0]
	if err := checkCA(cert); err != nil {
		return ca.CA{}, err
	}
	signer, err := keys.ParsePrivateKeyPEM(r.KeyPEM, r.Passphrase)
	if err != nil {
		return ca.CA{}, err
	}
	if err := CheckKeyMatches(cert, signer); err != nil {
		return ca.CA{}, err
	}
	if _, err := issuanceCheck(cert, signer, a); err != nil {
		return ca.CA{}, err
	}
	parts, err := checkCRLPartitions(r.CRLPartitions)
	if err != nil {
		return ca.CA{}, err
	}
	now := a.c.Now()
	c := ca.CA{ID: newCAID(), PartyID: r.PartyID, Stage: r.Stage, Role: ca.Issuing, Name: r.Name, Imported: true, CertDER: cert.Raw, Cert: cert, CreatedAt: now, CRLPartitions: parts}
	if cert.CheckSignatureFrom(cert) == nil {
		c.Role, c.CRLPartitions = ca.Root, 0
	}
	// The key was parsed, and decrypted, once above; a provider that can store a parsed key
	// does not pay for the passphrase's key derivation a second time.
	if si, ok := a.c.Keys.(signerImporter); ok {
		_, err = si.ImportSigner(ctx, c.ID, signer)
	} else {
		_, err = a.c.Keys.Import(ctx, c.ID, r.KeyPEM, r.Passphrase)
	}
	if err != nil {
		return ca.CA{}, fmt.Errorf("storing the imported key: %w", err)
	}
	c.KeyID = c.ID
	err = a.c.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CAs().CreateCA(c); err != nil {
			return err
		}
		return fin(tx, c)
	})
	return c, err
}

// RegisterAnchor records another maker's CA certificate, without a key, so that its devices
// can be verified later.
func (a *Authority) RegisterAnchor(ctx context.Context, partyID, name string, certPEM []byte, fin func(tx store.Tx, c ca.CA) error) (ca.CA, error) {
	certs, err := certpem.Parse(certPEM, certpem.Options{What: "certificate_pem"})
	if err != nil {
		return ca.CA{}, err
	}
	if len(certs) != 1 {
		return ca.CA{}, failure.New(failure.Invalid, "register one anchor certificate at a time (got %d)", len(certs))
	}
	if err := checkCA(certs[0]); err != nil {
		return ca.CA{}, err
	}
	c := ca.CA{ID: newCAID(), PartyID: partyID, Stage: "manufacturing", Role: ca.Anchor, Name: name, CertDER: certs[0].Raw, Cert: certs[0], CreatedAt: a.c.Now()}
	err = a.c.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CAs().CreateCA(c); err != nil {
			return err
		}
		return fin(tx, c)
	})
	return c, err
}

// issuanceCheck makes sure the issuance core accepts this CA and key before anything is stored.
func issuanceCheck(cert *x509.Certificate, signer interface{ Public() crypto.PublicKey }, a *Authority) (bool, error) {
	s, ok := signer.(crypto.Signer)
	if !ok {
		return false, failure.New(failure.Invalid, "the key cannot sign")
	}
	if _, err := issuance.NewIssuer(cert, s, a.c.Linter); err != nil {
		return false, failure.Wrap(failure.Invalid, err, "the CA cannot issue")
	}
	return true, nil
}
