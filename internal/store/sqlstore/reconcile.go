package sqlstore

import (
	"database/sql"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

func (t *tx) StateRows() store.StateRows { return stateRows{t} }

type stateRows struct{ t *tx }

var _ store.StateRows = stateRows{}

func (r stateRows) CertStates(after string, limit int) ([]store.CertStateRow, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return list(r.t, func(s interface{ Scan(...any) error }) (store.CertStateRow, error) {
		var v store.CertStateRow
		var dev sql.NullString
		var state string
		var reason sql.NullInt64
		err := s.Scan(&v.SerialHex, &v.CAID, &dev, &v.Profile, &state, &reason)
		v.DeviceID, v.State = dev.String, ca.CertState(state)
		if reason.Valid {
			n := int(reason.Int64)
			v.Reason = &n
		}
		return v, err
	}, fmt.Sprintf(`SELECT serial, ca_id, device_id, profile, state, reason FROM certificates WHERE serial > ? ORDER BY serial LIMIT %d`, limit), after)
}

func (r stateRows) Disputes() ([]store.Dispute, error) {
	return list(r.t, func(s interface{ Scan(...any) error }) (store.Dispute, error) {
		var d store.Dispute
		var at int64
		err := s.Scan(&d.Serial, &d.Row, &d.Log, &d.Seq, &at)
		d.FoundAt = fromMicros(at)
		return d, err
	}, `SELECT serial, row_state, log_state, seq, found_at FROM audit_disputes ORDER BY serial`)
}

func (r stateRows) SetDisputes(full bool, cleared []string, disputes []store.Dispute) error {
	if full {
		if _, err := r.t.exec(`DELETE FROM audit_disputes`); err != nil {
			return err
		}
	}
	for _, serial := range cleared {
		if _, err := r.t.exec(`DELETE FROM audit_disputes WHERE serial = ?`, serial); err != nil {
			return err
		}
	}
	for _, d := range disputes {
		if _, err := r.t.exec(`DELETE FROM audit_disputes WHERE serial = ?`, d.Serial); err != nil {
			return err
		}
		if _, err := r.t.exec(`INSERT INTO audit_disputes (serial, row_state, log_state, seq, found_at) VALUES (?, ?, ?, ?, ?)`,
			d.Serial, d.Row, d.Log, d.Seq, micros(d.FoundAt)); err != nil {
			return err
		}
	}
	return nil
}
