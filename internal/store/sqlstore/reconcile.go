package sqlstore

import (
	"crypto/sha256"
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

const originStateCols = `device_id, maker_id, factory_serial, factory_der, state`

func scanOriginState(s interface{ Scan(...any) error }) (store.OriginStateRow, error) {
	var v store.OriginStateRow
	var der []byte
	err := s.Scan(&v.DeviceID, &v.MakerID, &v.FactorySerial, &der, &v.State)
	v.FactorySHA256 = sha256.Sum256(der)
	return v, err
}

func (r stateRows) OriginStates(after string, limit int) ([]store.OriginStateRow, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return list(r.t, scanOriginState, fmt.Sprintf(`SELECT `+originStateCols+` FROM device_origins WHERE device_id > ? ORDER BY device_id LIMIT %d`, limit), after)
}

func (r stateRows) OriginState(deviceID string) (store.OriginStateRow, error) {
	v, err := scanOriginState(r.t.queryRow(`SELECT `+originStateCols+` FROM device_origins WHERE device_id = ?`, deviceID))
	return v, notFound(err, "origin of device "+deviceID)
}

func (r stateRows) OriginDisputes() ([]store.OriginDispute, error) {
	return list(r.t, func(s interface{ Scan(...any) error }) (store.OriginDispute, error) {
		var d store.OriginDispute
		var at int64
		err := s.Scan(&d.DeviceID, &d.Row, &d.Log, &d.Seq, &at)
		d.FoundAt = fromMicros(at)
		return d, err
	}, `SELECT device_id, row_state, log_state, seq, found_at FROM origin_disputes ORDER BY device_id`)
}

func (r stateRows) SetOriginDisputes(disputes []store.OriginDispute) error {
	if _, err := r.t.exec(`DELETE FROM origin_disputes`); err != nil {
		return err
	}
	for _, d := range disputes {
		if _, err := r.t.exec(`INSERT INTO origin_disputes (device_id, row_state, log_state, seq, found_at) VALUES (?, ?, ?, ?, ?)`,
			d.DeviceID, d.Row, d.Log, d.Seq, micros(d.FoundAt)); err != nil {
			return err
		}
	}
	return nil
}

func (r stateRows) OriginDisputed(deviceID string) (bool, error) {
	var n int
	if err := r.t.queryRow(`SELECT COUNT(*) FROM origin_disputes WHERE device_id = ?`, deviceID).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}
