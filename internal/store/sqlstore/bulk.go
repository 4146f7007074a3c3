package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/store"
)

func (t *tx) Bulk() store.Bulk { return bulk{t} }

type bulk struct{ t *tx }

// maxParams bounds the placeholders of one statement, well under SQLite's 32,766 and
// PostgreSQL's 65,535; longer lists are split into several statements.
const maxParams = 10000

// batches calls fn with consecutive slices of at most n elements.
func batches[T any](all []T, n int, fn func([]T) error) error {
	for len(all) > 0 {
		k := min(n, len(all))
		if err := fn(all[:k]); err != nil {
			return err
		}
		all = all[k:]
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// DeviceTargets joins each device's operational certificate by the device, its serial and the
// operational profile (which the covering index certificates_report serves), so that a device
// row naming another device's certificate, or a factory certificate, is never read as its live
// operational certificate: like a missing certificate, it is ErrNotFound, named by
// operationalMismatch.
func (b bulk) DeviceTargets(ids []string) ([]store.DeviceTarget, error) {
	var out []store.DeviceTarget
	err := batches(ids, maxParams, func(ids []string) error {
		bad, err := b.deviceTargets(ids, &out)
		if err != nil || bad == nil {
			return err
		}
		return b.operationalMismatch(*bad)
	})
	return out, err
}

// deviceTargets appends the devices of one batch to out; bad is the first device whose
// operational certificate the join did not find.
func (b bulk) deviceTargets(ids []string, out *[]store.DeviceTarget) (bad *device.Device, err error) {
	rows, err := b.t.query(`SELECT d.id, COALESCE(d.manufacturer_id, ''), COALESCE(d.model_id, ''), COALESCE(d.lot_id, ''), d.serial, d.state, d.custodian_id, d.factory_cert, d.environment_id, d.operational_cert, d.created_at, d.updated_at, o.serial, o.state, o.not_after
FROM devices d LEFT JOIN certificates o ON o.device_id = d.id AND o.serial = d.operational_cert AND o.profile = ? AND d.operational_cert <> ''
WHERE d.id IN (`+placeholders(len(ids))+`)`, append([]any{operationalProfile}, anys(ids)...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v store.DeviceTarget
		var state string
		var at, up int64
		var opSerial, opState sql.NullString
		var opEnd sql.NullInt64
		d := &v.Device
		if err := rows.Scan(&d.ID, &d.ManufacturerID, &d.ModelID, &d.LotID, &d.Serial, &state, &d.CustodianID, &d.FactoryCert, &d.EnvironmentID, &d.OperationalCert, &at, &up, &opSerial, &opState, &opEnd); err != nil {
			return nil, err
		}
		d.State, d.CreatedAt, d.UpdatedAt = device.State(state), fromMicros(at), fromMicros(up)
		if d.OperationalCert != "" {
			if !opSerial.Valid {
				return d, rows.Close()
			}
			v.OperationalState = ca.CertState(opState.String)
			if opEnd.Valid {
				v.OperationalNotAfter = fromMicros(opEnd.Int64)
			}
		}
		*out = append(*out, v)
	}
	return nil, rows.Err()
}

// operationalProfile and factoryProfile are the profiles of the certificates a device row
// names as its operational and factory certificates (issuance.ProfileOperational and
// issuance.ProfileFactory; the store does not import issuance). Reads join a row's certificate
// by the device, its serial and this profile, as the paths that act on it do (store.OwnCert,
// DeviceTargets).
const (
	operationalProfile = store.OperationalProfile
	factoryProfile     = store.FactoryProfile
)

// operationalMismatch says why the operational certificate device d names was not joined:
// there is none of that serial, or it belongs to another device or is not operational.
func (b bulk) operationalMismatch(d device.Device) error {
	var owner sql.NullString
	var profile string
	err := b.t.queryRow(`SELECT device_id, profile FROM certificates WHERE serial = ?`, d.OperationalCert).Scan(&owner, &profile)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("operational certificate %s of device %s: %w", d.OperationalCert, d.ID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("reading operational certificate %s of device %s: %w", d.OperationalCert, d.ID, err)
	}
	return fmt.Errorf("operational certificate %s of device %s: the store holds it as a %s certificate of device %q, not this device's operational certificate: %w",
		d.OperationalCert, d.ID, profile, owner.String, store.ErrNotFound)
}

// updateAll runs an UPDATE whose last arguments are the serials, batch by batch, and requires
// one affected row per serial.
func (b bulk) updateAll(none error, serials []string, query func(n int) string, head ...any) error {
	return batches(serials, maxParams, func(part []string) error {
		res, err := b.t.exec(query(len(part)), append(append([]any{}, head...), anys(part)...)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n != int64(len(part)) {
			return none
		}
		return nil
	})
}

func (b bulk) RevokeMany(serials []string, reason int, at time.Time) error {
	none := fmt.Errorf("some of %d certificates are not issued or already revoked: %w", len(serials), store.ErrConflict)
	if reason == certificateHold {
		return b.updateAll(none, serials, func(n int) string {
			return `UPDATE certificates SET state = ?, revoked_at = ?, reason = ? WHERE state = ? AND serial IN (` + placeholders(n) + `)`
		}, string(ca.Revoked), micros(at), reason, string(ca.Issued))
	}
	// As in Revoke: a hold may become a revocation for good; nothing else changes a revoked
	// certificate.
	return b.updateAll(none, serials, func(n int) string {
		return `UPDATE certificates SET state = ?, revoked_at = ?, reason = ? WHERE (state = ? OR (state = ? AND reason = ?)) AND serial IN (` + placeholders(n) + `)`
	}, string(ca.Revoked), micros(at), reason, string(ca.Issued), string(ca.Revoked), certificateHold)
}

func (b bulk) HoldMany(serials []string, at time.Time) error {
	none := fmt.Errorf("some of %d certificates are not issued and unexpired: %w", len(serials), store.ErrConflict)
	return b.updateAll(none, serials, func(n int) string {
		return `UPDATE certificates SET state = ?, revoked_at = ?, reason = ? WHERE state = ? AND not_after > ? AND serial IN (` + placeholders(n) + `)`
	}, string(ca.Revoked), micros(at), certificateHold, string(ca.Issued), micros(at))
}

func (b bulk) AddItems(items []store.CascadeItem) error {
	return batches(items, maxParams/5, func(part []store.CascadeItem) error {
		args := make([]any, 0, 5*len(part))
		for _, i := range part {
			args = append(args, i.RunID, i.Serial, i.DeviceID, i.Action, micros(i.At))
		}
		_, err := b.t.exec(`INSERT INTO cascade_items (run_id, serial, device_id, action, at) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", len(part)), ", ")+` ON CONFLICT (run_id, serial) DO NOTHING`, args...)
		return err
	})
}

func (b bulk) SetDeviceStates(changes []store.DeviceStateChange, at time.Time) error {
	return batches(changes, maxParams/5, func(part []store.DeviceStateChange) error {
		var to, from strings.Builder
		var toArgs, fromArgs, ids []any
		for _, c := range part {
			to.WriteString(" WHEN ? THEN ?")
			from.WriteString(" WHEN ? THEN ?")
			toArgs = append(toArgs, c.DeviceID, string(c.To))
			fromArgs = append(fromArgs, c.DeviceID, string(c.From))
			ids = append(ids, c.DeviceID)
		}
		q := `UPDATE devices SET state = CASE id` + to.String() + ` END, updated_at = ? WHERE id IN (` + placeholders(len(part)) + `) AND state = CASE id` + from.String() + ` END`
		args := append(append(append(toArgs, micros(at)), ids...), fromArgs...)
		res, err := b.t.exec(q, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n != int64(len(part)) {
			return fmt.Errorf("some of %d devices changed meanwhile: %w", len(part), store.ErrConflict)
		}
		return nil
	})
}
