package authority

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Rotation of CAs (docs/rotation.md; the rules are ca/rotation.go's). The authority signs and
// records; who may rotate, and the audit events, are the caller's (internal/rotation).

// Record appends the audit event of one step of a rotation, in the transaction of that step:
// action is ca.create (the successor or new root), ca.rotate (an issuing CA succeeded),
// ca.cross-certify (a cross-certificate) or ca.rollover (a root succeeded); c is the CA the
// step made or changed and detail what the event records of it.
type Record func(tx store.Tx, action string, c ca.CA, detail map[string]any) error

// SuccessionRequest asks for the successor of a CA.
type SuccessionRequest struct {
	CAID string
	// Name is the successor's name (a slug, unique within the party); "" names it after the
	// CA it succeeds: "<name>-2", or the next free number.
	Name string
	// Overlap is how long the old CA goes on signing after the successor takes over, so that
	// requests under way finish. 0 stops it at once.
	Overlap time.Duration
}

// Succession is the outcome of a rotation or rollover.
type Succession struct {
	Old, New ca.CA
	// LotsMoved and EnvironmentsMoved count the lots and environments that named the old CA
	// and now name the new one (always 0 for a root).
	LotsMoved, EnvironmentsMoved int64
	// Cross are the cross-certificates of a rollover: new-with-old (the new root's key
	// signed by the old root), then old-with-new.
	Cross []ca.CrossCert
}

// Rotate creates the successor of an issuing CA: a new key through the key provider, of the
// old key's algorithm, certified by the CA's root, or by the newest root of the root's line
// when the root rolled over. In the transaction that stores it, the old CA records its
// successor and the end of its overlap, and every lot and environment that named the old CA
// moves to the new one. The successor lives as long as the old CA did, within its root.
func (a *Authority) Rotate(ctx context.Context, r SuccessionRequest, rec Record) (Succession, error) {
	var out Succession
	now := a.c.Now()
	var parent ca.CA
	err := a.c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if out.Old, err = tx.CAs().GetCA(r.CAID); err != nil {
			return err
		}
		if err := successionCheck(out.Old, ca.Issuing, now); err != nil {
			return err
		}
		if out.Old.ParentID == "" {
			return failure.New(failure.Invalid, "CA %s was imported without its root, so Hallmark cannot certify a successor: create a new hierarchy and move its lots and environments", out.Old.ID)
		}
		if parent, err = newestOfLine(tx, out.Old.ParentID); err != nil {
			return err
		}
		if parent.KeyID == "" || !now.Before(parent.Cert.NotAfter) {
			return failure.New(failure.Invalid, "root %s of CA %s cannot sign (no key, or expired): roll it over first", parent.ID, out.Old.ID)
		}
		if err := parent.Standing().Check(now, false); err != nil {
			return err
		}
		r.Name, err = successorName(tx, out.Old, r.Name)
		return err
	})
	if err != nil {
		return out, err
	}
	alg, err := algorithmOf(out.Old.Cert.PublicKey)
	if err != nil {
		return out, err
	}
	parts := out.Old.CRLPartitions
	if parts <= 0 {
		parts = ca.DefaultCRLPartitions
	}
	next := ca.CA{ID: newCAID(), PartyID: out.Old.PartyID, Stage: out.Old.Stage, Role: ca.Issuing, ParentID: parent.ID, Name: r.Name, CreatedAt: now, CRLPartitions: parts}
	key, err := a.c.Keys.Create(ctx, next.ID, alg)
	if err != nil {
		return out, fmt.Errorf("creating the key of the successor of %s: %w", out.Old.ID, err)
	}
	next.KeyID = next.ID
	life := min(lifeOf(out.Old.Cert), parent.Cert.NotAfter.Sub(now))
	tmpl, err := issuance.CATemplate(issuance.CAParams{Profile: issuance.ProfileIssuingCA, CommonName: r.Name + " Issuing CA", Organization: orgOf(out.Old.Cert),
		PublicKey: key.Public(), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(life), MaxPathLen: 0})
	if err != nil {
		return out, err
	}
	until := now.Add(r.Overlap)
	cert, err := a.Issue(ctx, parent, issuance.ProfileIssuingCA, tmpl, "", func(tx store.Tx, cert *x509.Certificate) error {
		next.Cert, next.CertDER = cert, cert.Raw
		if err := tx.CAs().CreateCA(next); err != nil {
			return err
		}
		if err := rec(tx, "ca.create", next, map[string]any{"role": next.Role, "name": next.Name, "subject": cert.Subject.String(), "crl_partitions": next.CRLPartitions, "predecessor": out.Old.ID}); err != nil {
			return err
		}
		var err error
		if out.LotsMoved, out.EnvironmentsMoved, err = tx.Succession().Succeed(out.Old.ID, next.ID, now, until); err != nil {
			return err
		}
		return rec(tx, "ca.rotate", out.Old, map[string]any{"successor": next.ID, "issues_until": until, "lots_moved": out.LotsMoved, "environments_moved": out.EnvironmentsMoved})
	})
	if err != nil {
		return out, err
	}
	next.Cert, next.CertDER = cert, cert.Raw
	out.New = next
	out.Old.SuccessorID, out.Old.SucceededAt, out.Old.IssuesUntil = next.ID, &now, &until
	return out, nil
}

// Rollover replaces a root: a new root of the old one's name (so the cross-certificates are
// self-issued, RFC 5280 section 3.2) and key algorithm, as long-lived as the old one, then
// the two cross-certificates of RFC 4210 section 4.4: new-with-old, the new root's key signed
// by the old root, and old-with-new, the old root's key signed by the new root, each valid
// while both roots are. The old root records its successor in the transaction of the last
// cross-certificate, so a rollover that fails part-way leaves the old root in charge (and an
// unused new root, which may be ignored). Issuing CAs under the old root move to the new one
// when they rotate (Rotate).
//
// The new root has no pathLenConstraint: relying parties on Go's crypto/x509, which counts
// self-issued certificates against it, can then build paths through a later rollover's
// cross-certificate. The old root keeps its own.
func (a *Authority) Rollover(ctx context.Context, r SuccessionRequest, rec Record) (Succession, error) {
	var out Succession
	now := a.c.Now()
	err := a.c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if out.Old, err = tx.CAs().GetCA(r.CAID); err != nil {
			return err
		}
		if err := successionCheck(out.Old, ca.Root, now); err != nil {
			return err
		}
		r.Name, err = successorName(tx, out.Old, r.Name)
		return err
	})
	if err != nil {
		return out, err
	}
	old := out.Old
	alg, err := algorithmOf(old.Cert.PublicKey)
	if err != nil {
		return out, err
	}
	next := ca.CA{ID: newCAID(), PartyID: old.PartyID, Stage: old.Stage, Role: ca.Root, Name: r.Name, CreatedAt: now}
	key, err := a.c.Keys.Create(ctx, next.ID, alg)
	if err != nil {
		return out, fmt.Errorf("creating the key of the successor of root %s: %w", old.ID, err)
	}
	next.KeyID = next.ID
	cn := old.Cert.Subject.CommonName
	if cn == "" {
		cn = r.Name + " Root CA"
	}
	tmpl, err := issuance.CATemplate(issuance.CAParams{Profile: issuance.ProfileRootCA, CommonName: cn, Organization: orgOf(old.Cert),
		PublicKey: key.Public(), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(lifeOf(old.Cert)), MaxPathLen: -1})
	if err != nil {
		return out, err
	}
	tmpl.RawSubject = bytes.Clone(old.Cert.RawSubject)
	p, err := issuance.PrepareSelfSigned(issuance.ProfileRootCA, tmpl, key, a.c.Linter, a.c.Rand)
	if err != nil {
		return out, fmt.Errorf("preparing the new root certificate: %w", err)
	}
	cert, err := a.complete(ctx, next, p, "", nil, func() (*x509.Certificate, error) { return issuance.SignSelfSigned(p, key) }, func(tx store.Tx, cert *x509.Certificate) error {
		next.Cert, next.CertDER = cert, cert.Raw
		if err := tx.CAs().CreateCA(next); err != nil {
			return err
		}
		return rec(tx, "ca.create", next, map[string]any{"role": next.Role, "name": next.Name, "subject": cert.Subject.String(), "crl_partitions": 0, "predecessor": old.ID})
	})
	if err != nil {
		return out, err
	}
	next.Cert, next.CertDER = cert, cert.Raw
	out.New = next

	until := now.Add(r.Overlap)
	for i, pair := range []struct{ subject, issuer ca.CA }{{next, old}, {old, next}} {
		last := i == 1
		x, err := a.crossCertify(ctx, pair.subject, pair.issuer, now, func(tx store.Tx, x ca.CrossCert) error {
			if err := rec(tx, "ca.cross-certify", pair.issuer, map[string]any{"serial": x.Serial, "subject_ca": x.SubjectID, "issuer_ca": x.IssuerID, "not_after": x.Cert.NotAfter}); err != nil {
				return err
			}
			if !last {
				return nil
			}
			if _, _, err := tx.Succession().Succeed(old.ID, next.ID, now, until); err != nil {
				return err
			}
			return rec(tx, "ca.rollover", old, map[string]any{"successor": next.ID, "issues_until": until})
		})
		if err != nil {
			return out, err
		}
		out.Cross = append(out.Cross, x)
	}
	out.Old.SuccessorID, out.Old.SucceededAt, out.Old.IssuesUntil = next.ID, &now, &until
	return out, nil
}

// crossCertify has issuer sign a cross-certificate of subject and records it; fin runs in
// that transaction.
func (a *Authority) crossCertify(ctx context.Context, subject, issuer ca.CA, now time.Time, fin func(store.Tx, ca.CrossCert) error) (ca.CrossCert, error) {
	end := subject.Cert.NotAfter
	if issuer.Cert.NotAfter.Before(end) {
		end = issuer.Cert.NotAfter
	}
	tmpl, err := issuance.CrossCATemplate(subject.Cert, now.Add(-time.Minute), end)
	if err != nil {
		return ca.CrossCert{}, err
	}
	// crypto/x509 takes the authority key identifier from the issuer only when the names
	// differ; a rollover's names are equal, so it is set here.
	tmpl.AuthorityKeyId = bytes.Clone(issuer.Cert.SubjectKeyId)
	var x ca.CrossCert
	_, err = a.Issue(ctx, issuer, issuance.ProfileCrossCA, tmpl, "", func(tx store.Tx, cert *x509.Certificate) error {
		x = ca.CrossCert{Serial: ca.SerialHex(cert.SerialNumber), SubjectID: subject.ID, IssuerID: issuer.ID, CertDER: cert.Raw, Cert: cert, CreatedAt: now}
		if err := tx.Succession().CreateCrossCert(x); err != nil {
			return err
		}
		return fin(tx, x)
	})
	if err != nil {
		return ca.CrossCert{}, fmt.Errorf("cross-certifying %s by %s: %w", subject.ID, issuer.ID, err)
	}
	return x, nil
}

// successionCheck refuses to replace a CA that is not of the role, holds no key, already has
// a successor, or has expired.
func successionCheck(c ca.CA, role ca.Role, now time.Time) error {
	switch {
	case c.Role != role:
		verb := "rotate"
		if role == ca.Root {
			verb = "roll over"
		}
		return failure.New(failure.Invalid, "CA %s is a %s CA: only %s CAs %s here", c.ID, c.Role, role, verb)
	case c.KeyID == "":
		return failure.New(failure.Invalid, "CA %s has no key in Hallmark", c.ID)
	case c.SuccessorID != "":
		return failure.New(failure.Conflict, "CA %s was already succeeded by %s", c.ID, c.SuccessorID)
	case !now.Before(c.Cert.NotAfter):
		return failure.New(failure.Invalid, "CA %s expired at %s: create a new hierarchy instead", c.ID, c.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// newestOfLine follows successors from CA id to the newest, reading at most maxChainDepth.
func newestOfLine(tx store.Tx, id string) (ca.CA, error) {
	for range maxChainDepth {
		c, err := tx.CAs().GetCA(id)
		if err != nil {
			return c, fmt.Errorf("reading CA %s: %w", id, err)
		}
		if c.SuccessorID == "" {
			return c, nil
		}
		id = c.SuccessorID
	}
	return ca.CA{}, fmt.Errorf("CA %s: more than %d successors", id, maxChainDepth)
}

var nameSuffix = regexp.MustCompile(`-[0-9]+$`)

// successorName returns name when given, checking that the party has no CA of that name;
// otherwise the old CA's name without a trailing "-<n>", followed by the smallest free "-<n>"
// from 2.
func successorName(tx store.Tx, old ca.CA, name string) (string, error) {
	all, err := tx.CAs().ListCAs(old.PartyID)
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for _, c := range all {
		taken[c.Name] = true
	}
	if name != "" {
		if err := validName(name); err != nil {
			return "", err
		}
		if taken[name] {
			return "", failure.New(failure.Conflict, "party %s already has a CA named %q", old.PartyID, name)
		}
		return name, nil
	}
	base := nameSuffix.ReplaceAllString(old.Name, "")
	for n := 2; ; n++ {
		if s := base + "-" + strconv.Itoa(n); !taken[s] {
			return s, validName(s)
		}
	}
}

// lifeOf is a certificate's validity period.
func lifeOf(c *x509.Certificate) time.Duration { return c.NotAfter.Sub(c.NotBefore) }

func orgOf(c *x509.Certificate) string {
	if len(c.Subject.Organization) > 0 {
		return c.Subject.Organization[0]
	}
	return ""
}

// algorithmOf is the key provider algorithm of a CA's public key, so that a successor keeps
// it (an RSA key of any size becomes RSA 3072).
func algorithmOf(pub crypto.PublicKey) (keys.Algorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return keys.ECDSAP256, nil
		case elliptic.P384():
			return keys.ECDSAP384, nil
		}
	case ed25519.PublicKey:
		return keys.Ed25519, nil
	case *rsa.PublicKey:
		return keys.RSA3072, nil
	}
	return "", failure.New(failure.Invalid, "a %T CA key has no algorithm a successor can be made with", pub)
}

func validName(s string) error { return party.ValidSlug("CA name", s) }
