package operational

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/chainverify"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/policyinput"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Facts are what a device reports about itself now; policies compare them with its build
// record.
type Facts struct {
	FirmwareDigest   string            `json:"firmware_digest,omitempty"`
	HardwareRevision string            `json:"hardware_revision,omitempty"`
	Extra            map[string]string `json:"extra,omitempty"`
}

func (f Facts) validate() error {
	if len(f.Extra) > 32 {
		return failure.New(failure.Invalid, "facts: at most 32 extra entries")
	}
	for k, v := range f.Extra {
		if len(k) > 64 || len(v) > 256 {
			return failure.New(failure.Invalid, "facts: extra %q is too long (keys 64, values 256 characters)", k)
		}
	}
	if len(f.FirmwareDigest) > 128 || len(f.HardwareRevision) > 64 {
		return failure.New(failure.Invalid, "facts: firmware_digest or hardware_revision is too long")
	}
	return nil
}

// OnboardRequest exchanges a factory identity for an operational one in an environment.
type OnboardRequest struct {
	EnvironmentID string `json:"-"`
	CSR           string `json:"csr"`
	// FactoryCertificate is the device's IDevID, optionally followed by its chain, PEM.
	FactoryCertificate string `json:"factory_certificate"`
	Proof              Proof  `json:"proof"`
	Facts              Facts  `json:"facts"`
}

// Identity is an issued operational identity.
type Identity struct {
	Device         device.Device        `json:"device"`
	CertificatePEM string               `json:"certificate_pem"`
	ChainPEM       string               `json:"chain_pem"`
	Evidence       environment.Evidence `json:"evidence"`
	// Certificate is CertificatePEM parsed, for adapters that answer with the certificate
	// itself (EST).
	Certificate *x509.Certificate `json:"-"`
}

// Presented is what a protocol adapter established before calling the service: EST has
// already verified possession of the key through mTLS; the API sends a Proof instead.
type Presented struct {
	Protocol string // "api" or "est"
	// PossessionProven is true when the transport authenticated the presented certificate's key.
	PossessionProven bool
	// Chain, when set, is the certificate chain the transport received and parsed, leaf first
	// (EST: the TLS client chain). It stands for the request's PEM (FactoryCertificate,
	// CurrentCertificate), which is then not read, under the same limits (presentedChain).
	Chain []*x509.Certificate
}

// Onboard verifies the factory identity and, if the environment's onboarding policy allows
// it, issues an operational certificate. Nothing changes when any check fails, but for the
// challenge of an API request, which is spent by its one attempt. An API request proves
// possession of the factory key (Proof, bound to this environment and the CSR's key) before
// anything about the device is read; every failed proof gets the same refusal.
func (s *Service) Onboard(ctx context.Context, a audit.Actor, r OnboardRequest, how Presented) (Identity, error) {
	var out Identity
	var env environment.Environment
	var pv environment.PolicyVersion
	if err := s.c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if env, err = tx.Environments().GetEnvironment(r.EnvironmentID); err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, EnvChain(env)); err != nil {
			return err
		}
		pv, err = tx.Environments().LatestPolicy(env.ID, environment.Onboarding)
		return err
	}); err != nil {
		return out, err
	}
	if err := r.Facts.validate(); err != nil {
		return out, err
	}
	certs, err := presentedChain(r.FactoryCertificate, "factory_certificate", how)
	if err != nil {
		return out, err
	}
	factory := certs[0]
	req, err := csr.ParseText(r.CSR)
	if err != nil {
		return out, err
	}
	if samePublicKey(req.PublicKey, factory.PublicKey) {
		return out, failure.New(failure.Invalid, "the CSR uses the factory key; an operational identity needs a key of its own")
	}
	// Possession of the factory key comes first: until it is proven, the caller learns
	// nothing of the device behind the certificate (its chain, revocation, custodian, state).
	if !how.PossessionProven {
		if _, err := s.proven(ctx, a, r.Proof, PurposeOnboard, env.ID, req.PublicKey, factory.PublicKey); err != nil {
			return out, err
		}
	}
	prog, err := s.program(ctx, pv)
	if err != nil {
		return out, err
	}
	now := s.now()
	var (
		d       device.Device
		in      policy.Input
		issuer  ca.CA
		factRec ca.Cert
	)
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		anchors, err := s.anchors(tx, env.OperatorID)
		if err != nil {
			return err
		}
		if _, err := chainverify.Verify(factory, chainverify.Options{Anchors: anchors, Intermediates: certs[1:], Now: now}); err != nil {
			return err
		}
		if factRec, err = tx.Certificates().GetCert(factory.SerialNumber); err != nil || factRec.Profile != string(issuance.ProfileFactory) || string(factRec.DER) != string(factory.Raw) {
			if err != nil && !failure.Is(err, failure.NotFound) {
				return err
			}
			return failure.New(failure.Invalid, "the factory certificate chains to a registered anchor but was not issued by this deployment; onboarding devices of makers that do not run Hallmark is not supported yet")
		}
		if factRec.State != ca.Issued {
			return failure.New(failure.Denied, "the factory identity %s is revoked", factRec.SerialHex)
		}
		if d, err = tx.Devices().GetDevice(factRec.DeviceID); err != nil {
			return err
		}
		if d.CustodianID != env.OperatorID {
			return failure.New(failure.Denied, "device %s is held by %s, not by operator %s: transfer custody first", d.ID, d.CustodianID, env.OperatorID)
		}
		if err := onboardable(d); err != nil {
			return err
		}
		// At onboarding, operational is the device's current operational certificate, if it
		// has one, so a policy can tell a lapsed device from one that still holds a valid
		// identity.
		var op *policy.Operational
		if d.OperationalCert != "" {
			cur, err := tx.Certificates().GetCert(mustSerial(d.OperationalCert))
			if err != nil {
				return err
			}
			op = &policy.Operational{Serial: cur.SerialHex, NotAfter: cur.NotAfter}
			if cur.IssuedAt != nil {
				op.IssuedAt = *cur.IssuedAt
			}
		}
		if in, err = s.buildInput(tx, d, factory, factRec, env, r.Facts, op); err != nil {
			return err
		}
		if issuer, err = tx.CAs().GetCA(env.IssuingCAID); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	dec := prog.EvaluateContext(ctx, in)
	approvalID := ""
	if dec.ApprovalRequired {
		if approvalID, err = s.onboardApproval(ctx, a, env, d, dec.Version); err != nil {
			return out, err
		}
	} else if err := decide(dec, environment.Onboarding); err != nil {
		return out, err
	}
	ev := environment.Evidence{DeviceID: d.ID, EnvironmentID: env.ID, Kind: "onboard", BasedOn: factRec.SerialHex, FactorySerial: factRec.SerialHex,
		Protocol: how.Protocol, PolicyKind: environment.Onboarding, PolicyVersion: pv.Version, PrincipalID: a.PrincipalID, Facts: mustJSON(r.Facts), CreatedAt: now}
	return s.issue(ctx, a, env, issuer, d, factory, req.PublicKey, ev, "operational.onboard", approvalID)
}

// ApprovalRetry is how long a device is told to wait before asking again while its onboarding
// waits for an operator's approval (EST Retry-After).
const ApprovalRetry = 30 * time.Second

// onboardApproval finds or files the approval an onboarding needs when the policy's
// require_approval held. It returns the ID of an approved request to consume; otherwise a
// PendingError (a request is waiting) or a denial (one was denied within its rule's expiry).
func (s *Service) onboardApproval(ctx context.Context, a audit.Actor, env environment.Environment, d device.Device, version int) (string, error) {
	now := s.now()
	subject, scope := "device:"+d.ID, "environment:"+env.ID
	var q approval.Request
	var ready bool
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		last, found, err := governance.LatestApproval(tx, approval.Onboard, subject, now)
		if err != nil {
			return err
		}
		if found && last.Scope == scope {
			switch last.State {
			case approval.Approved:
				q, ready = last, true
				return nil
			case approval.Pending:
				q = last
				return nil
			case approval.Denied:
				rule, err := governance.RuleFor(tx, approval.Onboard)
				if err != nil {
					return err
				}
				if last.DecidedAt != nil && now.Before(last.DecidedAt.Add(rule.Expiry)) {
					return failure.New(failure.Denied, "onboarding of device %s into environment %s was denied (approval %s)", d.ID, env.ID, last.ID)
				}
			}
		}
		q, err = governance.RequestApproval(tx, a, now, approval.Onboard, EnvChain(env), subject,
			fmt.Sprintf("onboarding policy v%d of environment %s asks for an operator's approval", version, env.Name), nil,
			map[string]any{"device": d.ID, "serial": d.Serial, "environment": env.ID, "policy_version": version})
		return err
	})
	if err != nil {
		return "", err
	}
	if ready {
		return q.ID, nil
	}
	return "", &failure.PendingError{Msg: fmt.Sprintf("onboarding of device %s waits for approval %s by operator %s", d.ID, q.ID, q.ApproverParty), Ref: q.ID, RetryAfter: ApprovalRetry}
}

// onboardable refuses devices whose state forbids onboarding. A device whose operational
// certificate lapsed while offline is active but may onboard again with its factory identity.
func onboardable(d device.Device) error {
	switch d.State {
	case device.Registered, device.Released:
		return nil
	case device.Active:
		return nil // a re-onboarding; the policy decides, and the lineage records both
	case device.Quarantined:
		return failure.New(failure.Denied, "device %s is quarantined after a runtime revocation: an operator must re-admit it first", d.ID)
	case device.Suspended:
		return failure.New(failure.Denied, "device %s is suspended by a manufacturing revocation: an operator must re-admit or revoke it", d.ID)
	case device.FactoryRevoked:
		return failure.New(failure.Denied, "device %s has a revoked factory identity", d.ID)
	}
	return failure.New(failure.Denied, "device %s is %s", d.ID, d.State)
}

// anchors are the certificates a factory chain may end at: every manufacturing CA of the
// deployment and the anchors the operator registered.
func (s *Service) anchors(tx store.Tx, operatorID string) ([]*x509.Certificate, error) {
	all, err := tx.CAs().ListCAs("")
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, c := range all {
		if c.Stage != string(ownership.Manufacturing) {
			continue
		}
		if c.Role == ca.Anchor && c.PartyID != operatorID {
			continue
		}
		out = append(out, c.Cert)
	}
	return out, nil
}

// buildInput gathers the documented policy inputs, verifying the build record on the way.
func (s *Service) buildInput(tx store.Tx, d device.Device, factory *x509.Certificate, factRec ca.Cert, env environment.Environment, facts Facts, op *policy.Operational) (policy.Input, error) {
	br, err := tx.BuildRecords().LatestBuildRecord(d.ID)
	if err != nil {
		return policy.Input{}, err
	}
	// The manufacturer's key history: a record signed before a key rotation verifies with
	// the key that signed it, which its keyid names.
	history, err := tx.KeyHistory().SigningKeys(d.ManufacturerID, "build-record")
	if err != nil {
		return policy.Input{}, fmt.Errorf("the manufacturer's build-record keys: %w", err)
	}
	if len(history) == 0 {
		return policy.Input{}, fmt.Errorf("the manufacturer's build-record key: %w", store.ErrNotFound)
	}
	pubs := make([]crypto.PublicKey, 0, len(history))
	for _, k := range history {
		pub, err := x509.ParsePKIXPublicKey(k.PublicKeyDER)
		if err != nil {
			return policy.Input{}, fmt.Errorf("build-record key %s: %w", k.ID, err)
		}
		pubs = append(pubs, pub)
	}
	envl, err := buildrecord.ParseEnvelope(br.Envelope)
	if err != nil {
		return policy.Input{}, err
	}
	v, err := buildrecord.VerifyKeys(envl, pubs)
	if err != nil {
		return policy.Input{}, failure.Wrap(failure.Invalid, err, "the build record does not verify")
	}
	digest, err := issuance.BuildRecordDigestOf(factory)
	if err != nil {
		return policy.Input{}, failure.Wrap(failure.Invalid, err, "the factory certificate names no build record")
	}
	if err := buildrecord.CheckBinding(v, factory.PublicKey, digest); err != nil {
		return policy.Input{}, err
	}
	model, err := tx.Catalog().GetModel(d.ModelID)
	if err != nil {
		return policy.Input{}, err
	}
	lot, err := tx.Catalog().GetLot(d.LotID)
	if err != nil {
		return policy.Input{}, err
	}
	return policyinput.Build(s.now(), d, model.Name, lot.Name, factory, factRec, v.Record, env, policy.Facts(facts), op), nil
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
func (s *Service) issue(ctx context.Context, a audit.Actor, env environment.Environment, issuer ca.CA, d device.Device, factory *x509.Certificate, pub any, ev environment.Evidence, action, approvalID string) (Identity, error) {
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
			old, err := tx.Certificates().GetCert(mustSerial(d.OperationalCert))
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
