package operational

import (
	"context"
	"strings"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// RevokeRequest revokes a device's operational identity after a runtime compromise.
type RevokeRequest struct {
	Reason string `json:"reason"` // RFC 5280 name, e.g. keyCompromise
}

// Revoke revokes the device's current operational certificate and quarantines the device.
// Its factory identity is untouched, so it can be re-admitted after repair. The certificate
// its row names must be its own operational certificate (store.OwnCert); any other is refused
// as not found and nothing is revoked.
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
		cur, err := store.OwnCert(tx, d.ID, d.OperationalCert, store.OperationalProfile)
		if err != nil {
			return err
		}
		if err := tx.Certificates().Revoke(cur.Serial, int(reason), now); err != nil {
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
		out = ReadmitResult{} // Update may run this again
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
// revocation) has the hold lifted and is active again: only its own operational certificate
// (store.OwnCert), any other is refused as not found.
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
			cur, err := store.OwnCert(tx, d.ID, d.OperationalCert, store.OperationalProfile)
			if err != nil {
				return err
			}
			if err := tx.Certificates().Unhold(cur.Serial); err != nil {
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
