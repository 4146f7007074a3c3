package manufacturing

import (
	"context"
	"math/big"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// RevokeRequest revokes factory identities selected by device, lot, line, time window or
// issuing CA. DryRun defaults to true: without "dry_run": false nothing changes.
type RevokeRequest struct {
	Selector store.FactorySelector `json:"selector"`
	Reason   string                `json:"reason"`
	DryRun   *bool                 `json:"dry_run,omitempty"`
}

// RevokeResult lists what a revocation did or, in a dry run, would do.
type RevokeResult struct {
	DryRun    bool                `json:"dry_run"`
	RunID     string              `json:"run_id,omitempty"`
	Reason    string              `json:"reason"`
	Factory   []store.FactoryCert `json:"factory"`   // factory identities revoked (or to be)
	Suspended []Suspension        `json:"suspended"` // operational identities suspended (or to be)
	Skipped   int                 `json:"already_revoked"`
}

// Suspension is one cascade item: an operational identity issued on an affected factory
// identity.
type Suspension struct {
	DeviceID    string `json:"device_id"`
	Serial      string `json:"serial"`
	Environment string `json:"environment_id"`
}

// chunk bounds one transaction of a large revocation, so that a lot of 100,000 devices does
// not hold the write lock for its whole run and an interrupted run resumes where it stopped.
const chunk = 500

// RevokeFactory is the manufacturing revocation path. Every operational identity issued on an
// affected factory identity is suspended (certificateHold) in the same transaction as the
// factory revocation, and each cascade item is recorded. A revocation is never undone; a
// re-run skips what is already revoked and changes nothing else.
func (s *Service) RevokeFactory(ctx context.Context, a audit.Actor, r RevokeRequest) (RevokeResult, error) {
	reason, err := revocation.Parse(revocation.Manufacturing, r.Reason)
	if err != nil {
		return RevokeResult{}, err
	}
	res := RevokeResult{DryRun: r.DryRun == nil || *r.DryRun, Reason: reason.String(), Factory: []store.FactoryCert{}, Suspended: []Suspension{}}
	sel := r.Selector
	if sel.ManufacturerID == "" {
		return res, failure.New(failure.Invalid, "selector.manufacturer_id is required")
	}
	if sel.DeviceID == "" && sel.LotID == "" && sel.Line == "" && sel.IssuingCAID == "" && sel.IssuedFrom.IsZero() && sel.IssuedTo.IsZero() {
		return res, failure.New(failure.Invalid, "name at least one of selector.device_id, lot_id, line, issuing_ca_id, issued_from/issued_to: a revocation of every device of a manufacturer is an issuing-CA revocation")
	}
	if !sel.IssuedFrom.IsZero() && !sel.IssuedTo.IsZero() && !sel.IssuedFrom.Before(sel.IssuedTo) {
		return res, failure.New(failure.Invalid, "selector.issued_from must be before issued_to")
	}
	if err := s.c.Store.View(ctx, func(tx store.Tx) error { return s.authorizeRevocation(tx, a, sel) }); err != nil {
		return res, err
	}
	now := s.now()
	if !res.DryRun {
		res.RunID = party.NewID("rvk")
		err := s.c.Store.Update(ctx, func(tx store.Tx) error {
			if err := tx.Revocations().CreateRun(store.RevocationRun{ID: res.RunID, ManufacturerID: sel.ManufacturerID, Selector: sel, Reason: int(reason), RequestedBy: a.PrincipalID, CreatedAt: now}); err != nil {
				return err
			}
			_, err := tx.Audit().Append(s.event(a, "factory.revoke.start", scopeOf(sel), "revocation:"+res.RunID, map[string]any{"selector": sel, "reason": reason.String()}))
			return err
		})
		if err != nil {
			return res, err
		}
	}
	after := ""
	for {
		var page []store.FactoryCert
		if err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
			page, err = tx.Certificates().FactoryCerts(sel, after, chunk)
			return err
		}); err != nil {
			return res, err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Serial
		if err := s.revokeChunk(ctx, a, res.RunID, page, reason, now, &res); err != nil {
			return res, err
		}
		if len(page) < chunk {
			break
		}
	}
	if !res.DryRun {
		err := s.c.Store.Update(ctx, func(tx store.Tx) error {
			if err := tx.Revocations().FinishRun(res.RunID, s.now()); err != nil {
				return err
			}
			_, err := tx.Audit().Append(s.event(a, "factory.revoke.finish", scopeOf(sel), "revocation:"+res.RunID,
				map[string]any{"revoked": len(res.Factory), "suspended": len(res.Suspended), "already_revoked": res.Skipped}))
			return err
		})
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// revokeChunk revokes (or, in a dry run, lists) one page in one transaction.
func (s *Service) revokeChunk(ctx context.Context, a audit.Actor, runID string, page []store.FactoryCert, reason revocation.Reason, now time.Time, res *RevokeResult) error {
	fn := func(tx store.Tx) error {
		var revoked []string
		for _, f := range page {
			if f.State != ca.Issued {
				res.Skipped++
				continue
			}
			d, err := tx.Devices().GetDevice(f.DeviceID)
			if err != nil {
				return err
			}
			res.Factory = append(res.Factory, f)
			revoked = append(revoked, f.Serial)
			var susp *Suspension
			if d.OperationalCert != "" {
				op, err := tx.Certificates().GetCert(serialOf(d.OperationalCert))
				if err != nil {
					return err
				}
				if op.State == ca.Issued && now.Before(op.NotAfter) {
					susp = &Suspension{DeviceID: d.ID, Serial: op.SerialHex, Environment: d.EnvironmentID}
					res.Suspended = append(res.Suspended, *susp)
				}
			}
			if res.DryRun {
				continue
			}
			if err := tx.Certificates().Revoke(serialOf(f.Serial), int(reason), now); err != nil {
				return err
			}
			if err := tx.Revocations().AddItem(store.CascadeItem{RunID: runID, Serial: f.Serial, DeviceID: d.ID, Action: "factory-revoked", At: now}); err != nil {
				return err
			}
			next := d
			next.UpdatedAt = now
			if susp != nil {
				if err := tx.Certificates().Revoke(serialOf(susp.Serial), int(revocation.CertificateHold), now); err != nil {
					return err
				}
				if err := tx.Revocations().AddItem(store.CascadeItem{RunID: runID, Serial: susp.Serial, DeviceID: d.ID, Action: "operational-suspended", At: now}); err != nil {
					return err
				}
				next.State = device.Suspended
			} else if d.State != device.Quarantined && d.State != device.Suspended {
				next.State = device.FactoryRevoked
			}
			if next.State != d.State {
				if err := tx.Devices().UpdateDevice(next, d); err != nil {
					return err
				}
			}
		}
		if res.DryRun || len(revoked) == 0 {
			return nil
		}
		_, err := tx.Audit().Append(s.event(a, "factory.revoke", "revocation:"+runID, "revocation:"+runID,
			map[string]any{"factory_certificates": revoked, "reason": reason.String()}))
		return err
	}
	if res.DryRun {
		return s.c.Store.View(ctx, fn)
	}
	return s.c.Store.Update(ctx, fn)
}

// authorizeRevocation checks manufacturing/revoke over the narrowest scope the selector names.
func (s *Service) authorizeRevocation(tx store.Tx, a audit.Actor, sel store.FactorySelector) error {
	chain := governance.ManufacturerChain(sel.ManufacturerID)
	switch {
	case sel.LotID != "":
		l, err := tx.Catalog().GetLot(sel.LotID)
		if err != nil {
			return err
		}
		if l.ManufacturerID != sel.ManufacturerID {
			return failure.New(failure.Invalid, "lot %s is not a lot of %s", l.ID, sel.ManufacturerID)
		}
		chain = governance.LotChain(l)
	case sel.DeviceID != "":
		d, err := tx.Devices().GetDevice(sel.DeviceID)
		if err != nil {
			return err
		}
		l, err := tx.Catalog().GetLot(d.LotID)
		if err != nil {
			return err
		}
		chain = governance.LotChain(l)
	case sel.IssuingCAID != "":
		c, err := tx.CAs().GetCA(sel.IssuingCAID)
		if err != nil {
			return err
		}
		if c.PartyID != sel.ManufacturerID {
			return failure.New(failure.Invalid, "CA %s is not a CA of %s", c.ID, sel.ManufacturerID)
		}
	}
	return governance.Require(tx, a, stage, ownership.Revoke, chain)
}

func scopeOf(sel store.FactorySelector) string {
	if sel.LotID != "" {
		return "lot:" + sel.LotID
	}
	return "manufacturer:" + sel.ManufacturerID
}

func serialOf(hex string) *big.Int {
	n, ok := new(big.Int).SetString(hex, 16)
	if !ok {
		return new(big.Int)
	}
	return n
}

// Cascade lists the items a revocation run recorded.
func (s *Service) Cascade(ctx context.Context, a audit.Actor, runID string) (store.RevocationRun, []store.CascadeItem, error) {
	var run store.RevocationRun
	var items []store.CascadeItem
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if run, err = tx.Revocations().GetRun(runID); err != nil {
			return err
		}
		if ok, err := governance.CanRead(tx, a, run.ManufacturerID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "revocation run %s: not found", runID)
		}
		items, err = tx.Revocations().ListItems(runID, "", 10000)
		return err
	})
	return run, items, err
}
