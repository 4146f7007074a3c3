package sqlstore

import (
	"database/sql"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

type cas struct{ t *tx }

func (c cas) CreateCA(v ca.CA) error {
	_, err := c.t.exec(`INSERT INTO cas (id, party_id, stage, role, parent_id, name, key_id, imported, cert_der, created_at, crl_partitions, factory_validity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.PartyID, v.Stage, string(v.Role), nullString(v.ParentID), v.Name, nullString(v.KeyID), boolInt(v.Imported), v.CertDER, micros(v.CreatedAt), v.CRLPartitions, v.FactoryValidity)
	return err
}

const caCols = `id, party_id, stage, role, parent_id, name, key_id, imported, cert_der, created_at, crl_partitions, retired_at, successor_id, succeeded_at, issues_until, factory_validity`

func scanCA(s interface{ Scan(...any) error }, parsed *caCerts) (ca.CA, error) {
	var v ca.CA
	var role string
	var parent, key sql.NullString
	var imported int
	var at int64
	var retired, succeeded, until sql.NullInt64
	var successor sql.NullString
	if err := s.Scan(&v.ID, &v.PartyID, &v.Stage, &role, &parent, &v.Name, &key, &imported, &v.CertDER, &at, &v.CRLPartitions, &retired, &successor, &succeeded, &until, &v.FactoryValidity); err != nil {
		return v, err
	}
	v.RetiredAt = fromNullMicros(retired)
	v.SuccessorID, v.SucceededAt, v.IssuesUntil = successor.String, fromNullMicros(succeeded), fromNullMicros(until)
	v.Role, v.ParentID, v.KeyID, v.Imported, v.CreatedAt = ca.Role(role), parent.String, key.String, imported == 1, fromMicros(at)
	cert, err := parsed.parse(v.CertDER)
	if err != nil {
		return v, fmt.Errorf("store: CA %s: stored certificate does not parse: %w", v.ID, err)
	}
	v.Cert = cert
	return v, nil
}

func (c cas) GetCA(id string) (ca.CA, error) {
	v, err := scanCA(c.t.queryRow(`SELECT `+caCols+` FROM cas WHERE id = ?`, id), c.t.caCerts)
	return v, notFound(err, "CA "+id)
}

func (c cas) ListCAs(partyID string) ([]ca.CA, error) {
	q, args := `SELECT `+caCols+` FROM cas ORDER BY party_id, created_at, id`, []any{}
	if partyID != "" {
		q, args = `SELECT `+caCols+` FROM cas WHERE party_id = ? ORDER BY created_at, id`, []any{partyID}
	}
	rows, err := c.t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ca.CA
	for rows.Next() {
		v, err := scanCA(rows, c.t.caCerts)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (c cas) RetireCA(id string, at time.Time) error {
	return c.t.execOne(fmt.Errorf("CA %s: %w", id, store.ErrNotFound), `UPDATE cas SET retired_at = COALESCE(retired_at, ?) WHERE id = ?`, micros(at), id)
}

func (c cas) RetiredAt(id string) (*time.Time, error) {
	var v sql.NullInt64
	if err := c.t.queryRow(`SELECT retired_at FROM cas WHERE id = ?`, id).Scan(&v); err != nil {
		return nil, notFound(err, "CA "+id)
	}
	return fromNullMicros(v), nil
}

func (c cas) CreateSigningKey(k ca.SigningKey) error {
	_, err := c.t.exec(`INSERT INTO signing_keys (id, party_id, purpose, key_id, public_key_der, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.PartyID, k.Purpose, k.KeyID, k.PublicKeyDER, micros(k.CreatedAt))
	return err
}

func (c cas) SigningKey(partyID, purpose string) (ca.SigningKey, error) {
	var k ca.SigningKey
	var at int64
	err := c.t.queryRow(`SELECT id, party_id, purpose, key_id, public_key_der, created_at FROM signing_keys WHERE party_id = ? AND purpose = ?`, partyID, purpose).
		Scan(&k.ID, &k.PartyID, &k.Purpose, &k.KeyID, &k.PublicKeyDER, &at)
	k.CreatedAt = fromMicros(at)
	return k, notFound(err, purpose+" key of "+partyID)
}

type certs struct{ t *tx }

// Reserve is the one write exempt from the audit rule: the reserved row is itself the record
// of intent that a later audited transaction completes. It records the CRL partition too.
func (c certs) Reserve(v ca.Cert) error {
	defer c.t.noEpochWrite()()
	wasChanged := c.t.changed
	_, err := c.t.exec(`INSERT INTO certificates (serial, ca_id, device_id, profile, state, tbs, not_before, not_after, created_at, crl_partition, key_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ca.SerialHex(v.Serial), v.CAID, nullString(v.DeviceID), v.Profile, string(ca.Reserved), v.TBS, micros(v.NotBefore), micros(v.NotAfter), micros(v.CreatedAt), v.CRLPartition, nullBytes(v.KeySHA256))
	c.t.changed = wasChanged
	return err
}

// MarkIssued stores der for a reserved serial. When der is a certificate, the row's TBS (the
// record of intent) must be exactly der's tbsCertificate, checked in the same UPDATE; else
// ErrConflict and nothing is written.
func (c certs) MarkIssued(serial *big.Int, der []byte, at time.Time) error {
	defer c.t.noEpochWrite()() // certificates' trigger appends to status_changes only
	hex := ca.SerialHex(serial)
	if tbs := tbsOf(der); tbs != nil {
		return c.t.execOne(fmt.Errorf("certificate %s is not reserved with the to-be-signed bytes it holds: %w", hex, store.ErrConflict),
			`UPDATE certificates SET state = ?, der = ?, issued_at = ? WHERE serial = ? AND state = ? AND tbs = ?`,
			string(ca.Issued), der, micros(at), hex, string(ca.Reserved), tbs)
	}
	return c.t.execOne(fmt.Errorf("certificate %s is not reserved: %w", hex, store.ErrConflict),
		`UPDATE certificates SET state = ?, der = ?, issued_at = ? WHERE serial = ? AND state = ?`,
		string(ca.Issued), der, micros(at), hex, string(ca.Reserved))
}

// tbsOf returns the tbsCertificate element of a DER certificate (RFC 5280 section 4.1), a
// slice of der, or nil when der is not one.
func tbsOf(der []byte) []byte {
	in := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !in.Empty() || !cert.ReadASN1Element(&tbs, cbasn1.SEQUENCE) || len(tbs) == 0 {
		return nil
	}
	return tbs
}

const certCols = `serial, ca_id, device_id, profile, state, tbs, der, not_before, not_after, created_at, issued_at, revoked_at, reason, crl_partition`

func scanCert(s interface{ Scan(...any) error }) (ca.Cert, error) {
	var v ca.Cert
	var dev sql.NullString
	var state string
	var nb, na, at int64
	var issued, revoked, reason sql.NullInt64
	if err := s.Scan(&v.SerialHex, &v.CAID, &dev, &v.Profile, &state, &v.TBS, &v.DER, &nb, &na, &at, &issued, &revoked, &reason, &v.CRLPartition); err != nil {
		return v, err
	}
	v.Serial, _ = new(big.Int).SetString(v.SerialHex, 16)
	v.DeviceID, v.State = dev.String, ca.CertState(state)
	v.NotBefore, v.NotAfter, v.CreatedAt = fromMicros(nb), fromMicros(na), fromMicros(at)
	v.IssuedAt, v.RevokedAt = fromNullMicros(issued), fromNullMicros(revoked)
	if reason.Valid {
		r := int(reason.Int64)
		v.Reason = &r
	}
	return v, nil
}

func (c certs) GetCert(serial *big.Int) (ca.Cert, error) {
	v, err := scanCert(c.t.queryRow(`SELECT `+certCols+` FROM certificates WHERE serial = ?`, ca.SerialHex(serial)))
	return v, notFound(err, "certificate "+ca.SerialHex(serial))
}

func (c certs) ListDeviceCerts(deviceID string) ([]ca.Cert, error) {
	rows, err := c.t.query(`SELECT `+certCols+` FROM certificates WHERE device_id = ? ORDER BY created_at, serial`, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ca.Cert
	for rows.Next() {
		v, err := scanCert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
