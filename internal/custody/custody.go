// Package custody moves devices between parties: the holder offers, the receiver accepts or
// refuses, the holder may cancel while the offer is open. The chain of accepted transfers is
// kept forever. Two offers of the same device cannot both be open (the store refuses the
// second), and acceptance checks, in its transaction, that every device is still held by the
// party that offered it, so two concurrent transfers cannot both succeed. A transfer carries
// the count of its devices, fixed at the offer; the devices themselves are read page by page.
//
// Custody ends trust: a device leaves its operator only released. A transfer naming a device
// that is active, suspended or quarantined (one an environment trusts, or may trust again
// after a re-admission) is refused at the offer and again at acceptance, in its transaction,
// until the holder releases or decommissions the device (operational.Release), which revokes
// its operational identity. So no device renews in the environment of a party that no longer
// holds it.
package custody

import (
	"context"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// MaxDevices bounds one transfer.
const MaxDevices = 100000

// Service is the custody service.
type Service struct {
	st  store.Store
	now func() time.Time
}

// New returns a Service.
func New(st store.Store, now func() time.Time) *Service { return &Service{st: st, now: now} }

// OfferRequest offers custody of devices, or of every device of a lot the caller holds.
type OfferRequest struct {
	To        string   `json:"to"`
	DeviceIDs []string `json:"device_ids,omitempty"`
	LotID     string   `json:"lot_id,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// Offer records an offer from the caller's party. The caller's principal must hold the
// custody/transfer duty (governance.RequireCustody): not be limited to other duties.
func (s *Service) Offer(ctx context.Context, a audit.Actor, r OfferRequest) (device.Transfer, error) {
	if (len(r.DeviceIDs) == 0) == (r.LotID == "") {
		return device.Transfer{}, failure.New(failure.Invalid, "name either devices or a lot to transfer")
	}
	if len(r.DeviceIDs) > MaxDevices {
		return device.Transfer{}, failure.New(failure.TooLarge, "at most %d devices per transfer", MaxDevices)
	}
	if len(r.Note) > 1000 {
		return device.Transfer{}, failure.New(failure.Invalid, "note is longer than 1000 characters")
	}
	if r.To == a.PartyID {
		return device.Transfer{}, failure.New(failure.Invalid, "party %s already holds these devices", r.To)
	}
	now := s.now()
	t := device.Transfer{ID: party.NewID("xfr"), FromID: a.PartyID, ToID: r.To, State: device.Offered, Note: r.Note, OfferedBy: a.PrincipalID, OfferedAt: now}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		t.DeviceCount = 0 // counted afresh in each run: Update may run this again
		if _, err := tx.Parties().GetParty(r.To); err != nil {
			return err
		}
		if err := governance.RequireCustody(tx, a); err != nil {
			return err
		}
		scope := "party:" + a.PartyID
		if r.LotID != "" {
			scope = "lot:" + r.LotID
			if err := offerLot(tx, a, r.LotID, &t); err != nil {
				return err
			}
		} else {
			if err := checkHeld(tx, a, r.DeviceIDs); err != nil {
				return err
			}
			if err := tx.Custody().CreateTransfer(t, r.DeviceIDs); err != nil {
				return err
			}
			t.DeviceCount = len(r.DeviceIDs)
		}
		if err := released(tx, t); err != nil {
			return err
		}
		_, err := tx.Audit().Append(governance.Event(a, now, "custody.offer", "", scope, "transfer:"+t.ID, map[string]any{"to": t.ToID, "devices": t.DeviceCount, "note": t.Note}))
		return err
	})
	return t, err
}

// offerLot records t as an offer of every device of the lot the caller holds, chosen by the
// store in one statement.
func offerLot(tx store.Tx, a audit.Actor, lotID string, t *device.Transfer) error {
	if _, err := tx.Catalog().GetLot(lotID); err != nil {
		return err
	}
	n, err := tx.Custody().CreateLotTransfer(*t, lotID)
	if err != nil {
		return err
	}
	if n == 0 {
		return failure.New(failure.Invalid, "party %s holds no device of lot %s", a.PartyID, lotID)
	}
	t.DeviceCount = n
	return nil
}

// checkHeld checks that the caller holds each named device, named once.
func checkHeld(tx store.Tx, a audit.Actor, ids []string) error {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return failure.New(failure.Invalid, "device %s is named twice", id)
		}
		seen[id] = true
		d, err := tx.Devices().GetDevice(id)
		if err != nil {
			return err
		}
		if d.CustodianID != a.PartyID {
			if ok, _ := governance.CanSeeDevice(tx, a, d); !ok {
				return failure.New(failure.NotFound, "device %s: not found", id)
			}
			return failure.New(failure.Denied, "party %s does not hold device %s (held by %s)", a.PartyID, id, d.CustodianID)
		}
	}
	return nil
}

// Decision is what the receiver (or, for cancel, the sender) decides.
type Decision string

// Decisions.
const (
	Accept Decision = "accept"
	Refuse Decision = "refuse"
	Cancel Decision = "cancel"
)

// Decide accepts, refuses or cancels an open transfer, as a principal of the receiving party
// (accept, refuse) or of the offering party (cancel) that holds the custody/transfer duty.
func (s *Service) Decide(ctx context.Context, a audit.Actor, id string, d Decision) (device.Transfer, error) {
	now := s.now()
	var t device.Transfer
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if t, err = tx.Custody().GetTransfer(id); err != nil {
			return err
		}
		if a.PartyID != t.FromID && a.PartyID != t.ToID {
			return failure.New(failure.NotFound, "transfer %s: not found", id)
		}
		var state device.TransferState
		switch d {
		case Accept, Refuse:
			if a.PartyID != t.ToID {
				return failure.New(failure.Denied, "only the receiving party %s may %s transfer %s", t.ToID, d, id)
			}
			state = device.Accepted
			if d == Refuse {
				state = device.Refused
			}
		case Cancel:
			if a.PartyID != t.FromID {
				return failure.New(failure.Denied, "only the offering party %s may cancel transfer %s", t.FromID, id)
			}
			state = device.Cancelled
		default:
			return failure.New(failure.Invalid, "decision %q is not accept, refuse or cancel", d)
		}
		if err := governance.RequireCustody(tx, a); err != nil {
			return err
		}
		if err := tx.Custody().DecideTransfer(id, state, a.PrincipalID, now); err != nil {
			return err
		}
		if state == device.Accepted {
			// Checked again at acceptance: the holder may have onboarded a device since its offer.
			if err := released(tx, t); err != nil {
				return err
			}
			// One statement for the whole transfer: a lot of a million devices moved device by
			// device held the database for minutes.
			n, err := tx.Custody().MoveDevices(id, t.FromID, t.ToID, now)
			if err != nil {
				return err
			}
			if n != int64(t.DeviceCount) {
				return notHeld(tx, t) // the transaction rolls back: no device moved
			}
		}
		t.State, t.DecidedBy, t.DecidedAt = state, a.PrincipalID, &now
		_, err = tx.Audit().Append(governance.Event(a, now, "custody."+string(d), "", "party:"+t.FromID, "transfer:"+t.ID, map[string]any{"from": t.FromID, "to": t.ToID, "devices": t.DeviceCount}))
		return err
	})
	return t, err
}

// notHeld names a device of t that its sender no longer held, after MoveDevices moved the
// others to the receiver (in the transaction about to roll back): one the receiver does not
// hold now. A device the receiver held already is not told apart from one moved just now.
func notHeld(tx store.Tx, t device.Transfer) error {
	devID, err := tx.Custody().DeviceNotHeld(t.ID, t.ToID)
	if err != nil {
		return err
	}
	if devID != "" {
		return failure.New(failure.Conflict, "device %s is no longer held by %s", devID, t.FromID)
	}
	return failure.New(failure.Conflict, "some devices of transfer %s are no longer held by %s", t.ID, t.FromID)
}

// Get returns a transfer the caller is a side of.
func (s *Service) Get(ctx context.Context, a audit.Actor, id string) (device.Transfer, error) {
	var t device.Transfer
	err := s.st.View(ctx, func(tx store.Tx) (err error) { t, err = readable(tx, a, id); return err })
	return t, err
}

// MaxPage bounds one page of a transfer's devices.
const MaxPage = 1000

// Devices returns the IDs of a transfer's devices after the given ID, in order, at most limit
// (1-MaxPage; 0 means MaxPage), to the callers Get shows the transfer to.
func (s *Service) Devices(ctx context.Context, a audit.Actor, id, after string, limit int) ([]string, error) {
	if limit < 0 || limit > MaxPage {
		return nil, failure.New(failure.Invalid, "limit must be 1-%d", MaxPage)
	}
	if limit == 0 {
		limit = MaxPage
	}
	var out []string
	err := s.st.View(ctx, func(tx store.Tx) error {
		if _, err := readable(tx, a, id); err != nil {
			return err
		}
		var err error
		out, err = tx.Custody().TransferDevices(id, after, limit)
		return err
	})
	return out, err
}

// readable returns transfer id when the caller may read it, and hides it otherwise.
func readable(tx store.Tx, a audit.Actor, id string) (device.Transfer, error) {
	t, err := tx.Custody().GetTransfer(id)
	if err != nil {
		return t, err
	}
	if ok, err := governance.CanRead(tx, a, t.FromID, t.ToID); err != nil {
		return t, err
	} else if !ok {
		return device.Transfer{}, failure.New(failure.NotFound, "transfer %s: not found", id)
	}
	return t, nil
}

// List returns the caller's party's transfers, both directions.
func (s *Service) List(ctx context.Context, a audit.Actor) ([]device.Transfer, error) {
	var out []device.Transfer
	err := s.st.View(ctx, func(tx store.Tx) (err error) { out, err = tx.Custody().ListTransfers(a.PartyID); return err })
	return out, err
}

// released refuses transfer t (being offered or accepted) while one of its devices is still
// in an operational state: custody moves only devices their holder released.
func released(tx store.Tx, t device.Transfer) error {
	id, err := tx.Custody().OperationalDevice(t.ID)
	if err != nil || id == "" {
		return err
	}
	d, err := tx.Devices().GetDevice(id)
	if err != nil {
		return err
	}
	if d.State == device.HandedOff {
		return failure.New(failure.Conflict, "device %s was handed off in a custody voucher to another deployment: %s no longer holds it", d.ID, t.FromID)
	}
	return failure.New(failure.Conflict, "device %s is %s with an operational identity of its holder %s: custody moves only once the holder releases it (hallmark device release %s)",
		d.ID, d.State, t.FromID, d.ID)
}
