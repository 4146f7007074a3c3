package sqlstore

import (
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/store"
)

type catalog struct{ t *tx }

func (c catalog) CreateModel(m device.Model) error {
	_, err := c.t.exec(`INSERT INTO models (id, manufacturer_id, name, hardware_type, created_at) VALUES (?, ?, ?, ?, ?)`,
		m.ID, m.ManufacturerID, m.Name, m.HardwareType, micros(m.CreatedAt))
	return err
}

const modelCols = `id, manufacturer_id, name, hardware_type, created_at`

func scanModel(s interface{ Scan(...any) error }) (device.Model, error) {
	var m device.Model
	var at int64
	err := s.Scan(&m.ID, &m.ManufacturerID, &m.Name, &m.HardwareType, &at)
	m.CreatedAt = fromMicros(at)
	return m, err
}

func (c catalog) GetModel(id string) (device.Model, error) {
	m, err := scanModel(c.t.queryRow(`SELECT `+modelCols+` FROM models WHERE id = ?`, id))
	return m, notFound(err, "model "+id)
}

func (c catalog) ListModels(mfr string) ([]device.Model, error) {
	return list(c.t, scanModel, `SELECT `+modelCols+` FROM models WHERE (? = '' OR manufacturer_id = ?) ORDER BY manufacturer_id, name`, mfr, mfr)
}

func (c catalog) CreateLot(l device.Lot) error {
	_, err := c.t.exec(`INSERT INTO lots (id, manufacturer_id, model_id, name, line, issuing_ca_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.ManufacturerID, l.ModelID, l.Name, l.Line, l.IssuingCAID, micros(l.CreatedAt))
	return err
}

const lotCols = `id, manufacturer_id, model_id, name, line, issuing_ca_id, created_at`

func scanLot(s interface{ Scan(...any) error }) (device.Lot, error) {
	var l device.Lot
	var at int64
	err := s.Scan(&l.ID, &l.ManufacturerID, &l.ModelID, &l.Name, &l.Line, &l.IssuingCAID, &at)
	l.CreatedAt = fromMicros(at)
	return l, err
}

func (c catalog) GetLot(id string) (device.Lot, error) {
	l, err := scanLot(c.t.queryRow(`SELECT `+lotCols+` FROM lots WHERE id = ?`, id))
	return l, notFound(err, "lot "+id)
}

func (c catalog) ListLots(mfr string) ([]device.Lot, error) {
	return list(c.t, scanLot, `SELECT `+lotCols+` FROM lots WHERE (? = '' OR manufacturer_id = ?) ORDER BY manufacturer_id, name`, mfr, mfr)
}

type devices struct{ t *tx }

func (d devices) CreateDevice(v device.Device) error {
	defer d.t.noEpochWrite()()
	_, err := d.t.exec(`INSERT INTO devices (id, manufacturer_id, model_id, lot_id, serial, state, custodian_id, factory_cert, environment_id, operational_cert, created_at, updated_at) VALUES (?, NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.ManufacturerID, v.ModelID, v.LotID, v.Serial, string(v.State), v.CustodianID, v.FactoryCert, v.EnvironmentID, v.OperationalCert, micros(v.CreatedAt), micros(v.UpdatedAt))
	return err
}

// deviceCols reads a device; a device of a maker that does not run Hallmark has no
// manufacturer, model or lot (NULL), read as "".
const deviceCols = `id, COALESCE(manufacturer_id, ''), COALESCE(model_id, ''), COALESCE(lot_id, ''), serial, state, custodian_id, factory_cert, environment_id, operational_cert, created_at, updated_at`

func scanDevice(s interface{ Scan(...any) error }) (device.Device, error) {
	var v device.Device
	var state string
	var at, up int64
	err := s.Scan(&v.ID, &v.ManufacturerID, &v.ModelID, &v.LotID, &v.Serial, &state, &v.CustodianID, &v.FactoryCert, &v.EnvironmentID, &v.OperationalCert, &at, &up)
	v.State, v.CreatedAt, v.UpdatedAt = device.State(state), fromMicros(at), fromMicros(up)
	return v, err
}

func (d devices) GetDevice(id string) (device.Device, error) {
	v, err := scanDevice(d.t.queryRow(`SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
	return v, notFound(err, "device "+id)
}

func (d devices) DeviceBySerial(mfr, serial string) (device.Device, error) {
	v, err := scanDevice(d.t.queryRow(`SELECT `+deviceCols+` FROM devices WHERE manufacturer_id = ? AND serial = ?`, mfr, serial))
	return v, notFound(err, "device "+serial)
}

func (d devices) ListDevices(f store.DeviceFilter) ([]device.Device, error) {
	var where []string
	var args []any
	add := func(cond string, v ...any) { where = append(where, cond); args = append(args, v...) }
	if f.ManufacturerID != "" {
		add("manufacturer_id = ?", f.ManufacturerID)
	}
	if f.CustodianID != "" {
		add("custodian_id = ?", f.CustodianID)
	}
	if f.LotID != "" {
		add("lot_id = ?", f.LotID)
	}
	if f.State != "" {
		add("state = ?", string(f.State))
	}
	if f.EnvironmentID != "" {
		// environment_id <> '' (true here) lets the planner use the partial index
		// devices_environment (migration 0032), which leaves out factory devices.
		add("environment_id = ? AND environment_id <> ''", f.EnvironmentID)
	}
	if !f.ExpiringBefore.IsZero() {
		// Only the device's own operational certificate counts (as in DeviceTargets): a row
		// naming another device's certificate, or a factory one, is not expiring by it. The
		// covering index certificates_report serves the lookup.
		add("EXISTS (SELECT 1 FROM certificates c WHERE c.device_id = devices.id AND c.serial = devices.operational_cert AND c.profile = ? AND c.not_after < ?)", operationalProfile, micros(f.ExpiringBefore))
	}
	if f.After != "" {
		add("id > ?", f.After)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	if f.VisibleTo != "" {
		// "made or holds" as one OR makes the database collect every device of the party and
		// sort them before the first page. Instead each role walks its own index in id order
		// (devices_manufacturer, devices_custodian) for one page with the other filters, and
		// the two pages merge: the first limit ids of the union are among the first limit of
		// each side. UNION drops a device on both sides (made and held by the party).
		branch := func(role string) string {
			return `SELECT * FROM (SELECT ` + deviceCols + ` FROM devices WHERE ` + strings.Join(append([]string{role + " = ?"}, where...), " AND ") +
				fmt.Sprintf(" ORDER BY id LIMIT %d) AS ", limit) + role[:1]
		}
		q := branch("manufacturer_id") + " UNION " + branch("custodian_id") + fmt.Sprintf(" ORDER BY 1 LIMIT %d", limit)
		both := append(append(append([]any{f.VisibleTo}, args...), f.VisibleTo), args...)
		return list(d.t, scanDevice, q, both...)
	}
	q := `SELECT ` + deviceCols + ` FROM devices`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id LIMIT %d", limit)
	return list(d.t, scanDevice, q, args...)
}

func (d devices) UpdateDevice(v, expect device.Device) error {
	defer d.t.noEpochWrite()()
	return d.t.execOne(fmt.Errorf("device %s changed meanwhile: %w", v.ID, store.ErrConflict),
		`UPDATE devices SET state = ?, custodian_id = ?, factory_cert = ?, environment_id = ?, operational_cert = ?, updated_at = ? WHERE id = ? AND state = ? AND custodian_id = ? AND operational_cert = ?`,
		string(v.State), v.CustodianID, v.FactoryCert, v.EnvironmentID, v.OperationalCert, micros(v.UpdatedAt), v.ID, string(expect.State), expect.CustodianID, expect.OperationalCert)
}

type buildRecords struct{ t *tx }

func (b buildRecords) CreateBuildRecord(r store.BuildRecord) error {
	defer b.t.noEpochWrite()() // build_records' epoch triggers follow updates and deletes only
	_, err := b.t.exec(`INSERT INTO build_records (id, device_id, payload_sha256, envelope, created_at) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.DeviceID, r.PayloadSHA256, r.Envelope, micros(r.CreatedAt))
	return err
}

func (b buildRecords) LatestBuildRecord(deviceID string) (store.BuildRecord, error) {
	var r store.BuildRecord
	var at int64
	err := b.t.queryRow(`SELECT id, device_id, payload_sha256, envelope, created_at FROM build_records WHERE device_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`, deviceID).
		Scan(&r.ID, &r.DeviceID, &r.PayloadSHA256, &r.Envelope, &at)
	r.CreatedAt = fromMicros(at)
	return r, notFound(err, "build record of device "+deviceID)
}

// list runs a query and scans every row.
func list[T any](t *tx, scan func(interface{ Scan(...any) error }) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
