package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/store"
)

type custody struct{ t *tx }

func (c custody) CreateTransfer(v device.Transfer, deviceIDs []string) error {
	if err := c.insertTransfer(v, len(deviceIDs)); err != nil {
		return err
	}
	for _, d := range deviceIDs {
		if _, err := c.t.exec(`INSERT INTO transfer_items (transfer_id, device_id, open) VALUES (?, ?, 1)`, v.ID, d); err != nil {
			return fmt.Errorf("device %s already has an open transfer: %w", d, err)
		}
	}
	return nil
}

func (c custody) CreateLotTransfer(v device.Transfer, lotID string) (int, error) {
	if err := c.insertTransfer(v, 0); err != nil {
		return 0, err
	}
	// One statement for the whole lot: paging a million devices through Go and inserting
	// them one by one held the writer for seconds.
	res, err := c.t.exec(`INSERT INTO transfer_items (transfer_id, device_id, open) SELECT CAST(? AS TEXT), id, 1 FROM devices WHERE lot_id = ? AND custodian_id = ?`,
		v.ID, lotID, v.FromID)
	if errors.Is(err, store.ErrConflict) {
		return 0, fmt.Errorf("a device of lot %s already has an open transfer: %w", lotID, err)
	}
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n == 0 {
		_, err := c.t.exec(`DELETE FROM transfers WHERE id = ?`, v.ID)
		return 0, err
	}
	if _, err := c.t.exec(`UPDATE transfers SET device_count = ? WHERE id = ?`, n, v.ID); err != nil {
		return 0, err
	}
	return int(n), nil
}

func (c custody) insertTransfer(v device.Transfer, count int) error {
	_, err := c.t.exec(`INSERT INTO transfers (id, from_party_id, to_party_id, state, device_count, note, offered_by, offered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.FromID, v.ToID, string(device.Offered), count, v.Note, v.OfferedBy, micros(v.OfferedAt))
	return err
}

func (c custody) GetTransfer(id string) (device.Transfer, error) {
	v, err := scanTransfer(c.t.queryRow(`SELECT `+transferCols+` FROM transfers WHERE id = ?`, id))
	return v, notFound(err, "transfer "+id)
}

func (c custody) TransferDevices(id, after string, limit int) ([]string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return list(c.t, scanID, fmt.Sprintf(`SELECT device_id FROM transfer_items WHERE transfer_id = ? AND device_id > ? ORDER BY device_id LIMIT %d`, limit), id, after)
}

func scanID(s interface{ Scan(...any) error }) (string, error) {
	var id string
	return id, s.Scan(&id)
}

func (c custody) DecideTransfer(id string, state device.TransferState, by string, at time.Time) error {
	if err := c.t.execOne(fmt.Errorf("transfer %s is no longer offered: %w", id, store.ErrConflict),
		`UPDATE transfers SET state = ?, decided_by = ?, decided_at = ? WHERE id = ? AND state = ?`,
		string(state), by, micros(at), id, string(device.Offered)); err != nil {
		return err
	}
	_, err := c.t.exec(`UPDATE transfer_items SET open = NULL WHERE transfer_id = ?`, id)
	return err
}

func (c custody) MoveDevices(id, from, to string, at time.Time) (int64, error) {
	res, err := c.t.exec(`UPDATE devices SET custodian_id = ?, updated_at = ? WHERE custodian_id = ? AND id IN (SELECT device_id FROM transfer_items WHERE transfer_id = ?)`,
		to, micros(at), from, id)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c custody) DeviceNotHeld(id, partyID string) (string, error) {
	var devID string
	err := c.t.queryRow(`SELECT i.device_id FROM transfer_items i JOIN devices d ON d.id = i.device_id
WHERE i.transfer_id = ? AND d.custodian_id <> ? ORDER BY i.device_id LIMIT 1`, id, partyID).Scan(&devID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return devID, err
}

func (c custody) ListTransfers(partyID string) ([]device.Transfer, error) {
	return list(c.t, scanTransfer, `SELECT `+transferCols+` FROM transfers WHERE from_party_id = ? OR to_party_id = ? ORDER BY offered_at DESC, id LIMIT 1000`, partyID, partyID)
}

func (c custody) CustodyChain(deviceID string) ([]device.CustodyLink, error) {
	return list(c.t, func(s interface{ Scan(...any) error }) (device.CustodyLink, error) {
		var l device.CustodyLink
		var at int64
		err := s.Scan(&l.TransferID, &l.FromID, &l.ToID, &at)
		l.At = fromMicros(at)
		return l, err
	}, `SELECT t.id, t.from_party_id, t.to_party_id, t.decided_at FROM transfers t JOIN transfer_items i ON i.transfer_id = t.id
WHERE i.device_id = ? AND t.state = ? ORDER BY t.decided_at, t.id`, deviceID, string(device.Accepted))
}

const transferCols = `id, from_party_id, to_party_id, state, device_count, note, offered_by, offered_at, decided_by, decided_at`

func scanTransfer(s interface{ Scan(...any) error }) (device.Transfer, error) {
	var v device.Transfer
	var state string
	var at int64
	var decided sql.NullInt64
	err := s.Scan(&v.ID, &v.FromID, &v.ToID, &state, &v.DeviceCount, &v.Note, &v.OfferedBy, &at, &v.DecidedBy, &decided)
	v.State, v.OfferedAt, v.DecidedAt = device.TransferState(state), fromMicros(at), fromNullMicros(decided)
	return v, err
}

type auditLog struct{ t *tx }

func (a auditLog) Append(e audit.Event) (int64, error) {
	seq, err := a.t.appendAuditEvent(e) // audittree.go: the event and its Merkle leaf
	if err != nil {
		return 0, err
	}
	a.t.audited = true
	return seq, nil
}

func (a auditLog) List(after int64, limit int) ([]audit.Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return list(a.t, func(s interface{ Scan(...any) error }) (audit.Event, error) {
		var e audit.Event
		var at int64
		var detail string
		err := s.Scan(&e.Seq, &at, &e.PartyID, &e.PrincipalID, &e.Action, &e.Stage, &e.Scope, &e.Subject, &detail)
		e.At = fromMicros(at)
		if detail != "" {
			e.Detail = []byte(detail)
		}
		return e, err
	}, fmt.Sprintf(`SELECT seq, at, party_id, principal_id, action, stage, scope, subject, detail FROM audit_events WHERE seq > ? ORDER BY seq LIMIT %d`, limit), after)
}
