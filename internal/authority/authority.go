// Package authority runs Hallmark's CAs: it creates and imports them, keeps an issuer per CA,
// and drives the one issuance cycle every profile goes through:
//
//	build template → lint under a throwaway key (issuance.Prepare) → reserve the serial and
//	the to-be-signed bytes (committed) → sign exactly those bytes → check the signed TBS →
//	store the certificate with its audit event in one transaction.
//
// A crash between reservation and storage leaves a reserved row and no certificate anywhere
// but in memory, so "no certificate was signed without its recorded intent" holds at every
// point. The code that holds CA keys (internal/keys behind crypto.Signer, internal/issuance)
// knows nothing of devices; callers pass a finalize function for their own records.
package authority

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Config holds the collaborators.
type Config struct {
	Store  store.Store
	Keys   keys.Provider
	Linter *issuance.Linter
	Now    func() time.Time
	Rand   io.Reader
	// CAStatusURLs, when set, gives the AIA OCSP and caIssuers URLs and the CRL distribution
	// point that a new issuing CA certificate carries: where its root, parent, publishes
	// status and its certificate (status.URLs.ForCA). nil, or empty answers, leave them out.
	CAStatusURLs func(parent ca.CA) (ocsp, crl, issuers []string)
}

// Authority issues certificates from the CAs in the store.
type Authority struct {
	c       Config
	mu      sync.Mutex
	issuers map[string]*issuance.Issuer
	chains  map[string]chainEntry // CA ID → ChainPEM's answer
}

// New returns an Authority.
func New(c Config) *Authority {
	return &Authority{c: c, issuers: map[string]*issuance.Issuer{}, chains: map[string]chainEntry{}}
}

// UseCAStatusURLs sets Config.CAStatusURLs: the composition root calls it while wiring, once
// the status URLs exist, before the Authority creates a hierarchy.
func (a *Authority) UseCAStatusURLs(f func(parent ca.CA) (ocsp, crl, issuers []string)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.c.CAStatusURLs = f
}

// Now is the authority's clock.
func (a *Authority) Now() time.Time { return a.c.Now() }

// Linter returns the linter, for callers that lint other artefacts.
func (a *Authority) Linter() *issuance.Linter { return a.c.Linter }

// Issuer returns the issuer of a CA that holds a key.
func (a *Authority) Issuer(ctx context.Context, c ca.CA) (*issuance.Issuer, error) {
	if c.KeyID == "" {
		return nil, failure.New(failure.Invalid, "CA %s (%s) is a trust anchor without a key: it cannot issue", c.ID, c.Name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if is, ok := a.issuers[c.ID]; ok {
		return is, nil
	}
	signer, err := keys.Load(ctx, a.c.Keys, c.KeyID) // an ID, or the key URI of an imported CA
	if err != nil {
		return nil, fmt.Errorf("loading the key of CA %s: %w", c.ID, err)
	}
	is, err := issuance.NewIssuer(c.Cert, signer, a.c.Linter)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", c.ID, err)
	}
	a.issuers[c.ID] = is
	return is, nil
}

// Finalize records what the caller issued, in the transaction that stores the certificate.
// It must append the audit event.
type Finalize func(tx store.Tx, cert *x509.Certificate) error

// Check refuses an issuance in the transaction that reserves its serial, before anything is
// signed: an error leaves nothing reserved, and Issue returns it wrapped (its failure kind
// kept). It must only read.
type Check func(tx store.Tx) error

// Issue runs the cycle for one certificate signed by issuer CA c.
func (a *Authority) Issue(ctx context.Context, c ca.CA, profile issuance.Profile, tmpl *x509.Certificate, deviceID string, fin Finalize) (*x509.Certificate, error) {
	return a.IssueChecked(ctx, c, profile, tmpl, deviceID, nil, fin)
}

// IssueChecked is Issue with check (nil: none) run in the reservation's transaction. It lets
// a caller refuse on a read that would otherwise need a read transaction of its own before
// the cycle (factory issuance's serial check), at no cost of a signature: the reservation
// precedes signing.
func (a *Authority) IssueChecked(ctx context.Context, c ca.CA, profile issuance.Profile, tmpl *x509.Certificate, deviceID string, check Check, fin Finalize) (*x509.Certificate, error) {
	is, err := a.Issuer(ctx, c)
	if err != nil {
		return nil, err
	}
	p, err := is.Prepare(profile, tmpl, a.c.Rand)
	if err != nil {
		return nil, fmt.Errorf("preparing the %s certificate: %w", profile, err)
	}
	return a.complete(ctx, c, p, deviceID, check, func() (*x509.Certificate, error) { return is.Sign(p) }, fin)
}

// complete reserves, signs and stores a prepared certificate of CA c; check (nil: none) runs
// in the reservation's transaction.
func (a *Authority) complete(ctx context.Context, c ca.CA, p *issuance.Prepared, deviceID string, check Check, sign func() (*x509.Certificate, error), fin Finalize) (*x509.Certificate, error) {
	now := a.c.Now()
	part, err := a.crlPartition(c, deviceID)
	if err != nil {
		return nil, err
	}
	rec := ca.Cert{Serial: p.Serial(), CAID: c.ID, DeviceID: deviceID, Profile: string(p.Profile()), TBS: p.TBS(), NotBefore: p.NotBefore(), NotAfter: p.NotAfter(), CreatedAt: now, CRLPartition: part}
	if rec.KeySHA256, err = ca.TBSKeySHA256(rec.TBS); err != nil {
		return nil, fmt.Errorf("hashing the public key of serial %s: %w", ca.SerialHex(p.Serial()), err)
	}
	if err := a.c.Store.Update(ctx, func(tx store.Tx) error {
		if err := mayIssue(tx, c.ID, p.Profile(), now); err != nil {
			return err
		}
		if err := keyFree(tx, rec); err != nil {
			return err
		}
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		return tx.Certificates().Reserve(rec)
	}); err != nil {
		return nil, fmt.Errorf("reserving serial %s: %w", ca.SerialHex(p.Serial()), err)
	}
	cert, err := sign()
	if err != nil {
		return nil, fmt.Errorf("signing serial %s: %w", ca.SerialHex(p.Serial()), err)
	}
	err = a.c.Store.Update(ctx, func(tx store.Tx) error {
		// Checked again where the certificate becomes valid: a whole-CA revocation that
		// started after the reservation must not miss it. A succession's overlap is judged
		// at the reservation's time, so a request under way when the CA was succeeded
		// finishes within the overlap.
		if err := mayIssue(tx, c.ID, p.Profile(), now); err != nil {
			return err
		}
		// Again where the key becomes bound: a concurrent issuance of the same key to another
		// device may have been stored since the reservation.
		if err := keyFree(tx, rec); err != nil {
			return err
		}
		if err := tx.Certificates().MarkIssued(cert.SerialNumber, cert.Raw, now); err != nil {
			return err
		}
		return fin(tx, cert)
	})
	if err != nil {
		return nil, fmt.Errorf("storing serial %s: %w", ca.SerialHex(p.Serial()), err)
	}
	return cert, nil
}

// mayIssue refuses issuance by a CA that a whole-CA revocation retired, or that a successor
// replaced and whose overlap has ended at now (ca.Standing.Check); a succeeded CA still signs
// its own OCSP responder certificates, to keep serving status.
func mayIssue(tx store.Tx, caID string, p issuance.Profile, now time.Time) error {
	st, err := tx.Succession().Standing(caID)
	if failure.Is(err, failure.NotFound) {
		return nil // a CA being created signs its own certificate before it is stored
	}
	if err != nil {
		return err
	}
	return st.Check(now, p == issuance.ProfileOCSPResponder)
}

// crlPartition is the CRL partition of a new certificate of c: ca.DevicePartition for a
// device's certificate, so that it matches the partition URL its CRL distribution point was
// built with (status.URLs.For); a random draw for a certificate without a device, which
// names the full CRL if any. 0 under an unpartitioned CA.
func (a *Authority) crlPartition(c ca.CA, deviceID string) (int, error) {
	switch {
	case c.CRLPartitions <= 0:
		return 0, nil
	case deviceID != "":
		return ca.DevicePartition(deviceID, c.CRLPartitions), nil
	}
	n, err := rand.Int(a.c.Rand, big.NewInt(int64(c.CRLPartitions)))
	if err != nil {
		return 0, fmt.Errorf("drawing a CRL partition: %w", err)
	}
	return int(n.Int64()), nil
}

// checkCRLPartitions resolves a requested partition count: 0 takes the default.
func checkCRLPartitions(p int) (int, error) {
	if p == 0 {
		return ca.DefaultCRLPartitions, nil
	}
	if p < 1 || p > ca.MaxCRLPartitions {
		return 0, failure.New(failure.Invalid, "CRL partitions must be 1 to %d, not %d", ca.MaxCRLPartitions, p)
	}
	return p, nil
}

// HierarchyRequest asks for a new root and issuing CA pair.
type HierarchyRequest struct {
	PartyID      string
	Organization string
	Stage        string
	Name         string // the issuing CA is named Name, the root Name+"-root"
	Algorithm    keys.Algorithm
	RootLife     time.Duration
	IssuingLife  time.Duration
	// CRLPartitions is the issuing CA's CRL partition count, 1 to ca.MaxCRLPartitions; 0
	// takes ca.DefaultCRLPartitions. It never changes afterwards.
	CRLPartitions int
	// FactoryValidity is recorded with the issuing CA (ca.CA.FactoryValidity): "" for a
	// hierarchy that issues no factory certificates.
	FactoryValidity string
}

// CreateHierarchy creates a root CA and an issuing CA under it. fin runs once per CA in the
// transaction that stores it and must append the audit event.
func (a *Authority) CreateHierarchy(ctx context.Context, r HierarchyRequest, fin func(tx store.Tx, c ca.CA) error) (root, issuing ca.CA, err error) {
	if r.Algorithm == "" {
		r.Algorithm = "ecdsa-p256"
	}
	if err := r.Algorithm.Validate(); err != nil {
		return root, issuing, err
	}
	parts, err := checkCRLPartitions(r.CRLPartitions)
	if err != nil {
		return root, issuing, err
	}
	now := a.c.Now()
	root = ca.CA{ID: newCAID(), PartyID: r.PartyID, Stage: r.Stage, Role: ca.Root, Name: r.Name + "-root", CreatedAt: now}
	rootKey, err := a.c.Keys.Create(ctx, root.ID, r.Algorithm)
	if err != nil {
		return root, issuing, fmt.Errorf("creating the root key: %w", err)
	}
	root.KeyID = root.ID
	tmpl, err := issuance.CATemplate(issuance.CAParams{Profile: issuance.ProfileRootCA, CommonName: r.Name + " Root CA", Organization: r.Organization,
		PublicKey: rootKey.Public(), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(r.RootLife), MaxPathLen: 1})
	if err != nil {
		return root, issuing, err
	}
	p, err := issuance.PrepareSelfSigned(issuance.ProfileRootCA, tmpl, rootKey, a.c.Linter, a.c.Rand)
	if err != nil {
		return root, issuing, fmt.Errorf("preparing the root certificate: %w", err)
	}
	rootCert, err := a.complete(ctx, root, p, "", nil, func() (*x509.Certificate, error) { return issuance.SignSelfSigned(p, rootKey) }, func(tx store.Tx, cert *x509.Certificate) error {
		root.Cert, root.CertDER = cert, cert.Raw
		if err := tx.CAs().CreateCA(root); err != nil {
			return err
		}
		return fin(tx, root)
	})
	if err != nil {
		return root, issuing, err
	}
	root.Cert, root.CertDER = rootCert, rootCert.Raw

	issuing = ca.CA{ID: newCAID(), PartyID: r.PartyID, Stage: r.Stage, Role: ca.Issuing, ParentID: root.ID, Name: r.Name, CreatedAt: now, CRLPartitions: parts,
		FactoryValidity: r.FactoryValidity}
	issKey, err := a.c.Keys.Create(ctx, issuing.ID, r.Algorithm)
	if err != nil {
		return root, issuing, fmt.Errorf("creating the issuing key: %w", err)
	}
	issuing.KeyID = issuing.ID
	life := min(r.IssuingLife, rootCert.NotAfter.Sub(now))
	params := issuance.CAParams{Profile: issuance.ProfileIssuingCA, CommonName: r.Name + " Issuing CA", Organization: r.Organization,
		PublicKey: issKey.Public(), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(life), MaxPathLen: 0}
	a.mu.Lock()
	urls := a.c.CAStatusURLs
	a.mu.Unlock()
	if urls != nil {
		params.OCSPServer, params.CRLDistributionPoints, params.IssuingCertificateURL = urls(root)
	}
	tmpl, err = issuance.CATemplate(params)
	if err != nil {
		return root, issuing, err
	}
	cert, err := a.Issue(ctx, root, issuance.ProfileIssuingCA, tmpl, "", func(tx store.Tx, cert *x509.Certificate) error {
		issuing.Cert, issuing.CertDER = cert, cert.Raw
		if err := tx.CAs().CreateCA(issuing); err != nil {
			return err
		}
		return fin(tx, issuing)
	})
	if err != nil {
		return root, issuing, err
	}
	issuing.Cert, issuing.CertDER = cert, cert.Raw
	return root, issuing, nil
}

func newCAID() string { return "ca-" + randomSuffix() }

// CheckKeyMatches reports whether signer holds the key of cert.
func CheckKeyMatches(cert *x509.Certificate, signer crypto.Signer) error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := signer.Public().(equaler)
	if !ok || !pub.Equal(cert.PublicKey) {
		return failure.New(failure.Invalid, "the private key does not belong to the certificate %q", cert.Subject.String())
	}
	return nil
}

// maxChainDepth bounds a walk up the CA tree. Hallmark's hierarchies are two CAs deep and an
// imported one a few more; a longer walk means stored parents form a cycle.
const maxChainDepth = 8

// Chain reads the CA id and the CAs above it by ParentID: the CA first, its root last. It is
// the one walk up the CA tree. When a read fails, or maxChainDepth CAs are read without
// reaching a root, it returns the CAs read so far with the error.
func (a *Authority) Chain(ctx context.Context, id string) ([]ca.CA, error) {
	var out []ca.CA
	err := a.c.Store.View(ctx, func(tx store.Tx) error {
		out = out[:0]
		for next := id; next != ""; {
			if len(out) == maxChainDepth {
				return fmt.Errorf("CA %s: more than %d CAs above it without a root", id, maxChainDepth-1)
			}
			c, err := tx.CAs().GetCA(next)
			if err != nil {
				return fmt.Errorf("reading CA %s of the chain of %s: %w", next, id, err)
			}
			out = append(out, c)
			next = c.ParentID
		}
		return nil
	})
	return out, err
}

// ChainPEM returns a CA's certificate followed by its ancestors', PEM, for clients that need
// the chain of a certificate it issued. When the chain cannot be read whole it returns the
// part that was read.
//
// A chain read to its root is kept by CA ID: a CA's certificate and parent never change once
// stored (only retired_at does), so every issuance need not read its ancestors again. The
// entry is used only while the CA presented carries the certificate it was built from.
func (a *Authority) ChainPEM(ctx context.Context, c ca.CA) string {
	a.mu.Lock()
	ch, ok := a.chains[c.ID]
	a.mu.Unlock()
	if ok && bytes.Equal(ch.der, c.CertDER) {
		return ch.pem
	}
	chain, err := a.Chain(ctx, c.ID)
	var b strings.Builder
	for _, x := range chain {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.CertDER}))
	}
	if err == nil && len(chain) > 0 && bytes.Equal(chain[0].CertDER, c.CertDER) {
		a.mu.Lock()
		if len(a.chains) >= maxChains {
			clear(a.chains)
		}
		a.chains[c.ID] = chainEntry{der: c.CertDER, pem: b.String()}
		a.mu.Unlock()
	}
	return b.String()
}

// chainEntry is a CA's chain as ChainPEM returns it, with the CA certificate it starts with.
type chainEntry struct {
	der []byte
	pem string
}

// maxChains bounds the chains kept; past it they are read again. Deployments have tens of CAs.
const maxChains = 1024
