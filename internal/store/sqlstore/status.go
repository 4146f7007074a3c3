package sqlstore

import (
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

func (t *tx) Status() store.Status { return status{t} }

type status struct{ t *tx }

var _ store.Status = status{}

// EachRevoked walks the covering partial index certificates_revoked (ca_id, crl_partition,
// serial, revoked_at, reason, not_after, state WHERE state = 'revoked', migration 0028): the full
// CRL of a CA is one index range scan, without table lookups. The state is a literal, not a
// parameter: a planner uses a partial index only for a query whose WHERE implies the index's.
func (s status) EachRevoked(caID string, now time.Time, fn func(store.RevokedEntry) error) error {
	return s.eachRevoked(`SELECT serial, revoked_at, reason, not_after FROM certificates WHERE ca_id = ? AND state = '`+string(ca.Revoked)+`' AND not_after > ? ORDER BY crl_partition, serial`,
		caID, fn, caID, micros(now))
}

// EachRevokedInPartition is EachRevoked narrowed to one partition: one range scan of the
// same index.
func (s status) EachRevokedInPartition(caID string, partition int, now time.Time, fn func(store.RevokedEntry) error) error {
	return s.eachRevoked(`SELECT serial, revoked_at, reason, not_after FROM certificates WHERE ca_id = ? AND state = '`+string(ca.Revoked)+`' AND crl_partition = ? AND not_after > ? ORDER BY serial`,
		caID, fn, caID, partition, micros(now))
}

func (s status) eachRevoked(q, caID string, fn func(store.RevokedEntry) error, args ...any) error {
	rows, err := s.t.query(q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e store.RevokedEntry
		var at, na, reason int64
		if err := rows.Scan(&e.SerialHex, &at, &reason, &na); err != nil {
			return fmt.Errorf("store: revoked certificates of %s: %w", caID, err)
		}
		e.RevokedAt, e.Reason, e.NotAfter = fromMicros(at), int(reason), fromMicros(na)
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// NextCRLNumber is exempt from the audit rule: a CRL number is a counter, not identity state.
func (s status) NextCRLNumber(caID string) (int64, error) {
	if !s.t.writable {
		return 0, fmt.Errorf("store: CRL number in a read-only transaction")
	}
	var n int64
	err := s.t.queryRow(`INSERT INTO crl_numbers (ca_id, number) VALUES (?, 1) ON CONFLICT (ca_id) DO UPDATE SET number = crl_numbers.number + 1 RETURNING number`, caID).Scan(&n)
	return n, err
}

func (s status) CreateResponder(r store.OCSPResponder) error {
	_, err := s.t.exec(`INSERT INTO ocsp_responders (serial, ca_id, key_id, cert_der, not_after, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.SerialHex, r.CAID, r.KeyID, r.CertDER, micros(r.NotAfter), micros(r.CreatedAt))
	return err
}

func (s status) CurrentResponder(caID string) (store.OCSPResponder, error) {
	var r store.OCSPResponder
	var na, at int64
	err := s.t.queryRow(`SELECT serial, ca_id, key_id, cert_der, not_after, created_at FROM ocsp_responders WHERE ca_id = ? ORDER BY not_after DESC, created_at DESC LIMIT 1`, caID).
		Scan(&r.SerialHex, &r.CAID, &r.KeyID, &r.CertDER, &na, &at)
	r.NotAfter, r.CreatedAt = fromMicros(na), fromMicros(at)
	return r, notFound(err, "OCSP responder of CA "+caID)
}

func (s status) Changes(after int64, limit int) ([]store.StatusChange, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	return list(s.t, func(sc interface{ Scan(...any) error }) (store.StatusChange, error) {
		var c store.StatusChange
		err := sc.Scan(&c.Seq, &c.CAID, &c.SerialHex, &c.CRLPartition)
		return c, err
	}, fmt.Sprintf(`SELECT seq, ca_id, serial, crl_partition FROM status_changes WHERE seq > ? ORDER BY seq LIMIT %d`, limit), after)
}

func (s status) LastChange() (int64, error) {
	var n int64
	err := s.t.queryRow(`SELECT COALESCE(MAX(seq), 0) FROM status_changes`).Scan(&n)
	return n, err
}

// PruneChanges is exempt from the audit rule: the feed is a cache of certificate states.
func (s status) PruneChanges(before time.Time) error {
	was := s.t.changed
	_, err := s.t.exec(`DELETE FROM status_changes WHERE at < ?`, micros(before))
	s.t.changed = was
	return err
}
