package sqlstore

import (
	"bytes"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/store"
)

func (t *tx) Makers() store.Makers { return makers{t} }

type makers struct{ t *tx }

// pemOf encodes certificates as concatenated PEM; certsOf reads them back ("" is none).
func pemOf(certs []*x509.Certificate) string {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

func certsOf(s, what string) ([]*x509.Certificate, error) {
	if s == "" {
		return nil, nil
	}
	return certpem.Parse([]byte(s), certpem.Options{What: what, MaxBytes: 1 << 20})
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// makerColumns encodes v's list and policy columns as the JSON text they are stored as.
func makerColumns(v maker.Maker) (crl, ocsp, keys, recordKeys, pol string, err error) {
	if crl, err = jsonText(nonNil(v.CRLURLs)); err != nil {
		return
	}
	if ocsp, err = jsonText(nonNil(v.OCSPURLs)); err != nil {
		return
	}
	if keys, err = jsonText(nonNil(v.ManifestKeys)); err != nil {
		return
	}
	if recordKeys, err = jsonText(nonNil(v.BuildRecordKeys)); err != nil {
		return
	}
	pol, err = jsonText(v.Policy)
	return
}

func (m makers) CreateMaker(v maker.Maker) error {
	crl, ocsp, keys, recordKeys, pol, err := makerColumns(v)
	if err != nil {
		return err
	}
	_, err = m.t.exec(`INSERT INTO makers (id, operator_id, name, anchors_pem, intermediates_pem, crl_urls, ocsp_urls, manifest_keys_pem, policy, created_by, created_at, updated_at, build_record_keys_pem)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, v.ID, v.OperatorID, v.Name, pemOf(v.Anchors), pemOf(v.Intermediates), crl, ocsp, keys, pol, v.CreatedBy, micros(v.CreatedAt), micros(v.UpdatedAt), recordKeys)
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const makerCols = `id, operator_id, name, anchors_pem, intermediates_pem, crl_urls, ocsp_urls, manifest_keys_pem, policy, created_by, created_at, updated_at, build_record_keys_pem`

func scanMaker(s interface{ Scan(...any) error }) (maker.Maker, error) {
	var v maker.Maker
	var anchors, inters, crl, ocsp, keys, pol, recordKeys string
	var at, up int64
	if err := s.Scan(&v.ID, &v.OperatorID, &v.Name, &anchors, &inters, &crl, &ocsp, &keys, &pol, &v.CreatedBy, &at, &up, &recordKeys); err != nil {
		return v, err
	}
	v.CreatedAt, v.UpdatedAt = fromMicros(at), fromMicros(up)
	var err error
	if v.Anchors, err = certsOf(anchors, "maker "+v.ID+" anchors"); err != nil {
		return v, err
	}
	if v.Intermediates, err = certsOf(inters, "maker "+v.ID+" intermediates"); err != nil {
		return v, err
	}
	for _, f := range []struct {
		s string
		v any
	}{{crl, &v.CRLURLs}, {ocsp, &v.OCSPURLs}, {keys, &v.ManifestKeys}, {recordKeys, &v.BuildRecordKeys}, {pol, &v.Policy}} {
		if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
			return v, fmt.Errorf("maker %s: stored settings do not parse: %w", v.ID, err)
		}
	}
	return v, nil
}

func (m makers) GetMaker(id string) (maker.Maker, error) {
	v, err := scanMaker(m.t.queryRow(`SELECT `+makerCols+` FROM makers WHERE id = ?`, id))
	return v, notFound(err, "maker "+id)
}

func (m makers) ListMakers(operatorID string) ([]maker.Maker, error) {
	return list(m.t, scanMaker, `SELECT `+makerCols+` FROM makers WHERE (? = '' OR operator_id = ?) ORDER BY operator_id, name`, operatorID, operatorID)
}

func (m makers) UpdateMaker(v maker.Maker) error {
	crl, ocsp, keys, recordKeys, pol, err := makerColumns(v)
	if err != nil {
		return err
	}
	return m.t.execOne(fmt.Errorf("maker %s: %w", v.ID, store.ErrNotFound),
		`UPDATE makers SET intermediates_pem = ?, crl_urls = ?, ocsp_urls = ?, manifest_keys_pem = ?, policy = ?, updated_at = ?, build_record_keys_pem = ? WHERE id = ?`,
		pemOf(v.Intermediates), crl, ocsp, keys, pol, micros(v.UpdatedAt), recordKeys, v.ID)
}

func (m makers) AddManifest(v maker.Manifest) error {
	_, err := m.t.exec(`INSERT INTO maker_manifests (id, maker_id, format, sha256, content, entries, issued_at, state, approval_id, uploaded_by, uploaded_at, activated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, v.ID, v.MakerID, v.Format, v.SHA256[:], v.Content, v.Entries, nullMicros(v.IssuedAt), string(v.State), v.ApprovalID,
		v.UploadedBy, micros(v.UploadedAt), nullMicros(v.ActivatedAt))
	return err
}

const manifestCols = `id, maker_id, format, sha256, entries, issued_at, state, approval_id, uploaded_by, uploaded_at, activated_at`

func scanManifest(withContent bool) func(s interface{ Scan(...any) error }) (maker.Manifest, error) {
	return func(s interface{ Scan(...any) error }) (maker.Manifest, error) {
		var v maker.Manifest
		var sum []byte
		var state string
		var issued, activated sql.NullInt64
		var up int64
		dest := []any{&v.ID, &v.MakerID, &v.Format, &sum, &v.Entries, &issued, &state, &v.ApprovalID, &v.UploadedBy, &up, &activated}
		if withContent {
			dest = append(dest, &v.Content)
		}
		if err := s.Scan(dest...); err != nil {
			return v, err
		}
		copy(v.SHA256[:], sum)
		v.State, v.IssuedAt, v.UploadedAt, v.ActivatedAt = maker.ManifestState(state), fromNullMicros(issued), fromMicros(up), fromNullMicros(activated)
		return v, nil
	}
}

func (m makers) GetManifest(id string) (maker.Manifest, error) {
	v, err := scanManifest(true)(m.t.queryRow(`SELECT `+manifestCols+`, content FROM maker_manifests WHERE id = ?`, id))
	return v, notFound(err, "manifest "+id)
}

func (m makers) ListManifests(makerID string) ([]maker.Manifest, error) {
	return list(m.t, scanManifest(false), `SELECT `+manifestCols+` FROM maker_manifests WHERE maker_id = ? ORDER BY uploaded_at DESC, id DESC LIMIT 1000`, makerID)
}

func (m makers) ActiveManifest(makerID string) (maker.Manifest, error) {
	v, err := scanManifest(true)(m.t.queryRow(`SELECT `+manifestCols+`, content FROM maker_manifests WHERE maker_id = ? AND state = 'active' ORDER BY activated_at DESC, id DESC LIMIT 1`, makerID))
	return v, notFound(err, "active manifest of maker "+makerID)
}

func (m makers) SetManifestState(id string, state maker.ManifestState, approvalID string, at time.Time) error {
	var makerID string
	if err := m.t.queryRow(`SELECT maker_id FROM maker_manifests WHERE id = ?`, id).Scan(&makerID); err != nil {
		return notFound(err, "manifest "+id)
	}
	if state == maker.ManifestActive {
		if _, err := m.t.exec(`UPDATE maker_manifests SET state = 'superseded' WHERE maker_id = ? AND state = 'active'`, makerID); err != nil {
			return err
		}
	}
	var activated any
	if state == maker.ManifestActive {
		activated = micros(at)
	}
	return m.t.execOne(fmt.Errorf("manifest %s is not pending: %w", id, store.ErrConflict),
		`UPDATE maker_manifests SET state = ?, approval_id = CASE WHEN ? = '' THEN approval_id ELSE ? END, activated_at = ? WHERE id = ? AND state = 'pending'`,
		string(state), approvalID, approvalID, activated, id)
}

func (m makers) CreateOrigin(o maker.Origin) error {
	_, err := m.t.exec(`INSERT INTO device_origins (device_id, maker_id, serial, factory_serial, factory_der, issuer_der, spki_sha256, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.DeviceID, o.MakerID, o.Serial, o.FactorySerial, o.Factory.Raw, o.Issuer.Raw, o.SPKISHA256[:], string(o.State), micros(o.CreatedAt))
	return err
}

const originCols = `device_id, maker_id, serial, factory_serial, factory_der, issuer_der, spki_sha256, state, revoked_at, reason, evidence, created_at`

func scanOrigin(s interface{ Scan(...any) error }) (maker.Origin, error) {
	var o maker.Origin
	var fder, ider, spki []byte
	var state, ev string
	var revoked, reason sql.NullInt64
	var at int64
	if err := s.Scan(&o.DeviceID, &o.MakerID, &o.Serial, &o.FactorySerial, &fder, &ider, &spki, &state, &revoked, &reason, &ev, &at); err != nil {
		return o, err
	}
	var err error
	if o.Factory, err = x509.ParseCertificate(fder); err != nil {
		return o, fmt.Errorf("device %s: stored factory certificate: %w", o.DeviceID, err)
	}
	if o.Issuer, err = x509.ParseCertificate(ider); err != nil {
		return o, fmt.Errorf("device %s: stored issuer certificate: %w", o.DeviceID, err)
	}
	copy(o.SPKISHA256[:], spki)
	o.State, o.RevokedAt, o.CreatedAt = maker.FactoryState(state), fromNullMicros(revoked), fromMicros(at)
	if reason.Valid {
		r := int(reason.Int64)
		o.Reason = &r
	}
	if ev != "" {
		o.Evidence = &maker.Evidence{}
		if err := json.Unmarshal([]byte(ev), o.Evidence); err != nil {
			return o, fmt.Errorf("device %s: stored revocation evidence: %w", o.DeviceID, err)
		}
	}
	return o, nil
}

func (m makers) OriginOf(deviceID string) (maker.Origin, error) {
	o, err := scanOrigin(m.t.queryRow(`SELECT `+originCols+` FROM device_origins WHERE device_id = ?`, deviceID))
	return o, notFound(err, "origin of device "+deviceID)
}

func (m makers) OriginBySerial(makerID, serial string) (maker.Origin, error) {
	o, err := scanOrigin(m.t.queryRow(`SELECT `+originCols+` FROM device_origins WHERE maker_id = ? AND serial = ?`, makerID, serial))
	return o, notFound(err, "device "+serial+" of maker "+makerID)
}

func (m makers) ListOrigins(makerID, after string, limit int) ([]maker.Origin, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	return list(m.t, scanOrigin, fmt.Sprintf(`SELECT `+originCols+` FROM device_origins WHERE (? = '' OR maker_id = ?) AND state = 'good' AND device_id > ? ORDER BY device_id LIMIT %d`, limit),
		makerID, makerID, after)
}

func (m makers) RevokeOrigin(deviceID string, at time.Time, reason int, ev maker.Evidence) error {
	return m.t.execOne(fmt.Errorf("device %s: the factory certificate is already revoked or the device has no origin: %w", deviceID, store.ErrConflict),
		`UPDATE device_origins SET state = 'revoked', revoked_at = ?, reason = ?, evidence = ? WHERE device_id = ? AND state = 'good'`,
		micros(at), reason, ev.JSON(), deviceID)
}

func (m makers) ReplaceOriginFactory(o maker.Origin, old []byte) error {
	if len(old) == 0 {
		return fmt.Errorf("device %s: replacing its factory certificate names no certificate to replace: %w", o.DeviceID, store.ErrConflict)
	}
	return m.t.execOne(fmt.Errorf("device %s: its origin no longer holds the factory certificate it was to replace, or it has no origin: %w", o.DeviceID, store.ErrConflict),
		`UPDATE device_origins SET factory_serial = ?, factory_der = ?, issuer_der = ?, spki_sha256 = ?, state = 'good', revoked_at = NULL, reason = NULL, evidence = ''
WHERE device_id = ? AND factory_der = ?`,
		o.FactorySerial, o.Factory.Raw, o.Issuer.Raw, o.SPKISHA256[:], o.DeviceID, old)
}

// PutSourceStates is exempt from the audit rule, as certs.Reserve is: the rows are what the
// watcher observed of a maker's sources, not identity state, and each round writes them.
func (m makers) PutSourceStates(makerID string, states []maker.SourceState) error {
	if _, err := m.GetMaker(makerID); err != nil {
		return err
	}
	was := m.t.changed
	defer func() { m.t.changed = was }()
	if _, err := m.t.exec(`DELETE FROM maker_sources WHERE maker_id = ?`, makerID); err != nil {
		return err
	}
	for _, s := range states {
		if _, err := m.t.exec(`INSERT INTO maker_sources (maker_id, kind, url, issuer, outcome, error, last_attempt, last_ok, held_until, failing_since)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, makerID, s.Kind, s.URL, s.Issuer, s.Outcome, s.Err, micros(s.LastAttempt), zeroNull(s.LastOK), zeroNull(s.HeldUntil),
			zeroNull(s.FailingSince)); err != nil {
			return fmt.Errorf("maker %s: source %s %s: %w", makerID, s.Kind, s.URL, err)
		}
	}
	return nil
}

func scanSourceState(s interface{ Scan(...any) error }) (maker.SourceState, error) {
	var v maker.SourceState
	var attempt int64
	var ok, held, failing sql.NullInt64
	if err := s.Scan(&v.MakerID, &v.Kind, &v.URL, &v.Issuer, &v.Outcome, &v.Err, &attempt, &ok, &held, &failing); err != nil {
		return v, err
	}
	v.LastAttempt, v.LastOK, v.HeldUntil, v.FailingSince = fromMicros(attempt), nullZero(ok), nullZero(held), nullZero(failing)
	return v, nil
}

func (m makers) ListSourceStates(operatorID string) ([]maker.SourceState, error) {
	return list(m.t, scanSourceState, `SELECT s.maker_id, s.kind, s.url, s.issuer, s.outcome, s.error, s.last_attempt, s.last_ok, s.held_until, s.failing_since
FROM maker_sources s JOIN makers m ON m.id = s.maker_id WHERE (? = '' OR m.operator_id = ?) ORDER BY s.maker_id, s.kind, s.url, s.issuer`, operatorID, operatorID)
}

// zeroNull stores a zero time as NULL; nullZero reads NULL back as the zero time.
func zeroNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

func nullZero(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}
