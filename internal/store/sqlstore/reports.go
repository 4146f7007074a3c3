package sqlstore

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/store"
)

func (t *tx) Reports() store.Reports { return reportReads{t} }

// reportReads are the set-based reads of the reports. Every statement selects devices as d
// and filters them with scopeSQL.
type reportReads struct{ t *tx }

var _ store.Reports = reportReads{}

// scopeSQL is the condition on devices d that keeps what sc may see: the devices /v1/devices
// shows the party (ListDevices with VisibleTo), those it made or holds. A device in one of the
// party's environments that it transferred away is no longer its to see. An operational scope
// keeps the devices the party holds in its own environments.
func scopeSQL(sc store.ReportScope) (string, []any) {
	if sc.All {
		return "1 = 1", nil
	}
	if sc.Operational {
		return "(d.custodian_id = ? AND d.environment_id <> '' AND d.environment_id IN (SELECT e.id FROM environments e WHERE e.operator_id = ?))", []any{sc.PartyID, sc.PartyID}
	}
	return "(d.manufacturer_id = ? OR d.custodian_id = ?)", []any{sc.PartyID, sc.PartyID}
}

func pageLimit(limit int) int {
	if limit <= 0 || limit > 1000 {
		return 1000
	}
	return limit
}

// certInfoCols selects the CertInfo of the certificate aliased a.
func certInfoCols(a string) string {
	return strings.ReplaceAll(`a.serial, a.state, a.not_after, a.issued_at, a.revoked_at, a.reason`, "a.", a+".")
}

type nullCert struct {
	serial, state                         sql.NullString
	notAfter, issuedAt, revokedAt, reason sql.NullInt64
}

func (n *nullCert) dest() []any {
	return []any{&n.serial, &n.state, &n.notAfter, &n.issuedAt, &n.revokedAt, &n.reason}
}

func (n *nullCert) info() *store.CertInfo {
	if !n.serial.Valid {
		return nil
	}
	c := &store.CertInfo{Serial: n.serial.String, State: ca.CertState(n.state.String), NotAfter: fromMicros(n.notAfter.Int64),
		IssuedAt: fromNullMicros(n.issuedAt), RevokedAt: fromNullMicros(n.revokedAt)}
	if n.reason.Valid {
		r := int(n.reason.Int64)
		c.Reason = &r
	}
	return c
}

const reportDeviceCols = `d.id, COALESCE(d.manufacturer_id, ''), COALESCE(d.model_id, ''), COALESCE(d.lot_id, ''), d.serial, d.state, d.custodian_id, d.factory_cert, d.environment_id, d.operational_cert, d.created_at, d.updated_at`

func (r reportReads) Inventory(sc store.ReportScope, after string, limit int) ([]store.InventoryItem, error) {
	where, args := scopeSQL(sc)
	q := fmt.Sprintf(`SELECT %s, %s, %s FROM devices d
LEFT JOIN certificates f ON f.device_id = d.id AND f.serial = d.factory_cert AND f.profile = '`+factoryProfile+`'
LEFT JOIN certificates o ON o.device_id = d.id AND o.serial = d.operational_cert AND o.profile = '`+operationalProfile+`' AND d.operational_cert <> ''
WHERE %s AND d.id > ? ORDER BY d.id LIMIT %d`, reportDeviceCols, certInfoCols("f"), certInfoCols("o"), where, pageLimit(limit))
	return list(r.t, func(s interface{ Scan(...any) error }) (store.InventoryItem, error) {
		var it store.InventoryItem
		var f, o nullCert
		var state string
		var at, up int64
		d := &it.Device
		dest := []any{&d.ID, &d.ManufacturerID, &d.ModelID, &d.LotID, &d.Serial, &state, &d.CustodianID, &d.FactoryCert, &d.EnvironmentID, &d.OperationalCert, &at, &up}
		if err := s.Scan(append(append(dest, f.dest()...), o.dest()...)...); err != nil {
			return it, err
		}
		d.State, d.CreatedAt, d.UpdatedAt = device.State(state), fromMicros(at), fromMicros(up)
		it.Factory, it.Operational = f.info(), o.info()
		return it, nil
	}, q, append(args, after)...)
}

func (r reportReads) count(q string, args ...any) (int, error) {
	var n int
	err := r.t.queryRow(q, args...).Scan(&n)
	return n, err
}

func (r reportReads) DeviceStates(sc store.ReportScope) (map[device.State]int, error) {
	out := map[device.State]int{}
	where, args := scopeSQL(sc)
	rows, err := r.t.query(`SELECT d.state, COUNT(*) FROM devices d WHERE `+where+` GROUP BY d.state`, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return out, err
		}
		out[device.State(st)] = n
	}
	return out, rows.Err()
}

func (r reportReads) Summary(sc store.ReportScope, now time.Time) (store.ReportSummary, error) {
	out := store.ReportSummary{ByState: map[device.State]int{}}
	where, args := scopeSQL(sc)
	by, err := r.DeviceStates(sc)
	if err != nil {
		return out, err
	}
	out.ByState = by
	for _, n := range by {
		out.Devices += n
	}
	off := []device.State{device.Released, device.Quarantined, device.FactoryRevoked}
	for _, s := range off {
		out.Offboarded += out.ByState[s]
	}
	if out.OffboardedValid, out.OldestOffboardedValid, err = r.stillValid(where, args, now, off...); err != nil {
		return out, err
	}
	out.HandedOff = out.ByState[device.HandedOff]
	if out.HandedOffValid, out.OldestHandedOffValid, err = r.stillValid(where, args, now, device.HandedOff); err != nil {
		return out, err
	}
	if out.KeyCompromise, err = r.count(`SELECT COUNT(*) FROM certificates c JOIN devices d ON d.id = c.device_id WHERE c.reason = 1 AND `+where, args...); err != nil {
		return out, err
	}
	if out.Issuances, err = r.count(`SELECT COUNT(*) FROM evidence e JOIN devices d ON d.id = e.device_id WHERE `+where, args...); err != nil {
		return out, err
	}
	out.Reused, err = r.count(`SELECT COUNT(*) FROM (SELECT c.device_id FROM certificates c JOIN devices d ON d.id = c.device_id WHERE `+where+
		` AND c.profile = '`+operationalProfile+`' AND c.state = 'issued' AND c.not_after > ? GROUP BY c.device_id HAVING COUNT(*) > 1) x`, append(args, micros(now))...)
	return out, err
}

// stillValid counts the devices in scope (where, args) in one of states that still hold a
// valid operational certificate at now (an operational certificate of the device, issued and
// unexpired; a second factory certificate is not one), and names the one among them that
// changed state first. Like Reused, it reads certificates_report alone (device, profile,
// state, not_after).
func (r reportReads) stillValid(where string, args []any, now time.Time, states ...device.State) (n int, oldest string, err error) {
	q := `FROM devices d WHERE d.state IN (?` + strings.Repeat(", ?", len(states)-1) + `) AND ` + where +
		` AND EXISTS (SELECT 1 FROM certificates c WHERE c.device_id = d.id AND c.profile = '` + operationalProfile + `' AND c.state = 'issued' AND c.not_after > ?)`
	qArgs := make([]any, 0, len(states)+len(args)+1)
	for _, s := range states {
		qArgs = append(qArgs, string(s))
	}
	qArgs = append(append(qArgs, args...), micros(now))
	if n, err = r.count(`SELECT COUNT(*) `+q, qArgs...); err != nil || n == 0 {
		return n, "", err
	}
	err = r.t.queryRow(`SELECT d.id `+q+` ORDER BY d.updated_at, d.id LIMIT 1`, qArgs...).Scan(&oldest)
	return n, oldest, err
}

// Certificates are joined on device and serial, not serial alone, so that the lookup is
// answered by the index certificates_report (migration 0011) without reading the row, which
// holds the TBS and DER. The join also names the profile the row names the certificate as
// (operational_cert: operationalProfile, factory_cert: factoryProfile), which that index holds
// as its third column: a row naming its own factory certificate, or another device's
// certificate, as its operational one has no operational certificate in any report, as it has
// none for the paths that act on it (store.OwnCert, DeviceTargets).

// rotationFrom joins active devices in scope with their environment and current operational
// certificate o; issuedExpr is when o was issued (its not-before when the time is unknown).
//
// A device joined to an environment has a non-empty environment_id; saying so lets the
// planner walk the partial index devices_environment (migration 0032, onboarded devices only)
// in environment order for the grouped counts, and an operational scope's environments.
// scopeSQL's operational scope says it for the same reason.
const (
	rotationFrom = `FROM devices d JOIN environments e ON e.id = d.environment_id
LEFT JOIN certificates o ON o.device_id = d.id AND o.serial = d.operational_cert AND o.profile = '` + operationalProfile + `' AND d.operational_cert <> ''
WHERE d.environment_id <> '' AND d.state = 'active' AND `
	issuedExpr = `COALESCE(o.issued_at, o.not_before)`
)

func (r reportReads) Rotation(sc store.ReportScope, now time.Time) ([]store.RotationCount, error) {
	where, args := scopeSQL(sc)
	return list(r.t, func(s interface{ Scan(...any) error }) (store.RotationCount, error) {
		var c store.RotationCount
		return c, s.Scan(&c.EnvironmentID, &c.Active, &c.Compliant)
	}, `SELECT d.environment_id, COUNT(*), COUNT(CASE WHEN `+issuedExpr+` > ? - e.max_age_seconds * 1000000 THEN 1 END) `+rotationFrom+where+
		` GROUP BY d.environment_id ORDER BY d.environment_id`, append([]any{micros(now)}, args...)...)
}

func (r reportReads) Overdue(sc store.ReportScope, now time.Time, limit int) ([]store.OverdueDevice, error) {
	where, args := scopeSQL(sc)
	if limit <= 0 {
		limit = 1000
	}
	q := fmt.Sprintf(`SELECT d.id, d.environment_id, COALESCE(o.serial, ''), %s, e.max_age_seconds %s%s
AND (o.serial IS NULL OR %s <= ? - e.max_age_seconds * 1000000)
ORDER BY CASE WHEN o.serial IS NULL THEN 0 ELSE 1 END, %s, d.id LIMIT %d`, issuedExpr, rotationFrom, where, issuedExpr, issuedExpr, limit)
	return list(r.t, func(s interface{ Scan(...any) error }) (store.OverdueDevice, error) {
		var o store.OverdueDevice
		var at sql.NullInt64
		var maxAge int64
		err := s.Scan(&o.DeviceID, &o.EnvironmentID, &o.Serial, &at, &maxAge)
		o.IssuedAt, o.MaxAge = fromNullMicros(at), time.Duration(maxAge)*time.Second
		return o, err
	}, q, append(args, micros(now))...)
}

// maxTrendPoints bounds RotationTrend.
const maxTrendPoints = 1000

// ownTrendCert holds when RotationTrend's certificate c is the own operational certificate of
// the device of its evidence ev. It is a boolean CASE so that neither planner reads it as a
// join condition: SQLite uses no index for it, and PostgreSQL estimates it at one half of the
// rows, where the device and serial as join conditions multiply two selectivities of one row.
// Not "CASE ... THEN 1 ELSE 0 END = 1": PostgreSQL estimates an equality on an expression
// at 0.5% and takes the same nested loop on devices (EXPLAIN (ANALYZE, BUFFERS): 56,577
// buffers against 3,528 on a 20,000-device fleet).
const ownTrendCert = `CASE WHEN c.device_id = ev.device_id AND c.profile = '` + operationalProfile + `' THEN TRUE ELSE FALSE END`

func (r reportReads) RotationTrend(sc store.ReportScope, at []time.Time) ([]store.TrendCount, error) {
	if len(at) == 0 {
		return nil, nil
	}
	if len(at) > maxTrendPoints {
		return nil, fmt.Errorf("store: %d trend points; the limit is %d", len(at), maxTrendPoints)
	}
	q, args := rotationTrendQuery(sc, at)
	return list(r.t, func(s interface{ Scan(...any) error }) (store.TrendCount, error) {
		var c store.TrendCount
		var t int64
		err := s.Scan(&t, &c.EnvironmentID, &c.Active, &c.Compliant)
		c.At = fromMicros(t)
		return c, err
	}, q, args...)
}

func (r reportReads) RotationTrendByHolder(at []time.Time) ([]store.TrendCount, error) {
	if len(at) == 0 {
		return nil, nil
	}
	if len(at) > maxTrendPoints {
		return nil, fmt.Errorf("store: %d trend points; the limit is %d", len(at), maxTrendPoints)
	}
	q, args := rotationTrendQueryBy(store.ReportScope{All: true}, at, true)
	return list(r.t, func(s interface{ Scan(...any) error }) (store.TrendCount, error) {
		c := store.TrendCount{Holder: &store.TrendHolder{}}
		var t int64
		err := s.Scan(&t, &c.EnvironmentID, &c.Holder.ManufacturerID, &c.Holder.CustodianID, &c.Holder.EnvironmentID, &c.Active, &c.Compliant)
		c.At = fromMicros(t)
		return c, err
	}, q, args...)
}

// rotationTrendQuery is RotationTrend's SQL and its arguments.
func rotationTrendQuery(sc store.ReportScope, at []time.Time) (string, []any) {
	return rotationTrendQueryBy(sc, at, false)
}

// rotationTrendQueryBy is RotationTrend's SQL and its arguments, split by holder too
// (RotationTrendByHolder) when byHolder.
func rotationTrendQueryBy(sc store.ReportScope, at []time.Time, byHolder bool) (string, []any) {
	where, args := scopeSQL(sc)
	holderCols, holderSel, holderGroup := "", "", ""
	if byHolder {
		holderCols = ", d.manufacturer_id, d.custodian_id, d.environment_id AS device_env"
		holderSel = ", i.manufacturer_id, i.custodian_id, i.device_env"
		holderGroup = holderSel
	}
	pts := make([]any, len(at))
	for i, t := range at {
		pts[i] = micros(t)
	}
	// iss is every operational issuance in scope with the time the device's next one
	// replaced it (LEAD); at instant t the current certificate is the issuance with
	// at <= t < next_at. A certificate revoked by t (for any reason but being superseded,
	// which happens at next_at) no longer counts: the device was quarantined, suspended or
	// offboarded. An issuance is the device's evidence of an operational certificate of its
	// own (device and serial, never the serial alone): evidence naming another device's
	// certificate is no issuance of the device, and that certificate's revocation says
	// nothing of it.
	//
	// c is found by its serial (the primary key) and the row read is kept only when it is the
	// device's own operational certificate (ownTrendCert), a filter after the join rather than
	// a join condition: with the device in the join, SQLite drove the join from a full scan of
	// certificates (the rows with TBS and DER migration 0011 keeps the reports off) and
	// PostgreSQL, underestimating the rows, looked up devices row by row (16 times the buffers
	// on a 20,000-device fleet).
	q := `WITH pts (t) AS (VALUES ` + strings.TrimSuffix(strings.Repeat("(CAST(? AS BIGINT)), ", len(at)), ", ") + `),
iss AS (
  SELECT ev.environment_id, ev.created_at AS at, c.revoked_at` + holderCols + `,
         LEAD(ev.created_at) OVER (PARTITION BY ev.device_id ORDER BY ev.created_at, ev.serial) AS next_at
  FROM evidence ev JOIN certificates c ON c.serial = ev.serial JOIN devices d ON d.id = ev.device_id
  WHERE ` + ownTrendCert + ` AND ` + where + `
)
SELECT p.t, i.environment_id` + holderSel + `, COUNT(*), COUNT(CASE WHEN i.at > p.t - e.max_age_seconds * 1000000 THEN 1 END)
FROM pts p JOIN iss i ON i.at <= p.t AND (i.next_at IS NULL OR i.next_at > p.t) AND (i.revoked_at IS NULL OR i.revoked_at > p.t)
JOIN environments e ON e.id = i.environment_id
GROUP BY p.t, i.environment_id` + holderGroup + ` ORDER BY p.t, i.environment_id`
	return q, append(pts, args...)
}

const expiringFrom = `FROM devices d JOIN certificates o ON o.device_id = d.id AND o.serial = d.operational_cert AND o.profile = '` + operationalProfile + `'
WHERE d.operational_cert <> '' AND o.state = 'issued' AND o.not_after < ? AND `

func (r reportReads) ExpiringCounts(sc store.ReportScope, before time.Time) ([]store.ExpiringCount, error) {
	where, args := scopeSQL(sc)
	return list(r.t, func(s interface{ Scan(...any) error }) (store.ExpiringCount, error) {
		var c store.ExpiringCount
		return c, s.Scan(&c.EnvironmentID, &c.Count)
	}, `SELECT d.environment_id, COUNT(*) `+expiringFrom+where+` GROUP BY d.environment_id ORDER BY d.environment_id`, append([]any{micros(before)}, args...)...)
}

func (r reportReads) Expiring(sc store.ReportScope, before time.Time, limit int) ([]store.ExpiringCert, error) {
	where, args := scopeSQL(sc)
	if limit <= 0 {
		limit = 1000
	}
	return list(r.t, func(s interface{ Scan(...any) error }) (store.ExpiringCert, error) {
		var c store.ExpiringCert
		var state string
		var end int64
		err := s.Scan(&c.DeviceID, &state, &c.EnvironmentID, &c.Serial, &end)
		c.DeviceState, c.NotAfter = device.State(state), fromMicros(end)
		return c, err
	}, fmt.Sprintf(`SELECT d.id, d.state, d.environment_id, o.serial, o.not_after %s%s ORDER BY o.not_after, d.id LIMIT %d`, expiringFrom, where, limit),
		append([]any{micros(before)}, args...)...)
}

// prevCertCols selects the CertInfo of the certificate p of Admissions, its serial NULL (no
// previous certificate: nullCert.info is nil) unless p is the device's own operational
// certificate.
var prevCertCols = strings.Replace(certInfoCols("p"), "p.serial",
	"CASE WHEN p.device_id = d.id AND p.profile = '"+operationalProfile+"' THEN p.serial END", 1)

func (r reportReads) Admissions(sc store.ReportScope, after string, limit int) ([]store.Admission, error) {
	where, args := scopeSQL(sc)
	// ev is the device's own evidence (device and serial, never the serial alone) of its
	// current operational certificate or, when it has none, its newest; p the device's own
	// operational certificate before it: the one renewed, or its previous issuance.
	//
	// x and y find the serial of ev among the device's own evidence; ev is then that row, found
	// by its serial (the primary key), which y and x already tied to the device: naming the
	// device in ev's join too would make SQLite find it through evidence_own and then the
	// table, one more index probe a row. x is answered by evidence_own (migration 0034)
	// alone. p is found by its serial (the primary key) and taken only when the row read is
	// the device's own operational certificate (prevCertCols): the row is read anyway for
	// the revocation time, and naming the device in the join makes PostgreSQL find it by the
	// device alone, reading every certificate of the device.
	q := fmt.Sprintf(`SELECT %s, m.name, l.name, ev.kind, ev.policy_kind, ev.policy_version, ev.facts, ev.created_at, ev.serial, %s,
  (SELECT COUNT(*) FROM evidence r WHERE r.device_id = d.id AND r.kind = 'renew' AND r.created_at < ev.created_at),
  f.der, f.state,
  (SELECT b.envelope FROM build_records b WHERE b.device_id = d.id ORDER BY b.created_at DESC, b.id DESC LIMIT 1)
FROM devices d
JOIN evidence ev ON ev.serial = COALESCE(
  (SELECT x.serial FROM evidence x WHERE x.device_id = d.id AND x.serial = d.operational_cert),
  (SELECT y.serial FROM evidence y WHERE y.device_id = d.id ORDER BY y.created_at DESC, y.serial DESC LIMIT 1))
JOIN models m ON m.id = d.model_id
JOIN lots l ON l.id = d.lot_id
LEFT JOIN certificates p ON p.serial = (CASE WHEN ev.kind = 'renew' THEN ev.based_on ELSE
  (SELECT q.serial FROM evidence q WHERE q.device_id = d.id AND q.created_at < ev.created_at ORDER BY q.created_at DESC, q.serial DESC LIMIT 1) END)
LEFT JOIN certificates f ON f.device_id = d.id AND f.serial = d.factory_cert AND f.profile = '`+factoryProfile+`'
WHERE %s AND d.id > ? ORDER BY d.id LIMIT %d`, reportDeviceCols, prevCertCols, where, pageLimit(limit))
	return list(r.t, func(s interface{ Scan(...any) error }) (store.Admission, error) {
		var a store.Admission
		var p nullCert
		var state, facts string
		var at, up, admitted int64
		var fState sql.NullString
		d := &a.Device
		dest := []any{&d.ID, &d.ManufacturerID, &d.ModelID, &d.LotID, &d.Serial, &state, &d.CustodianID, &d.FactoryCert, &d.EnvironmentID, &d.OperationalCert, &at, &up,
			&a.ModelName, &a.LotName, &a.Kind, &a.PolicyKind, &a.PolicyVersion, &facts, &admitted, &a.Serial}
		dest = append(append(dest, p.dest()...), &a.Renewals, &a.FactoryDER, &fState, &a.BuildRecord)
		if err := s.Scan(dest...); err != nil {
			return a, err
		}
		d.State, d.CreatedAt, d.UpdatedAt = device.State(state), fromMicros(at), fromMicros(up)
		a.Facts, a.AdmittedAt, a.Previous, a.FactoryState = []byte(facts), fromMicros(admitted), p.info(), ca.CertState(fState.String)
		return a, nil
	}, q, append(args, after)...)
}

// NextTimeChange is the smallest of one MIN over the certificates' ends, one per window and
// one over the rotation join, each after after.
func (r reportReads) NextTimeChange(after time.Time, windows []time.Duration) (time.Time, bool, error) {
	a := micros(after)
	parts := []string{
		`SELECT MIN(` + issuedExpr + ` + e.max_age_seconds * 1000000) AS t ` + rotationFrom + issuedExpr + ` + e.max_age_seconds * 1000000 > CAST(? AS BIGINT)`,
		`SELECT MIN(c.not_after) AS t FROM certificates c WHERE c.profile = '` + operationalProfile + `' AND c.not_after > CAST(? AS BIGINT)`,
	}
	args := []any{a, a}
	for _, w := range windows {
		// not_after < now + w turns at now = not_after - w + 1µs, after after when not_after >= after + w.
		parts = append(parts, `SELECT MIN(c.not_after) - CAST(? AS BIGINT) AS t FROM certificates c WHERE c.profile = '`+operationalProfile+`' AND c.not_after >= CAST(? AS BIGINT)`)
		args = append(args, w.Microseconds()-1, a+w.Microseconds())
	}
	var next sql.NullInt64
	if err := r.t.queryRow(`SELECT MIN(x.t) FROM (`+strings.Join(parts, "\nUNION ALL\n")+`) x`, args...).Scan(&next); err != nil {
		return time.Time{}, false, err
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMicros(next.Int64), true, nil
}
