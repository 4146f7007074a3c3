package operational

import (
	"context"
	"crypto/x509"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// RenewRequest renews an operational identity: it presents the current certificate and
// proves possession of its key.
type RenewRequest struct {
	CSR                string `json:"csr"`
	CurrentCertificate string `json:"current_certificate"`
	Proof              Proof  `json:"proof"`
	Facts              Facts  `json:"facts"`
}

// Renew re-evaluates the environment's renewal policy with today's facts and, if it allows,
// issues a new operational certificate. A lapsed certificate cannot renew: the device
// onboards again with its factory identity. An API request proves possession of the current
// key (Proof, bound to the device's environment and the CSR's key) before anything about the
// device is read.
func (s *Service) Renew(ctx context.Context, a audit.Actor, r RenewRequest, how Presented) (Identity, error) {
	var out Identity
	if err := r.Facts.validate(); err != nil {
		return out, err
	}
	certs, err := presentedChain(r.CurrentCertificate, "current_certificate", how)
	if err != nil {
		return out, err
	}
	cur := certs[0]
	req, err := csr.ParseText(r.CSR)
	if err != nil {
		return out, err
	}
	// Possession of the current key comes first: until it is proven, the caller learns
	// nothing of the device behind the certificate.
	var ch store.Challenge
	if !how.PossessionProven {
		if ch, err = s.proven(ctx, a, r.Proof, PurposeRenew, "", req.PublicKey, cur.PublicKey); err != nil {
			return out, err
		}
	}
	now := s.now()
	var (
		d       device.Device
		env     environment.Environment
		pv      environment.PolicyVersion
		in      policy.Input
		issuer  ca.CA
		rec     ca.Cert
		factRec ca.Cert
		fc      *x509.Certificate // the factory certificate, factRec.DER parsed
	)
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		rec, err = tx.Certificates().GetCert(cur.SerialNumber)
		if err != nil || rec.Profile != string(issuance.ProfileOperational) || string(rec.DER) != string(cur.Raw) {
			if err != nil && !failure.Is(err, failure.NotFound) {
				return err
			}
			return failure.New(failure.Invalid, "current_certificate is not an operational certificate issued by this deployment")
		}
		if d, err = tx.Devices().GetDevice(rec.DeviceID); err != nil {
			return err
		}
		if env, err = tx.Environments().GetEnvironment(d.EnvironmentID); err != nil {
			return err
		}
		// The proof was made for the environment its challenge named: the device's own.
		if !how.PossessionProven && ch.EnvironmentID != env.ID {
			s.refusals[refusedMismatch].Add(1)
			return errNoProof(PurposeRenew)
		}
		if err := governance.Require(tx, a, stage, ownership.Renew, EnvChain(env)); err != nil {
			return err
		}
		switch {
		case d.CustodianID != env.OperatorID: // custody ends trust: it renews only where it is held
			return failure.New(failure.Denied, "device %s is no longer held by operator %s: it cannot renew in environment %s", d.ID, env.OperatorID, env.ID)
		case d.OperationalCert != rec.SerialHex:
			return failure.New(failure.Conflict, "certificate %s was superseded by %s: renew with the current certificate", rec.SerialHex, d.OperationalCert)
		case rec.State == ca.Revoked && rec.Reason != nil && *rec.Reason == int(revocation.CertificateHold):
			return failure.New(failure.Denied, "operational certificate %s is suspended by a manufacturing revocation: it cannot renew until an operator re-admits the device", rec.SerialHex)
		case rec.State != ca.Issued:
			return failure.New(failure.Denied, "operational certificate %s is revoked", rec.SerialHex)
		case !now.Before(rec.NotAfter):
			return failure.New(failure.Denied, "operational certificate %s expired at %s: the device must onboard again with its factory identity", rec.SerialHex, rec.NotAfter.Format(time.RFC3339))
		case d.State != device.Active:
			return failure.New(failure.Denied, "device %s is %s and cannot renew", d.ID, d.State)
		}
		if pv, err = tx.Environments().LatestPolicy(env.ID, environment.Renewal); err != nil {
			return err
		}
		if factRec, err = tx.Certificates().GetCert(mustSerial(d.FactoryCert)); err != nil {
			return err
		}
		if fc, err = parseDER(factRec.DER); err != nil {
			return err
		}
		evs, err := tx.Evidence().ListEvidence(d.ID)
		if err != nil {
			return err
		}
		renewals := 0
		for _, e := range evs {
			if e.Kind == "renew" {
				renewals++
			}
		}
		op := &policy.Operational{Serial: rec.SerialHex, IssuedAt: *rec.IssuedAt, NotAfter: rec.NotAfter, Renewals: renewals, Age: now.Sub(*rec.IssuedAt)}
		if in, err = s.buildInput(tx, d, fc, factRec, env, r.Facts, op); err != nil {
			return err
		}
		issuer, err = tx.CAs().GetCA(env.IssuingCAID)
		return err
	})
	if err != nil {
		return out, err
	}
	prog, err := s.program(ctx, pv)
	if err != nil {
		return out, err
	}
	if err := decide(prog.EvaluateContext(ctx, in), environment.Renewal); err != nil {
		return out, err
	}
	ev := environment.Evidence{DeviceID: d.ID, EnvironmentID: env.ID, Kind: "renew", BasedOn: rec.SerialHex, FactorySerial: factRec.SerialHex,
		Protocol: how.Protocol, PolicyKind: environment.Renewal, PolicyVersion: pv.Version, PrincipalID: a.PrincipalID, Facts: mustJSON(r.Facts), CreatedAt: now}
	return s.issue(ctx, a, env, issuer, d, fc, req.PublicKey, ev, "operational.renew", "")
}

// RevokeRequest revokes a device's operational identity after a runtime compromise.
type RevokeRequest struct {
	Reason string `json:"reason"` // RFC 5280 name, e.g. keyCompromise
}

// Revoke revokes the device's current operational certificate and quarantines the device.
// Its factory identity is untouched, so it can be re-admitted after repair.
func (s *Service) Revoke(ctx context.Context, a audit.Actor, deviceID string, r RevokeRequest) (device.Device, error) {
	reason, err := revocation.Parse(revocation.Runtime, r.Reason)
	if err != nil {
		return device.Device{}, err
	}
	now := s.now()
	var next device.Device
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		d, env, err := s.heldDevice(tx, a, deviceID, ownership.Revoke)
		if err != nil {
			return err
		}
		if d.State != device.Active && d.State != device.Suspended {
			return failure.New(failure.Conflict, "device %s is %s: only an active or suspended device has an operational identity to revoke", d.ID, d.State)
		}
		if err := tx.Certificates().Revoke(mustSerial(d.OperationalCert), int(reason), now); err != nil {
			return err
		}
		next = d
		next.State, next.UpdatedAt = device.Quarantined, now
		if err := tx.Devices().UpdateDevice(next, d); err != nil {
			return err
		}
		_, err = tx.Audit().Append(s.event(a, "operational.revoke", "environment:"+env.ID, "device:"+d.ID,
			map[string]any{"certificate": d.OperationalCert, "reason": reason.String(), "path": revocation.Runtime}))
		return err
	})
	return next, err
}

// ReadmitRequest asks to trust a quarantined or suspended device again.
type ReadmitRequest struct {
	Reason string `json:"reason"`
}

// ReadmitResult is either the re-admitted device or the approval request it waits for.
type ReadmitResult struct {
	Device   device.Device     `json:"device"`
	Approval *approval.Request `json:"approval,omitempty"`
}

// Readmit asks for the operator's explicit decision to trust a device again. Re-admission
// goes through an approval (approval.Readmit): this call creates the request, or returns the
// one already pending, and another principal of the party that owns operational/approve over
// the environment decides it; ReadmitApproved carries it out once approved.
func (s *Service) Readmit(ctx context.Context, a audit.Actor, deviceID string, r ReadmitRequest) (ReadmitResult, error) {
	now := s.now()
	var out ReadmitResult
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		d, env, err := s.heldDevice(tx, a, deviceID, ownership.Issue)
		if err != nil {
			return err
		}
		if d.State != device.Quarantined && d.State != device.Suspended {
			return failure.New(failure.Conflict, "device %s is %s: only quarantined or suspended devices are re-admitted", d.ID, d.State)
		}
		out.Device = d
		q, found, err := governance.LatestApproval(tx, approval.Readmit, "device:"+d.ID, now)
		if err != nil {
			return err
		}
		if found && (q.State == approval.Pending || q.State == approval.Approved) {
			out.Approval = &q
			return nil
		}
		q, err = governance.RequestApproval(tx, a, now, approval.Readmit, EnvChain(env), "device:"+d.ID, r.Reason, nil, map[string]any{"state": d.State, "certificate": d.OperationalCert})
		out.Approval = &q
		return err
	})
	return out, err
}

// ReadmitApproved re-admits a device under an approved request, consuming it in the same
// transaction. A quarantined device (its operational certificate revoked for good) returns to
// the onboarding path; a suspended device (its certificate on hold by a manufacturing
// revocation) has the hold lifted and is active again.
func (s *Service) ReadmitApproved(ctx context.Context, a audit.Actor, q approval.Request) (device.Device, error) {
	now := s.now()
	var next device.Device
	deviceID := strings.TrimPrefix(q.Subject, "device:")
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		d, env, err := s.heldDevice(tx, a, deviceID, ownership.Issue)
		if err != nil {
			return err
		}
		if _, err := governance.ConsumeApproval(tx, a, now, q.ID, approval.Readmit, "device:"+d.ID); err != nil {
			return err
		}
		next = d
		next.UpdatedAt = now
		switch d.State {
		case device.Quarantined:
			next.State, next.OperationalCert = device.Registered, ""
		case device.Suspended:
			if err := tx.Certificates().Unhold(mustSerial(d.OperationalCert)); err != nil {
				return err
			}
			next.State = device.Active
		default:
			return failure.New(failure.Conflict, "device %s is %s: only quarantined or suspended devices are re-admitted", d.ID, d.State)
		}
		if err := tx.Devices().UpdateDevice(next, d); err != nil {
			return err
		}
		_, err = tx.Audit().Append(s.event(a, "operational.readmit", "environment:"+env.ID, "device:"+d.ID,
			map[string]any{"from": d.State, "to": next.State, "certificate": d.OperationalCert, "approval": q.ID, "approved_by": q.Decisions}))
		return err
	})
	return next, err
}

// heldDevice loads a device in one of the caller's environments and checks the duty.
func (s *Service) heldDevice(tx store.Tx, a audit.Actor, id string, duty ownership.Duty) (device.Device, environment.Environment, error) {
	d, err := tx.Devices().GetDevice(id)
	if err != nil {
		return d, environment.Environment{}, err
	}
	if d.EnvironmentID == "" {
		if ok, _ := governance.CanSeeDevice(tx, a, d); !ok {
			return d, environment.Environment{}, failure.New(failure.NotFound, "device %s: not found", id)
		}
		return d, environment.Environment{}, failure.New(failure.Conflict, "device %s has never been onboarded", id)
	}
	env, err := tx.Environments().GetEnvironment(d.EnvironmentID)
	if err != nil {
		return d, env, err
	}
	if err := governance.Require(tx, a, stage, duty, EnvChain(env)); err != nil {
		if ok, _ := governance.CanSeeDevice(tx, a, d); !ok {
			return d, env, failure.New(failure.NotFound, "device %s: not found", id)
		}
		return d, env, err
	}
	if d.CustodianID != env.OperatorID {
		if ok, _ := governance.CanSeeDevice(tx, a, d); !ok {
			return d, env, failure.New(failure.NotFound, "device %s: not found", id)
		}
		return d, env, failure.New(failure.Conflict, "device %s is no longer held by operator %s of environment %s", d.ID, env.OperatorID, env.ID)
	}
	return d, env, nil
}
