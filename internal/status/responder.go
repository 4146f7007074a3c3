package status

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/store"
)

// principal is the audit principal of the status service's own acts.
const principal = "hallmark:status"

// responderRetry is how long after a failed issuance of a responder the next is tried.
const responderRetry = time.Minute

// responder returns the CA's delegated responder, loading it from the store or issuing a new
// one when there is none or the current one is due for renewal (two thirds through its life).
func (s *Service) responder(ctx context.Context, cs *caState) (*signer, error) {
	now := s.c.Now()
	if sg := cs.resp.Load(); sg != nil && now.Before(sg.renewAt) {
		return sg, nil
	}
	cs.respMu.Lock()
	defer cs.respMu.Unlock()
	if sg := cs.resp.Load(); sg != nil && now.Before(sg.renewAt) {
		return sg, nil
	}
	if err := cs.respErr; err != nil && time.Since(cs.respFailed) < responderRetry {
		return nil, err // an unauthenticated request may not retry a failed issuance at once
	}
	var rec store.OCSPResponder
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { rec, err = tx.Status().CurrentResponder(cs.c.ID); return err })
	if err != nil && !failure.Is(err, failure.NotFound) {
		return nil, fmt.Errorf("status: responder of %s: %w", cs.c.ID, err)
	}
	var sg *signer
	if err == nil {
		if sg, err = s.loadSigner(ctx, rec); err != nil {
			return nil, err
		}
	}
	if sg == nil || !now.Before(sg.renewAt) {
		fresh, err := s.issueResponder(ctx, cs.c, now)
		switch {
		case err == nil:
			sg = fresh
		case sg != nil && now.Before(sg.cert.NotAfter):
			s.c.Log.Warn("status: renewing the OCSP responder failed; keeping the current one", "ca_id", cs.c.ID, "err", err)
			sg.renewAt = now.Add(responderRetry) // try again then, not on every request
		default:
			cs.respErr, cs.respFailed = err, time.Now()
			return nil, err
		}
	}
	cs.respErr = nil
	// Cached answers signed by a previous responder are no longer served (cache.go): they are
	// re-signed when asked for, and evicted in time.
	cs.resp.Store(sg)
	return sg, nil
}

func (s *Service) loadSigner(ctx context.Context, rec store.OCSPResponder) (*signer, error) {
	cert, err := x509.ParseCertificate(rec.CertDER)
	if err != nil {
		return nil, fmt.Errorf("status: stored responder %s: %w", rec.SerialHex, err)
	}
	key, err := s.c.Keys.Signer(ctx, rec.KeyID)
	if err != nil {
		return nil, fmt.Errorf("status: key of responder %s: %w", rec.SerialHex, err)
	}
	return newSigner(cert, key, renewAt(cert))
}

func renewAt(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// issueResponder creates a P-256 key through the key provider and issues a responder
// certificate for it through the authority (lint, record, sign, check, store with audit).
func (s *Service) issueResponder(ctx context.Context, c ca.CA, now time.Time) (*signer, error) {
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	keyID := "ocsp-" + strings.ToLower(c.ID) + "-" + hex.EncodeToString(suffix[:])
	key, err := s.c.Keys.Create(ctx, keyID, keys.ECDSAP256)
	if err != nil {
		return nil, fmt.Errorf("status: creating the responder key of %s: %w", c.ID, err)
	}
	cn := c.Name
	if len(cn) > 40 {
		cn = cn[:40]
	}
	org := ""
	if len(c.Cert.Subject.Organization) > 0 {
		org = c.Cert.Subject.Organization[0]
	}
	notAfter := now.Add(s.c.ResponderLife)
	if notAfter.After(c.Cert.NotAfter) {
		notAfter = c.Cert.NotAfter
	}
	tmpl, err := issuance.OCSPResponderTemplate(issuance.OCSPResponderParams{CommonName: cn + " OCSP Responder", Organization: org,
		PublicKey: key.Public(), NotBefore: now.Add(-time.Minute), NotAfter: notAfter})
	if err != nil {
		return nil, err
	}
	cert, err := s.c.Authority.Issue(ctx, c, issuance.ProfileOCSPResponder, tmpl, "", func(tx store.Tx, cert *x509.Certificate) error {
		serial := ca.SerialHex(cert.SerialNumber)
		if err := tx.Status().CreateResponder(store.OCSPResponder{SerialHex: serial, CAID: c.ID, KeyID: keyID, CertDER: cert.Raw, NotAfter: cert.NotAfter, CreatedAt: now}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: c.PartyID, PrincipalID: principal, Action: "ocsp.responder.issue", Stage: c.Stage,
			Scope: "ca:" + c.ID, Subject: "certificate:" + serial, Detail: audit.Detail(map[string]any{"key_id": keyID, "not_after": cert.NotAfter})})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("status: issuing the OCSP responder of %s: %w", c.ID, err)
	}
	s.c.Log.Info("status: OCSP responder issued", "ca_id", c.ID, "serial", ca.SerialHex(cert.SerialNumber), "not_after", cert.NotAfter)
	return newSigner(cert, key, renewAt(cert))
}

// Responder returns the current delegated responder certificate of caID, issuing one if
// needed.
func (s *Service) Responder(ctx context.Context, caID string) (*x509.Certificate, error) {
	cs := s.caNamed(ctx, caID)
	if cs == nil {
		return nil, fmt.Errorf("status: no CA %s with a key", caID)
	}
	sg, err := s.responder(ctx, cs)
	if err != nil {
		return nil, err
	}
	return sg.cert, nil
}
