package operational

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/policyinput"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

// RenewRequest renews an operational identity: it presents the current certificate and
// proves possession of its key.
type RenewRequest struct {
	CSR                string            `json:"csr"`
	CurrentCertificate string            `json:"current_certificate"`
	Proof              Proof             `json:"proof"`
	Facts              environment.Facts `json:"facts"`
}

// renewal is a renewal request with everything parsed (see onboarding).
type renewal struct {
	csr *x509.CertificateRequest
	// current is the operational certificate presented.
	current *x509.Certificate
	facts   environment.Facts
	// proof is the API's proof of possession of the current key; nil when the transport
	// proved it (EST's TLS handshake).
	proof    *Proof
	protocol string
}

// Renew re-evaluates the environment's renewal policy with today's facts and, if it allows,
// issues a new operational certificate. A lapsed certificate cannot renew: the device
// onboards again with its factory identity. An API request proves possession of the current
// key (Proof, bound to the device's environment and the CSR's key) before anything about the
// device is read.
func (s *Service) Renew(ctx context.Context, a audit.Actor, r RenewRequest, how Presented) (Identity, error) {
	if err := r.Facts.Validate(); err != nil {
		return Identity{}, err
	}
	certs, err := parseCertChain(r.CurrentCertificate, "current_certificate")
	if err != nil {
		return Identity{}, err
	}
	req, err := csr.ParseText(r.CSR)
	if err != nil {
		return Identity{}, err
	}
	return s.renew(ctx, a, renewal{csr: req, current: certs[0], facts: r.Facts, proof: &r.Proof, protocol: how.Protocol})
}

// renew is Renew on a parsed request.
func (s *Service) renew(ctx context.Context, a audit.Actor, r renewal) (Identity, error) {
	var out Identity
	cur, req := r.current, r.csr
	// Possession of the current key comes first: until it is proven, the caller learns
	// nothing of the device behind the certificate.
	var ch store.Challenge
	if r.proof != nil {
		var err error
		if ch, err = s.proven(ctx, a, *r.proof, PurposeRenew, "", req.PublicKey, cur.PublicKey); err != nil {
			return out, err
		}
	}
	now := s.now()
	var rr renewRead
	// One transaction on the writer's connection, as at onboarding (see onboardRead).
	err := governance.ReadOnWriter(ctx, s.c.Store, func(tx store.Tx) (err error) {
		rr, err = s.readRenewal(tx, a, r, ch, now, nil)
		return err
	})
	if err != nil {
		return out, err
	}
	return s.finishRenewal(ctx, a, r, rr, now)
}

// renewRead is what a renewal decides on.
type renewRead struct {
	d          device.Device
	env        environment.Environment
	pv         environment.PolicyVersion
	in         inputRead // verified and built by finishRenewal, outside the read transaction
	issuer     ca.CA
	rec        ca.Cert
	factSerial string            // the factory certificate's serial, hex
	fc         *x509.Certificate // the factory certificate
	waivers    []waiver.Waiver   // active waivers of the device
}

// heldCert is a certificate's record and its device, as a transaction read them.
type heldCert struct {
	rec ca.Cert
	d   device.Device
}

// readRenewal reads in tx what the renewal r decides on at now and refuses it when the
// certificate is not the device's current, valid operational certificate, the device is not
// active and held where it renews, or a cannot renew there. ch is the challenge of r.proof.
// known, when set, is r.current's record and device as tx read them already (EST's
// sameEnvironment, earlier in the same transaction): they are not read again.
func (s *Service) readRenewal(tx store.Tx, a audit.Actor, r renewal, ch store.Challenge, now time.Time, known *heldCert) (renewRead, error) {
	var rr renewRead
	cur := r.current
	var err error
	if known != nil {
		rr.rec = known.rec
	} else {
		rr.rec, err = tx.Certificates().GetCert(cur.SerialNumber)
	}
	if err != nil || rr.rec.Profile != string(issuance.ProfileOperational) || string(rr.rec.DER) != string(cur.Raw) {
		if err != nil && !failure.Is(err, failure.NotFound) {
			return rr, err
		}
		return rr, failure.New(failure.Invalid, "current_certificate is not an operational certificate issued by this deployment")
	}
	rec := rr.rec
	if known != nil && known.rec.DeviceID == rec.DeviceID {
		rr.d = known.d
	} else if rr.d, err = tx.Devices().GetDevice(rec.DeviceID); err != nil {
		return rr, err
	}
	d := rr.d
	if rr.env, err = tx.Environments().GetEnvironment(d.EnvironmentID); err != nil {
		return rr, err
	}
	env := rr.env
	// The proof was made for the environment its challenge named: the device's own.
	if r.proof != nil && ch.EnvironmentID != env.ID {
		s.refusals[refusedMismatch].Add(1)
		return rr, errNoProof(PurposeRenew)
	}
	if err := governance.Require(tx, a, stage, ownership.Renew, EnvChain(env)); err != nil {
		return rr, err
	}
	switch {
	case d.CustodianID != env.OperatorID: // custody ends trust: it renews only where it is held
		return rr, failure.New(failure.Denied, "device %s is no longer held by operator %s: it cannot renew in environment %s", d.ID, env.OperatorID, env.ID)
	case d.OperationalCert != rec.SerialHex:
		return rr, failure.New(failure.Conflict, "certificate %s was superseded by %s: renew with the current certificate", rec.SerialHex, d.OperationalCert)
	case rec.State == ca.Revoked && rec.Reason != nil && *rec.Reason == int(revocation.CertificateHold):
		return rr, failure.New(failure.Denied, "operational certificate %s is suspended by a manufacturing revocation: it cannot renew until an operator re-admits the device", rec.SerialHex)
	case rec.State != ca.Issued:
		return rr, failure.New(failure.Denied, "operational certificate %s is revoked", rec.SerialHex)
	case !now.Before(rec.NotAfter):
		return rr, failure.New(failure.Denied, "operational certificate %s expired at %s: the device must onboard again with its factory identity", rec.SerialHex, rec.NotAfter.Format(time.RFC3339))
	case d.State != device.Active:
		return rr, failure.New(failure.Denied, "device %s is %s and cannot renew", d.ID, d.State)
	}
	if rr.pv, err = tx.Environments().LatestPolicy(env.ID, environment.Renewal); err != nil {
		return rr, err
	}
	if rr.in, rr.fc, rr.factSerial, err = readRenewalInput(tx, d, env, rec, r.facts, now); err != nil {
		return rr, err
	}
	if rr.waivers, err = tx.Waivers().ListWaivers(store.WaiverFilter{DeviceID: d.ID, ActiveAt: &now}); err != nil {
		return rr, fmt.Errorf("reading the device's waivers: %w", err)
	}
	rr.issuer, err = tx.CAs().GetCA(env.IssuingCAID)
	return rr, err
}

// finishRenewal verifies the device's build record (Service.input), evaluates the renewal
// policy, with the device's waivers, on what readRenewal read and issues.
func (s *Service) finishRenewal(ctx context.Context, a audit.Actor, r renewal, rr renewRead, now time.Time) (Identity, error) {
	env, pv, d, rec, waivers := rr.env, rr.pv, rr.d, rr.rec, rr.waivers
	in, err := s.input(rr.in)
	if err != nil {
		return Identity{}, err
	}
	prog, err := s.program(ctx, pv)
	if err != nil {
		return Identity{}, err
	}
	dec, waived := waiver.Apply(prog.EvaluateContext(ctx, in), waivers)
	if err := decide(dec, environment.Renewal); err != nil {
		return Identity{}, err
	}
	var before func(tx store.Tx) error
	if len(waived) > 0 {
		// A waived rule did deny: the renewal says so in the audit log, with the waivers.
		before = func(tx store.Tx) error {
			_, err := tx.Audit().Append(s.event(a, "waiver.honour", "environment:"+env.ID, "device:"+d.ID,
				map[string]any{"rules": waived, "waivers": waiverIDs(waivers, waived), "policy_version": pv.Version, "certificate": rec.SerialHex}))
			return err
		}
	}
	ev := environment.Evidence{DeviceID: d.ID, EnvironmentID: env.ID, Kind: "renew", BasedOn: rec.SerialHex, FactorySerial: rr.factSerial,
		Protocol: r.protocol, PolicyKind: environment.Renewal, PolicyVersion: pv.Version, PrincipalID: a.PrincipalID, Facts: mustJSON(r.facts), CreatedAt: now}
	return s.issue(ctx, a, env, rr.issuer, d, rr.fc, r.csr.PublicKey, ev, "operational.renew", "", before)
}

// renewalInput builds the policy input of a renewal of device d in env, presenting its
// operational certificate rec with facts, at now: the one builder renewal and a policy dry
// run (DryRunPolicy) share, all in tx (readRenewalInput, then Service.input). It returns the
// factory certificate and its serial (hex) too.
func (s *Service) renewalInput(tx store.Tx, d device.Device, env environment.Environment, rec ca.Cert, facts environment.Facts, now time.Time) (policy.Input, *x509.Certificate, string, error) {
	ir, fc, serial, err := readRenewalInput(tx, d, env, rec, facts, now)
	if err != nil {
		return policy.Input{}, nil, "", err
	}
	in, err := s.input(ir)
	if err != nil {
		return policy.Input{}, nil, "", err
	}
	return in, fc, serial, nil
}

// readRenewalInput reads in tx what the policy input of a renewal is built from (see
// renewalInput and inputRead).
func readRenewalInput(tx store.Tx, d device.Device, env environment.Environment, rec ca.Cert, facts environment.Facts, now time.Time) (inputRead, *x509.Certificate, string, error) {
	renewals, err := tx.Evidence().CountRenewals(d.ID)
	if err != nil {
		return inputRead{}, nil, "", err
	}
	op := &policy.Operational{Serial: rec.SerialHex, NotAfter: rec.NotAfter, Renewals: renewals}
	if rec.IssuedAt != nil {
		op.IssuedAt, op.Age = *rec.IssuedAt, now.Sub(*rec.IssuedAt)
	}
	if d.External() {
		// A device of a maker that does not run Hallmark: its factory certificate and the
		// maker's word on it are in its origin; it has no build record.
		o, m, err := makers.Origin(tx, d.ID)
		if err != nil {
			return inputRead{}, nil, "", err
		}
		// The policy reads the origin's certificate and factory state: an origin whose row
		// disagrees with the audit log (an edited state could hide the maker's revocation) is
		// not trusted to say them, as at onboarding.
		if disputed, err := tx.StateRows().OriginDisputed(d.ID); err != nil {
			return inputRead{}, nil, "", err
		} else if disputed {
			return inputRead{}, nil, "", refuseOrigin(failure.Conflict, RuleOriginDisputed, nil,
				"the origin of device %s of maker %s disagrees with the audit log (hallmark audit reconcile lists what its row and the log say): it does not renew until a full reconciliation finds the origin in agreement again", d.ID, m.Name)
		}
		in := policyinput.External(now, d, m.Name, o.Factory, false, env, facts, op)
		in.Factory.Revoked = o.State == maker.Revoked
		return inputRead{done: &in}, o.Factory, o.FactorySerial, nil
	}
	factRec, err := store.OwnCert(tx, d.ID, d.FactoryCert, store.FactoryProfile)
	if err != nil {
		return inputRead{}, nil, "", err
	}
	fc, err := parseDER(factRec.DER)
	if err != nil {
		return inputRead{}, nil, "", err
	}
	ir, err := readInput(tx, d, fc, factRec, env, facts, op)
	if err != nil {
		return inputRead{}, nil, "", err
	}
	ir.now = now
	return ir, fc, factRec.SerialHex, nil
}

// waiverIDs names the waivers that covered the rules waived.
func waiverIDs(ws []waiver.Waiver, rules []string) []string {
	var out []string
	for _, w := range ws {
		if slices.Contains(rules, w.Rule) {
			out = append(out, w.ID)
		}
	}
	return out
}
