package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
)

// Leases and stored CRLs (migration 0007_leases.sql). Lease times come from the database's
// own clock (Dialect.NowMicros), so replicas with skewed clocks agree on expiry.

func (t *tx) Leases() store.Leases { return leases{t} }
func (t *tx) CRLs() store.CRLs     { return crls{t} }

type leases struct{ t *tx }
type crls struct{ t *tx }

var (
	_ store.Leases = leases{}
	_ store.CRLs   = crls{}
)

// now replaces NOW in q with the dialect's current time in unix microseconds.
func (t *tx) now(q string) string { return strings.ReplaceAll(q, "NOW", t.d.NowMicros()) }

func (l leases) Acquire(name, holder string, ttl time.Duration) (store.Lease, error) {
	if !l.t.writable {
		return store.Lease{}, errors.New("store: lease in a read-only transaction")
	}
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("store: lease %s: ttl must be positive", name)
	}
	// A renewal is the same holder before expiry: same epoch. Anything else that succeeds
	// (first take, take-over after expiry, own lease retaken after it expired) starts an epoch.
	q := l.t.now(`INSERT INTO leases (name, holder, epoch, expires_at, acquired_at) VALUES (?, ?, 1, NOW + ?, NOW)
ON CONFLICT (name) DO UPDATE SET
  epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > NOW THEN leases.epoch ELSE leases.epoch + 1 END,
  acquired_at = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > NOW THEN leases.acquired_at ELSE excluded.acquired_at END,
  holder = excluded.holder,
  expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.expires_at <= NOW
RETURNING holder, epoch, expires_at, acquired_at`)
	out := store.Lease{Name: name}
	var exp, acq int64
	err := l.t.queryRow(q, name, holder, ttl.Microseconds()).Scan(&out.Holder, &out.Epoch, &exp, &acq)
	if errors.Is(err, sql.ErrNoRows) {
		cur, err := l.GetLease(name)
		if err != nil {
			return store.Lease{}, err
		}
		return cur, fmt.Errorf("lease %s is held by %s until %s: %w", name, cur.Holder, cur.ExpiresAt.Format(time.RFC3339Nano), store.ErrConflict)
	}
	if err != nil {
		return store.Lease{}, fmt.Errorf("store: acquiring lease %s: %w", name, err)
	}
	out.ExpiresAt, out.AcquiredAt = fromMicros(exp), fromMicros(acq)
	return out, nil
}

func (l leases) Check(name, holder string, epoch int64) error {
	var one int
	err := l.t.queryRow(l.t.now(`SELECT 1 FROM leases WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > NOW`), name, holder, epoch).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("lease %s: %s no longer holds epoch %d: %w", name, holder, epoch, store.ErrConflict)
	}
	return err
}

func (l leases) Release(name, holder string, epoch int64) error {
	if !l.t.writable {
		return errors.New("store: lease in a read-only transaction")
	}
	_, err := l.t.tx.ExecContext(l.t.ctx, l.t.d.Rebind(l.t.now(`UPDATE leases SET expires_at = NOW WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > NOW`)), name, holder, epoch)
	return err
}

func (l leases) GetLease(name string) (store.Lease, error) {
	out := store.Lease{Name: name}
	var exp, acq int64
	err := l.t.queryRow(`SELECT holder, epoch, expires_at, acquired_at FROM leases WHERE name = ?`, name).Scan(&out.Holder, &out.Epoch, &exp, &acq)
	if err != nil {
		return store.Lease{}, notFound(err, "lease "+name)
	}
	out.ExpiresAt, out.AcquiredAt = fromMicros(exp), fromMicros(acq)
	return out, nil
}

func (c crls) PutCRL(v store.StoredCRL) error {
	if !c.t.writable {
		return errors.New("store: CRL in a read-only transaction")
	}
	var n int64
	err := c.t.queryRow(c.t.now(`INSERT INTO crls (ca_id, number, this_update, next_update, der, holder, epoch, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, NOW)
ON CONFLICT (ca_id) DO UPDATE SET number = excluded.number, this_update = excluded.this_update, next_update = excluded.next_update,
  der = excluded.der, holder = excluded.holder, epoch = excluded.epoch, stored_at = excluded.stored_at
WHERE crls.number < excluded.number
RETURNING number`), v.CAID, v.Number, micros(v.ThisUpdate), micros(v.NextUpdate), v.DER, v.Holder, v.Epoch).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("CRL %d of %s: a CRL with the same or a higher number is stored: %w", v.Number, v.CAID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: storing CRL %d of %s: %w", v.Number, v.CAID, err)
	}
	return nil
}

func (c crls) LatestCRL(caID string, after int64) (store.StoredCRL, error) {
	v := store.StoredCRL{CAID: caID}
	var tu, nu int64
	err := c.t.queryRow(`SELECT number, this_update, next_update, der, holder, epoch FROM crls WHERE ca_id = ? AND number > ?`, caID, after).
		Scan(&v.Number, &tu, &nu, &v.DER, &v.Holder, &v.Epoch)
	if err != nil {
		return store.StoredCRL{}, notFound(err, "CRL of "+caID)
	}
	v.ThisUpdate, v.NextUpdate = fromMicros(tu), fromMicros(nu)
	return v, nil
}
