package operational

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ReleaseRequest releases or decommissions a device.
type ReleaseRequest struct {
	// Note says why, for the audit log (at most 1000 characters).
	Note string `json:"note,omitempty"`
}

// Release ends a device's operational identity in its environment so that it can leave: the
// lifecycle's "active → release → released" (PRODUCT.md), after which custody goes back or
// on. Its current operational certificate, if still valid or on hold, is revoked as
// cessationOfOperation; the device becomes released and onboards again
// (here or elsewhere) only with its factory identity, which stays untouched. It needs the
// operational/revoke duty over the device's environment, whose operator must hold the device.
// An active, suspended or quarantined device is released; custody refuses to move any other
// (custody.Service.Offer). Only the device's own operational certificate is revoked: a row
// naming another certificate is refused as not found (store.OwnCert) and changes nothing.
func (s *Service) Release(ctx context.Context, a audit.Actor, deviceID string, r ReleaseRequest) (device.Device, error) {
	return s.end(ctx, a, deviceID, r, "operational.release")
}

// Decommission is Release for a device taken out of service (end of life, or sent for
// repair): the same transition, recorded as a decommissioning. A repaired device comes back
// with a new build record and onboards again.
func (s *Service) Decommission(ctx context.Context, a audit.Actor, deviceID string, r ReleaseRequest) (device.Device, error) {
	return s.end(ctx, a, deviceID, r, "operational.decommission")
}

func (s *Service) end(ctx context.Context, a audit.Actor, deviceID string, r ReleaseRequest, action string) (device.Device, error) {
	if len(r.Note) > 1000 {
		return device.Device{}, failure.New(failure.Invalid, "note is longer than 1000 characters")
	}
	now := s.now()
	var next device.Device
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		d, env, err := s.heldDevice(tx, a, deviceID, ownership.Revoke)
		if err != nil {
			return err
		}
		if d.State != device.Active && d.State != device.Suspended && d.State != device.Quarantined {
			return failure.New(failure.Conflict, "device %s is %s: only an active, suspended or quarantined device is released", d.ID, d.State)
		}
		revoked := false
		if d.OperationalCert != "" {
			cur, err := store.OwnCert(tx, d.ID, d.OperationalCert, store.OperationalProfile)
			if err != nil {
				return err
			}
			held := cur.State == ca.Revoked && cur.Reason != nil && *cur.Reason == int(revocation.CertificateHold)
			if held || cur.State == ca.Issued && now.Before(cur.NotAfter) {
				if err := tx.Certificates().Revoke(cur.Serial, int(revocation.CessationOfOperation), now); err != nil {
					return err
				}
				revoked = true
			}
		}
		next = d
		// Its environment and last operational certificate stay on record: a renewal with that
		// certificate is then refused as revoked, or, once custody moved, as no longer held.
		next.State, next.UpdatedAt = device.Released, now
		if err := tx.Devices().UpdateDevice(next, d); err != nil {
			return err
		}
		detail := map[string]any{"from": d.State, "certificate": d.OperationalCert, "revoked": revoked, "note": r.Note}
		if revoked {
			detail["reason"] = revocation.CessationOfOperation.String()
		}
		_, err = tx.Audit().Append(s.event(a, action, "environment:"+env.ID, "device:"+d.ID, detail))
		return err
	})
	return next, err
}
