package makers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// WatcherPrincipal is the principal the status watcher records its revocations under, for
// the maker's operator.
const WatcherPrincipal = "system:maker-status"

// WatchSet returns what the status watcher refreshes: every registered maker, and every
// external device whose factory certificate is still good.
func (s *Service) WatchSet(ctx context.Context) ([]maker.Maker, []maker.Origin, error) {
	var makers []maker.Maker
	var origins []maker.Origin
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		origins = nil
		var err error
		if makers, err = tx.Makers().ListMakers(""); err != nil {
			return err
		}
		after := ""
		for {
			page, err := tx.Makers().ListOrigins("", after, 10000)
			if err != nil {
				return err
			}
			origins = append(origins, page...)
			if len(page) < 10000 {
				return nil
			}
			after = page[len(page)-1].DeviceID
		}
	})
	return makers, origins, err
}

// Revocation is a maker's revocation of an external device's factory certificate, as its CRL
// or OCSP answer said.
type Revocation struct {
	DeviceID  string
	RevokedAt time.Time // as the maker published it
	Reason    int       // RFC 5280 CRLReason
	Evidence  maker.Evidence
}

// RevocationResult says what RecordRevocation did.
type RevocationResult struct {
	RunID string
	// Suspended is the serial of the operational certificate put on hold ("" when the
	// device held none that was live), issued by SuspendedCA.
	Suspended   string
	SuspendedCA string
	// Already is true when the revocation was recorded before: nothing changed.
	Already bool
}

// RecordRevocation runs the manufacturing revocation path for one external device, as the
// internal path does for a factory certificate of this deployment: in one transaction the
// origin records the maker's revocation and its evidence, the device's live operational
// certificate is suspended (certificateHold) and the device suspended (or, with none live,
// marked factory-revoked), a revocation run with its cascade items (factory-revoked,
// operational-suspended) is recorded, and the audit event names the maker's CRL or OCSP
// answer. It is recorded for the maker's operator by WatcherPrincipal. A second call for the
// same device changes nothing. Only the device's own operational certificate is put on hold:
// when the certificate its row names belongs to another device or is not operational, the
// store is inconsistent and the whole transaction is refused (not found, naming the device,
// the serial, the certificate's device and profile), holding nothing.
func (s *Service) RecordRevocation(ctx context.Context, r Revocation) (RevocationResult, error) {
	var res RevocationResult
	now := s.c.Now()
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		res = RevocationResult{}
		o, m, err := Origin(tx, r.DeviceID)
		if err != nil {
			return err
		}
		if o.State == maker.Revoked {
			res.Already = true
			return nil
		}
		d, err := tx.Devices().GetDevice(r.DeviceID)
		if err != nil {
			return err
		}
		a := audit.Actor{PartyID: m.OperatorID, PrincipalID: WatcherPrincipal}
		if err := tx.Makers().RevokeOrigin(d.ID, r.RevokedAt, r.Reason, r.Evidence); err != nil {
			return err
		}
		res.RunID = party.NewID("rvk")
		sel := store.FactorySelector{ManufacturerID: m.OperatorID, DeviceID: d.ID}
		if err := tx.Revocations().CreateRun(store.RevocationRun{ID: res.RunID, ManufacturerID: m.OperatorID, Selector: sel, Reason: r.Reason, RequestedBy: WatcherPrincipal, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.Revocations().AddItem(store.CascadeItem{RunID: res.RunID, Serial: o.FactorySerial, DeviceID: d.ID, Action: "factory-revoked", At: now}); err != nil {
			return err
		}
		next := d
		next.UpdatedAt = now
		live := false
		if d.OperationalCert != "" {
			op, err := store.OwnCert(tx, d.ID, d.OperationalCert, store.OperationalProfile)
			if err != nil {
				return err
			}
			if live = op.State == ca.Issued && now.Before(op.NotAfter); live {
				if err := tx.Certificates().Revoke(op.Serial, int(revocation.CertificateHold), now); err != nil {
					return err
				}
				if err := tx.Revocations().AddItem(store.CascadeItem{RunID: res.RunID, Serial: d.OperationalCert, DeviceID: d.ID, Action: "operational-suspended", At: now}); err != nil {
					return err
				}
				res.Suspended, res.SuspendedCA = d.OperationalCert, op.CAID
			}
		}
		switch {
		case live:
			next.State = device.Suspended
		case d.State != device.Quarantined && d.State != device.Suspended:
			next.State = device.FactoryRevoked
		}
		if next.State != d.State {
			if err := device.Transition(d.State, next.State); err != nil {
				return err
			}
			if err := tx.Devices().UpdateDevice(next, d); err != nil {
				return err
			}
		}
		if err := tx.Revocations().FinishRun(res.RunID, now); err != nil {
			return err
		}
		_, err = tx.Audit().Append(s.event(a, "factory.revoke.external", m.OperatorID, "device:"+d.ID, map[string]any{
			"maker": m.ID, "maker_name": m.Name, "factory_certificate": o.FactorySerial, "device_serial": o.Serial,
			"reason": revocation.Reason(r.Reason).String(), "revoked_at": r.RevokedAt, "evidence": r.Evidence,
			"run": res.RunID, "suspended": res.Suspended, "from": d.State, "to": next.State}))
		return err
	})
	if failure.Is(err, failure.NotFound) {
		return res, fmt.Errorf("recording the maker's revocation of device %s: %w", r.DeviceID, err)
	}
	return res, err
}

// RecordSources keeps what a round of the status watcher found at each maker's sources, for
// the gaps report: states maps a maker ID to its sources' states, which replace those kept.
// A maker deleted since the round is skipped. No audit event: these are observations, not
// decisions.
func (s *Service) RecordSources(ctx context.Context, states map[string][]maker.SourceState) error {
	ids := slices.Sorted(maps.Keys(states))
	return s.c.Store.Update(ctx, func(tx store.Tx) error {
		for _, id := range ids {
			if err := tx.Makers().PutSourceStates(id, states[id]); err != nil && !failure.Is(err, failure.NotFound) {
				return fmt.Errorf("keeping the source states of maker %s: %w", id, err)
			}
		}
		return nil
	})
}
