package operational

// What onboarding and renewal share: the policy input, the decision, and the issuance that
// records device state, evidence and audit with the certificate.

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/policyinput"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// buildInput gathers the documented policy inputs, verifying the build record on the way,
// all in tx (readInput, then inputRead.input).
func (s *Service) buildInput(tx store.Tx, d device.Device, factory *x509.Certificate, factRec ca.Cert, env environment.Environment, facts environment.Facts, op *policy.Operational) (policy.Input, error) {
	ir, err := readInput(tx, d, factory, factRec, env, facts, op)
	if err != nil {
		return policy.Input{}, err
	}
	return s.input(ir)
}

// inputRead is what a policy input is built from, as read in a transaction: the device's
// newest build record, its manufacturer's build-record key history and the catalog's names.
// The checks that cost CPU and read nothing (the record's signature, its statement, its
// binding to the factory certificate) are Service.input's, which an onboarding or a renewal
// runs after its read transaction, outside the store's one writer: the decision is on the
// rows that transaction read, as when the checks ran inside it.
type inputRead struct {
	d        device.Device
	factory  *x509.Certificate
	factRec  ca.Cert
	env      environment.Environment
	facts    environment.Facts
	op       *policy.Operational
	envelope []byte
	history  []ca.SigningKey
	model    string
	lot      string
	// done, when set, is the input itself (a maker's device, which has no build record).
	done *policy.Input
	// now, when set, is the input's Now (a renewal's time).
	now time.Time
}

// readInput reads in tx what the policy input of d presenting factory is built from.
func readInput(tx store.Tx, d device.Device, factory *x509.Certificate, factRec ca.Cert, env environment.Environment, facts environment.Facts, op *policy.Operational) (inputRead, error) {
	ir := inputRead{d: d, factory: factory, factRec: factRec, env: env, facts: facts, op: op}
	br, err := tx.BuildRecords().LatestBuildRecord(d.ID)
	if err != nil {
		return ir, err
	}
	ir.envelope = br.Envelope
	// The manufacturer's key history: a record signed before a key rotation verifies with
	// the key that signed it, which its keyid names.
	if ir.history, err = tx.KeyHistory().SigningKeys(d.ManufacturerID, "build-record"); err != nil {
		return ir, fmt.Errorf("the manufacturer's build-record keys: %w", err)
	}
	if len(ir.history) == 0 {
		return ir, fmt.Errorf("the manufacturer's build-record key: %w", store.ErrNotFound)
	}
	model, err := tx.Catalog().GetModel(d.ModelID)
	if err != nil {
		return ir, err
	}
	lot, err := tx.Catalog().GetLot(d.LotID)
	if err != nil {
		return ir, err
	}
	ir.model, ir.lot = model.Name, lot.Name
	return ir, nil
}

// input verifies the build record ir read under the manufacturer's key history and its
// binding to the factory certificate, and builds the policy input. A record whose exact
// bytes verified under the exact same key history before is taken from s.records
// (buildrecord.VerifiedCache) instead of being verified again; any other is verified.
func (s *Service) input(ir inputRead) (policy.Input, error) {
	if ir.done != nil {
		return *ir.done, nil
	}
	v, err := s.verifyRecord(ir.envelope, ir.history)
	if err != nil {
		return policy.Input{}, err
	}
	digest, err := issuance.BuildRecordDigestOf(ir.factory)
	if err != nil {
		return policy.Input{}, failure.Wrap(failure.Invalid, err, "the factory certificate names no build record")
	}
	if err := buildrecord.CheckBinding(v, ir.factory.PublicKey, digest); err != nil {
		return policy.Input{}, err
	}
	in := policyinput.Build(s.now(), ir.d, ir.model, ir.lot, ir.factory, ir.factRec, v.Record, ir.env, ir.facts, ir.op)
	if !ir.now.IsZero() {
		in.Now = ir.now
	}
	return in, nil
}

// verifyRecord verifies a build record's envelope under a manufacturer's key history, or
// finds that the same bytes verified under the same history before (s.records). The
// *buildrecord.Verified it returns is shared with the cache: read only.
func (s *Service) verifyRecord(envelope []byte, history []ca.SigningKey) (*buildrecord.Verified, error) {
	ders := make([][]byte, len(history))
	for i, k := range history {
		ders[i] = k.PublicKeyDER
	}
	hd := buildrecord.HistoryDigest(ders)
	key := buildrecord.CacheKey(envelope, hd)
	if v, ok := s.records.Get(key); ok {
		return v, nil
	}
	ks, err := s.keySet(hd, history)
	if err != nil {
		return nil, err
	}
	envl, err := buildrecord.ParseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	v, err := ks.Verify(envl)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "the build record does not verify")
	}
	s.records.Add(key, v, len(envelope))
	return v, nil
}

// maxKeySets bounds keySets: a deployment has a few manufacturers, each with one history at
// a time; when full the memory is emptied.
const maxKeySets = 256

// keySets remembers key histories parsed and prepared for verification, by their
// buildrecord.HistoryDigest: the same keys in the same order are the same digest, any change
// another.
type keySets struct {
	mu sync.Mutex
	m  map[[32]byte]*buildrecord.KeySet
}

// keySet returns history, whose digest is hd, parsed and prepared for verification.
func (s *Service) keySet(hd [32]byte, history []ca.SigningKey) (*buildrecord.KeySet, error) {
	s.keys.mu.Lock()
	ks := s.keys.m[hd]
	s.keys.mu.Unlock()
	if ks != nil {
		return ks, nil
	}
	pubs := make([]crypto.PublicKey, 0, len(history))
	for _, k := range history {
		pub, err := x509.ParsePKIXPublicKey(k.PublicKeyDER)
		if err != nil {
			return nil, fmt.Errorf("build-record key %s: %w", k.ID, err)
		}
		pubs = append(pubs, pub)
	}
	ks, err := buildrecord.NewKeySet(pubs)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "the build record does not verify")
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if s.keys.m == nil || len(s.keys.m) >= maxKeySets {
		s.keys.m = make(map[[32]byte]*buildrecord.KeySet)
	}
	s.keys.m[hd] = ks
	return ks, nil
}

// decide turns a denial into an error naming the rules that failed.
func decide(dec policy.Decision, kind environment.PolicyKind) error {
	if dec.Allowed {
		return nil
	}
	if dec.ApprovalRequired {
		// Renewal policies cannot ask for a person: a device renews unattended.
		return failure.New(failure.Denied, "%s policy v%d asks for an operator's approval, which only onboarding supports", kind, dec.Version)
	}
	// The summary names the failed rules with a short excerpt of each: it goes to the device
	// and the logs, and a policy may hold 64 rules of 4 KiB.
	d := &PolicyDenied{Kind: kind, Version: dec.Version, Msg: dec.Summary()}
	if len(dec.Failed) > 0 {
		d.Rule = dec.Failed[0].Rule
	}
	return d
}

// PolicyDenied is a refusal by an environment policy; it names the failing rules.
type PolicyDenied struct {
	Kind    environment.PolicyKind
	Version int
	Msg     string
	Rule    string // the name of the first failed rule, "" when none is named
}

func (e *PolicyDenied) Error() string {
	return fmt.Sprintf("%s policy v%d denied: %s", e.Kind, e.Version, e.Msg)
}

// FailureKind classifies the refusal.
func (e *PolicyDenied) FailureKind() failure.Kind { return failure.Denied }

// FailureRule names the policy and its first failed rule: "policy:<kind>/<rule>".
func (e *PolicyDenied) FailureRule() string {
	if e.Rule == "" {
		return "policy:" + string(e.Kind)
	}
	return "policy:" + string(e.Kind) + "/" + e.Rule
}

// issue signs the operational certificate and records device state, evidence and audit in
// the same transaction.
// approvalID, when set, names the approved onboarding request this issuance consumes.
// before, when set, runs first in that transaction (an external device's first onboarding
// creates its record there).
func (s *Service) issue(ctx context.Context, a audit.Actor, env environment.Environment, issuer ca.CA, d device.Device, factory *x509.Certificate, pub any, ev environment.Evidence, action, approvalID string, before func(tx store.Tx) error) (Identity, error) {
	now := ev.CreatedAt
	notAfter := now.Add(time.Duration(env.Lifetime))
	if notAfter.After(issuer.Cert.NotAfter) {
		notAfter = issuer.Cert.NotAfter
	}
	spiffe, err := url.Parse(fmt.Sprintf("spiffe://%s/env/%s/device/%s", env.TrustDomain, env.Name, d.ID))
	if err != nil {
		return Identity{}, failure.Wrap(failure.Invalid, err, "building the SPIFFE ID")
	}
	var ocspURLs, crlURLs []string
	if s.c.StatusURLs != nil {
		ocspURLs, crlURLs = s.c.StatusURLs(issuer, d.ID)
	}
	tmpl, err := issuance.OperationalTemplate(issuance.OperationalParams{SPIFFEID: spiffe, DeviceID: d.ID, FactoryRef: issuance.NewFactoryRef(factory),
		PublicKey: pub, NotBefore: now.Add(-time.Minute), NotAfter: notAfter, OCSPServer: ocspURLs, CRLDistributionPoints: crlURLs})
	if err != nil {
		return Identity{}, err
	}
	next := d
	cert, err := s.c.Authority.Issue(ctx, issuer, issuance.ProfileOperational, tmpl, d.ID, func(tx store.Tx, cert *x509.Certificate) error {
		if before != nil {
			if err := before(tx); err != nil {
				return err
			}
		}
		next.State, next.EnvironmentID, next.OperationalCert, next.UpdatedAt = device.Active, env.ID, ca.SerialHex(cert.SerialNumber), now
		if approvalID != "" {
			if _, err := governance.ConsumeApproval(tx, a, now, approvalID, approval.Onboard, "device:"+d.ID); err != nil {
				return err
			}
		}
		if err := tx.Devices().UpdateDevice(next, d); err != nil {
			return err
		}
		// A device holds at most one valid operational identity: the one this replaces is
		// revoked as superseded, so a later runtime revocation or suspension covers every
		// certificate the device's keys could still use.
		if d.OperationalCert != "" {
			old, err := store.OwnCert(tx, d.ID, d.OperationalCert, store.OperationalProfile)
			if err != nil {
				return err
			}
			if old.State == ca.Issued && now.Before(old.NotAfter) {
				if err := tx.Certificates().Revoke(old.Serial, int(revocation.Superseded), now); err != nil {
					return err
				}
				ev.Superseded = old.SerialHex
			}
		}
		ev.Serial = next.OperationalCert
		if err := tx.Evidence().CreateEvidence(ev); err != nil {
			return err
		}
		_, err := tx.Audit().Append(s.event(a, action, "environment:"+env.ID, "device:"+d.ID, ev))
		return err
	})
	if err != nil {
		return Identity{}, err
	}
	return Identity{Device: next, CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})), ChainPEM: s.c.Authority.ChainPEM(ctx, issuer), Evidence: ev, Certificate: cert}, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
