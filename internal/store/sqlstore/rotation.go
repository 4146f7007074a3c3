package sqlstore

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

// CA succession, cross-certificates and key histories (migration 0014_rotation.sql).

func (t *tx) Succession() store.Succession { return succession{t} }
func (t *tx) KeyHistory() store.KeyHistory { return keyHistory{t} }

type succession struct{ t *tx }
type keyHistory struct{ t *tx }

var (
	_ store.Succession = succession{}
	_ store.KeyHistory = keyHistory{}
)

func (s succession) Standing(id string) (ca.Standing, error) {
	v := ca.Standing{ID: id}
	var retired, until sql.NullInt64
	var successor sql.NullString
	if err := s.t.queryRow(`SELECT retired_at, successor_id, issues_until FROM cas WHERE id = ?`, id).Scan(&retired, &successor, &until); err != nil {
		return v, notFound(err, "CA "+id)
	}
	v.RetiredAt, v.SuccessorID, v.IssuesUntil = fromNullMicros(retired), successor.String, fromNullMicros(until)
	return v, nil
}

// Succeed marks the CA only while it has no successor, so two rotations of one CA cannot
// both win; the lots and environments move in the same transaction.
func (s succession) Succeed(id, successor string, at, until time.Time) (int64, int64, error) {
	if id == successor {
		return 0, 0, fmt.Errorf("CA %s cannot succeed itself: %w", id, store.ErrConflict)
	}
	res, err := s.t.exec(`UPDATE cas SET successor_id = ?, succeeded_at = ?, issues_until = ? WHERE id = ? AND successor_id IS NULL`, successor, micros(at), micros(until), id)
	if err != nil {
		return 0, 0, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, 0, err
	} else if n != 1 {
		st, err := s.Standing(id)
		if err != nil {
			return 0, 0, err
		}
		return 0, 0, fmt.Errorf("CA %s was already succeeded by %s: %w", id, st.SuccessorID, store.ErrConflict)
	}
	lots, err := s.t.exec(`UPDATE lots SET issuing_ca_id = ? WHERE issuing_ca_id = ?`, successor, id)
	if err != nil {
		return 0, 0, fmt.Errorf("moving lots: %w", err)
	}
	envs, err := s.t.exec(`UPDATE environments SET issuing_ca_id = ? WHERE issuing_ca_id = ?`, successor, id)
	if err != nil {
		return 0, 0, fmt.Errorf("moving environments: %w", err)
	}
	nl, err := lots.RowsAffected()
	if err != nil {
		return 0, 0, err
	}
	ne, err := envs.RowsAffected()
	return nl, ne, err
}

func (s succession) CreateCrossCert(x ca.CrossCert) error {
	_, err := s.t.exec(`INSERT INTO ca_cross_certificates (serial, subject_ca_id, issuer_ca_id, cert_der, created_at) VALUES (?, ?, ?, ?, ?)`,
		x.Serial, x.SubjectID, x.IssuerID, x.CertDER, micros(x.CreatedAt))
	return err
}

func (s succession) CrossCerts(id string) ([]ca.CrossCert, error) {
	rows, err := s.t.query(`SELECT serial, subject_ca_id, issuer_ca_id, cert_der, created_at FROM ca_cross_certificates WHERE subject_ca_id = ? OR issuer_ca_id = ? ORDER BY created_at, serial`, id, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ca.CrossCert
	for rows.Next() {
		var x ca.CrossCert
		var at int64
		if err := rows.Scan(&x.Serial, &x.SubjectID, &x.IssuerID, &x.CertDER, &at); err != nil {
			return nil, err
		}
		x.CreatedAt = fromMicros(at)
		if x.Cert, err = s.t.caCerts.parse(x.CertDER); err != nil {
			return nil, fmt.Errorf("store: cross-certificate %s: stored certificate does not parse: %w", x.Serial, err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// RotateSigningKey copies the current row to the history, then overwrites it: the current
// key stays one row of signing_keys, which its unique (party, purpose) keeps single.
func (k keyHistory) RotateSigningKey(v ca.SigningKey) error {
	none := fmt.Errorf("%s key of %s: %w", v.Purpose, v.PartyID, store.ErrNotFound)
	if err := k.t.execOne(none, `INSERT INTO retired_signing_keys (id, party_id, purpose, key_id, public_key_der, created_at, retired_at)
SELECT id, party_id, purpose, key_id, public_key_der, created_at, ? FROM signing_keys WHERE party_id = ? AND purpose = ?`, micros(v.CreatedAt), v.PartyID, v.Purpose); err != nil {
		return err
	}
	return k.t.execOne(none, `UPDATE signing_keys SET id = ?, key_id = ?, public_key_der = ?, created_at = ? WHERE party_id = ? AND purpose = ?`,
		v.ID, v.KeyID, v.PublicKeyDER, micros(v.CreatedAt), v.PartyID, v.Purpose)
}

func (k keyHistory) SigningKeys(partyID, purpose string) ([]ca.SigningKey, error) {
	// The current key (history 0) first, then the retired ones, newest first.
	rows, err := k.t.query(`SELECT id, party_id, purpose, key_id, public_key_der, created_at, CAST(NULL AS BIGINT), 0 FROM signing_keys WHERE party_id = ? AND purpose = ?
UNION ALL
SELECT id, party_id, purpose, key_id, public_key_der, created_at, retired_at, 1 FROM retired_signing_keys WHERE party_id = ? AND purpose = ?
ORDER BY 8, 7 DESC, 6 DESC, 1`, partyID, purpose, partyID, purpose)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ca.SigningKey
	for rows.Next() {
		var v ca.SigningKey
		var at int64
		var retired sql.NullInt64
		var history int
		if err := rows.Scan(&v.ID, &v.PartyID, &v.Purpose, &v.KeyID, &v.PublicKeyDER, &at, &retired, &history); err != nil {
			return nil, err
		}
		v.CreatedAt, v.RetiredAt = fromMicros(at), fromNullMicros(retired)
		out = append(out, v)
	}
	return out, rows.Err()
}

func (k keyHistory) AuditKeys() ([]store.AuditKey, error) {
	rows, err := k.t.query(`SELECT key_id, verifier_key, created_at, retired_at FROM audit_keys ORDER BY created_at DESC, key_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditKey
	for rows.Next() {
		var v store.AuditKey
		var at int64
		var retired sql.NullInt64
		if err := rows.Scan(&v.KeyID, &v.VerifierKey, &at, &retired); err != nil {
			return nil, err
		}
		v.CreatedAt, v.RetiredAt = fromMicros(at), fromNullMicros(retired)
		out = append(out, v)
	}
	return out, rows.Err()
}

func (k keyHistory) AddAuditKey(v store.AuditKey) error {
	if _, err := k.t.exec(`UPDATE audit_keys SET retired_at = ? WHERE retired_at IS NULL`, micros(v.CreatedAt)); err != nil {
		return err
	}
	_, err := k.t.exec(`INSERT INTO audit_keys (key_id, verifier_key, created_at) VALUES (?, ?, ?)`, v.KeyID, v.VerifierKey, micros(v.CreatedAt))
	return err
}
