package operational

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
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
	"github.com/hallmark-id/hallmark/internal/store"
)

// OnboardRequest exchanges a factory identity for an operational one in an environment.
type OnboardRequest struct {
	EnvironmentID string `json:"-"`
	CSR           string `json:"csr"`
	// FactoryCertificate is the device's IDevID, optionally followed by its chain, PEM.
	FactoryCertificate string            `json:"factory_certificate"`
	Proof              Proof             `json:"proof"`
	Facts              environment.Facts `json:"facts"`
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

// Presented names the protocol of an API call ("api"), which the evidence records. A caller
// of Onboard and Renew always proves possession with a Proof: only the EST entry (EST),
// whose transport authenticated the presented certificate's key, goes without.
type Presented struct {
	Protocol string
}

// onboarding is an onboarding request with everything parsed: the entry points (Onboard for
// the API, EST.Enroll) parse and bound what they were sent, then hand it to onboard.
type onboarding struct {
	env    environment.Environment
	policy environment.PolicyVersion
	csr    *x509.CertificateRequest
	// chain is the factory certificate followed by what the device sent with it.
	chain []*x509.Certificate
	facts environment.Facts
	// proof is the API's proof of possession of the factory key; nil when the transport
	// proved it (EST's TLS handshake).
	proof    *Proof
	protocol string
	// own is set by an entry point that already read that chain[0] is this deployment's own
	// factory certificate (EST, which needs no proof first); onboard then does not classify it
	// again. The onboarding's reads re-read and re-check the record either way.
	own bool
}

// Onboard verifies the factory identity and, if the environment's onboarding policy allows
// it, issues an operational certificate. Nothing changes when any check fails, but for the
// challenge of the request, which is spent by its one attempt. The request proves possession
// of the factory key (Proof, bound to this environment and the CSR's key) before anything
// about the device is read; every failed proof gets the same refusal.
func (s *Service) Onboard(ctx context.Context, a audit.Actor, r OnboardRequest, how Presented) (Identity, error) {
	env, pv, err := s.onboardingEnvironment(ctx, a, r.EnvironmentID)
	if err != nil {
		return Identity{}, err
	}
	if err := r.Facts.Validate(); err != nil {
		return Identity{}, err
	}
	chain, err := parseCertChain(r.FactoryCertificate, "factory_certificate")
	if err != nil {
		return Identity{}, err
	}
	req, err := csr.ParseText(r.CSR)
	if err != nil {
		return Identity{}, err
	}
	return s.onboard(ctx, a, onboarding{env: env, policy: pv, csr: req, chain: chain, facts: r.Facts, proof: &r.Proof, protocol: how.Protocol})
}

// onboardingEnvironment loads the environment a caller onboards into, checks that the caller
// may issue there, and returns its onboarding policy.
func (s *Service) onboardingEnvironment(ctx context.Context, a audit.Actor, envID string) (environment.Environment, environment.PolicyVersion, error) {
	var env environment.Environment
	var pv environment.PolicyVersion
	// The ownership cells come from the store's cache when it has one (governance.ViewCached);
	// the environment and its policy are read from the database.
	err := governance.ViewCached(ctx, s.c.Store, func(tx store.Tx) error {
		var err error
		if env, err = tx.Environments().GetEnvironment(envID); err != nil {
			return err
		}
		pv, err = onboardingPolicy(tx, a, env)
		return err
	})
	return env, pv, err
}

// onboardingPolicy checks in tx that the caller may issue in env and returns env's onboarding
// policy.
func onboardingPolicy(tx store.Tx, a audit.Actor, env environment.Environment) (environment.PolicyVersion, error) {
	if err := governance.Require(tx, a, stage, ownership.Issue, EnvChain(env)); err != nil {
		return environment.PolicyVersion{}, err
	}
	return tx.Environments().LatestPolicy(env.ID, environment.Onboarding)
}

// ownKey refuses an onboarding whose CSR asks for the factory key.
func ownKey(r onboarding) error {
	if samePublicKey(r.csr.PublicKey, r.chain[0].PublicKey) {
		return failure.New(failure.Invalid, "the CSR uses the factory key; an operational identity needs a key of its own")
	}
	return nil
}

// onboard is Onboard on a parsed request.
func (s *Service) onboard(ctx context.Context, a audit.Actor, r onboarding) (Identity, error) {
	var out Identity
	env, pv := r.env, r.policy
	factory, req := r.chain[0], r.csr
	if err := ownKey(r); err != nil {
		return out, err
	}
	// Possession of the factory key comes first: until it is proven, the caller learns
	// nothing of the device behind the certificate (its chain, revocation, custodian, state).
	if r.proof != nil {
		if _, err := s.proven(ctx, a, *r.proof, PurposeOnboard, env.ID, req.PublicKey, factory.PublicKey); err != nil {
			return out, err
		}
	}
	prog, err := s.program(ctx, pv)
	if err != nil {
		return out, err
	}
	var ext *external
	if !r.own {
		if ext, err = s.classify(ctx, env, r.chain); err != nil {
			return out, err
		}
	}
	if ext != nil {
		return s.onboardExternal(ctx, a, r, prog, ext)
	}
	now := s.now()
	var (
		rd      onboardRead
		readErr error
	)
	// Everything the decision needs is read in one transaction (see onboardRead), and checked
	// after it (checkOnboarding, finishOnboarding).
	err = governance.ReadOnWriter(ctx, s.c.Store, func(tx store.Tx) error {
		rd, readErr = s.readOnboarding(tx, r, now, nil)
		return nil
	})
	if err != nil {
		return out, err
	}
	if err := s.checkOnboarding(r, rd, readErr, now); err != nil {
		return out, err
	}
	return s.finishOnboarding(ctx, a, r, prog, rd, now)
}

// onboardRead is what the onboarding of a device of this deployment decides on.
//
// The reads of an onboarding or a renewal run on the writer's connection
// (governance.ReadOnWriter: a write transaction, with the environment, policy, waiver,
// key-history and catalog reads served from the store's cache where it holds them), though
// they write nothing: under a stream of issuances a read transaction of the reader
// pool starts with an empty page cache (SQLite drops a connection's cache whenever the WAL
// changed since its last transaction) and costs more CPU than the same reads on the
// connection that made the changes, with the group commit's savepoint instead of a BEGIN and
// COMMIT of its own. Nothing is written until s.issue, whose transaction writes the device
// only if its state and custodian are still those read.
//
// That transaction only reads: the checks that cost CPU and read nothing, the factory chain's
// signatures (checkOnboarding) and the build record's (Service.input), run after it, on the
// rows it read, so the store's single writer is not held by them. The decision is the one
// the same checks inside the transaction would make: they are pure functions of what it read
// and of now.
type onboardRead struct {
	d       device.Device
	in      inputRead // verified and built by finishOnboarding
	issuer  ca.CA
	factRec ca.Cert
	// anchors are the certificates the factory chain may end at; anchored says they were
	// read (checkOnboarding verifies the chain to them).
	anchors  []*x509.Certificate
	anchored bool
}

// checkOnboarding verifies the factory chain r presented to the anchors readOnboarding read,
// at now, and then gives readErr, readOnboarding's refusal: the chain is refused first, as
// when it was verified first inside the reads. A signature the EST handshake of this request
// checked on the same bytes is not computed again (Signatures); every other check runs.
func (s *Service) checkOnboarding(r onboarding, rd onboardRead, readErr error, now time.Time) error {
	if !rd.anchored {
		return readErr
	}
	if _, err := chainverify.Verify(r.chain[0], chainverify.Options{Anchors: rd.anchors, Intermediates: r.chain[1:], Now: now, Signatures: s.sigs}); err != nil {
		return err
	}
	return readErr
}

// readOnboarding reads in tx what the onboarding r of this deployment's own factory
// certificate r.chain[0] decides on at now: the manufacturer anchors (the chain is verified to
// them by checkOnboarding, after tx), the factory record (unchanged and not revoked), the
// device (held by the environment's operator, in a state that lets it onboard), what the
// policy input is built from and the issuing CA. Its error is a refusal that
// checkOnboarding gives after the chain's. known, when set, is the factory record as tx read
// it already (EST's ownFactory, earlier in the same transaction): it is not read again.
func (s *Service) readOnboarding(tx store.Tx, r onboarding, now time.Time, known *ca.Cert) (onboardRead, error) {
	var rd onboardRead
	env, factory := r.env, r.chain[0]
	var err error
	if rd.anchors, err = s.anchors(tx, env.OperatorID); err != nil {
		return rd, err
	}
	rd.anchored = true
	if known != nil {
		rd.factRec = *known
	} else {
		rd.factRec, err = tx.Certificates().GetCert(factory.SerialNumber)
	}
	if err != nil || rd.factRec.Profile != string(issuance.ProfileFactory) || string(rd.factRec.DER) != string(factory.Raw) {
		if err != nil && !failure.Is(err, failure.NotFound) {
			return rd, err
		}
		return rd, failure.New(failure.Conflict, "the factory certificate %s changed meanwhile: try again", ca.SerialHex(factory.SerialNumber))
	}
	if rd.factRec.State != ca.Issued {
		return rd, failure.New(failure.Denied, "the factory identity %s is revoked", rd.factRec.SerialHex)
	}
	if rd.d, err = tx.Devices().GetDevice(rd.factRec.DeviceID); err != nil {
		return rd, err
	}
	// Only the device's current factory certificate onboards it: one that a repair's new
	// identity superseded is refused even while it is unrevoked and unexpired (rule
	// factory:not-current, recorded as a refusal), before anything else of the device is told.
	if err = store.CurrentFactory(rd.d, rd.factRec.SerialHex); err != nil {
		return rd, err
	}
	if err = held(rd.d, env); err != nil {
		return rd, err
	}
	// At onboarding, operational is the device's current operational certificate, if it
	// has one, so a policy can tell a lapsed device from one that still holds a valid
	// identity.
	op, err := currentOperational(tx, rd.d)
	if err != nil {
		return rd, err
	}
	if rd.in, err = readInput(tx, rd.d, factory, rd.factRec, env, r.facts, op); err != nil {
		return rd, err
	}
	rd.issuer, err = tx.CAs().GetCA(env.IssuingCAID)
	return rd, err
}

// finishOnboarding verifies the device's build record (Service.input) and evaluates the
// onboarding policy prog on what readOnboarding read (asking for or consuming an operator's
// approval when the policy requires one) and issues. checkOnboarding passed before.
func (s *Service) finishOnboarding(ctx context.Context, a audit.Actor, r onboarding, prog *policy.Program, rd onboardRead, now time.Time) (Identity, error) {
	env, pv, d := r.env, r.policy, rd.d
	in, err := s.input(rd.in)
	if err != nil {
		return Identity{}, err
	}
	dec := prog.EvaluateContext(ctx, in)
	approvalID := ""
	if dec.ApprovalRequired {
		var err error
		if approvalID, err = s.onboardApproval(ctx, a, env, d, dec.Version); err != nil {
			return Identity{}, err
		}
	} else if err := decide(dec, environment.Onboarding); err != nil {
		return Identity{}, err
	}
	ev := environment.Evidence{DeviceID: d.ID, EnvironmentID: env.ID, Kind: "onboard", BasedOn: rd.factRec.SerialHex, FactorySerial: rd.factRec.SerialHex,
		Protocol: r.protocol, PolicyKind: environment.Onboarding, PolicyVersion: pv.Version, PrincipalID: a.PrincipalID, Facts: mustJSON(r.facts), CreatedAt: now}
	return s.issue(ctx, a, env, rd.issuer, d, r.chain[0], r.csr.PublicKey, ev, "operational.onboard", approvalID, nil)
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
		q, ready = approval.Request{}, false // Update may run this function again: an earlier run's approved request is not this run's
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

// heldForOnboarding reads device id and checks that env's operator holds it and that its
// state lets it onboard (held).
func heldForOnboarding(tx store.Tx, id string, env environment.Environment) (device.Device, error) {
	d, err := tx.Devices().GetDevice(id)
	if err != nil {
		return d, err
	}
	return d, held(d, env)
}

// held checks that env's operator holds d and that d's state lets it onboard: what
// onboarding of internal and external devices both require.
func held(d device.Device, env environment.Environment) error {
	if d.CustodianID != env.OperatorID {
		return failure.New(failure.Denied, "device %s is held by %s, not by operator %s: transfer custody first", d.ID, d.CustodianID, env.OperatorID)
	}
	return onboardable(d)
}

// currentOperational is d's current operational certificate as a policy sees it, or nil
// when it has none: at onboarding a policy can tell a lapsed device from one that still holds
// a valid identity.
func currentOperational(tx store.Tx, d device.Device) (*policy.Operational, error) {
	if d.OperationalCert == "" {
		return nil, nil
	}
	cur, err := store.OwnCert(tx, d.ID, d.OperationalCert, store.OperationalProfile)
	if err != nil {
		return nil, err
	}
	op := &policy.Operational{Serial: cur.SerialHex, NotAfter: cur.NotAfter}
	if cur.IssuedAt != nil {
		op.IssuedAt = *cur.IssuedAt
	}
	return op, nil
}
