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

// ImportRequest brings an existing CA (certificate and key) under Hallmark. The key is given
// either as KeyURI, naming a key already in the server's HSM (a key ceremony's result,
// docs/ceremony.md: no private key crosses the API), or as KeyPEM, which only the file
// backend accepts.
type ImportRequest struct {
	PartyID    string
	Stage      string
	Name       string
	CertPEM    []byte // the CA certificate first, then optionally its issuers
	KeyURI     string // e.g. "pkcs11:token=hallmark;id=%01%02;object=issuing-2026"
	KeyPEM     []byte
	Passphrase []byte // for an encrypted key; the key is re-encrypted under Hallmark's passphrase
	// CRLPartitions is an imported issuing CA's CRL partition count, as in HierarchyRequest.
	CRLPartitions int
}

// ImportCA checks the key against the certificate before anything is stored, then stores the
// key through the key provider (KeyPEM) or records its canonical key URI (KeyURI), and the CA
// with fin's audit event. A key URI that does not resolve, an unreachable HSM and a key whose
// public half is not the certificate's all fail before anything is stored. An encrypted KeyPEM is
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
	var (
		signer crypto.Signer
		keyURI string
	)
	switch {
	case r.KeyURI != "" && len(r.KeyPEM) > 0:
		return ca.CA{}, failure.New(failure.Invalid, "give the CA's key URI or its private key, not both")
	case r.KeyURI != "":
		loc, ok := a.c.Keys.(keys.Locator)
		if !ok {
			return ca.CA{}, failure.New(failure.Invalid, "this server keeps CA keys in encrypted files and cannot reach a key by URI; configure an HSM backend (docs/keys.md)")
		}
		if signer, keyURI, err = loc.Locate(ctx, r.KeyURI); err != nil {
			if failure.Is(err, failure.NotFound) { // a bad reference in the request, not a missing resource
				return ca.CA{}, failure.Wrap(failure.Invalid, err, "the key URI names no key in the server's HSM")
			}
			return ca.CA{}, fmt.Errorf("locating the CA key: %w", err)
		}
	case len(r.KeyPEM) > 0:
		if signer, err = keys.ParsePrivateKeyPEM(r.KeyPEM, r.Passphrase); err != nil {
			return ca.CA{}, err
		}
	default:
		return ca.CA{}, failure.New(failure.Invalid, "give the CA's key: its key URI in the server's HSM or, with the file backend, its private key PEM")
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
	if keyURI != "" {
		c.KeyID = keyURI
	} else {
		// The key was parsed, and decrypted, once above; a provider that can store a parsed
		// key does not pay for the passphrase's key derivation a second time.
		if si, ok := a.c.Keys.(signerImporter); ok {
			_, err = si.ImportSigner(ctx, c.ID, signer)
		} else {
			_, err = a.c.Keys.Import(ctx, c.ID, r.KeyPEM, r.Passphrase)
		}
		if err != nil {
			return ca.CA{}, fmt.Errorf("storing the imported key: %w", err)
		}
		c.KeyID = c.ID
	}
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
