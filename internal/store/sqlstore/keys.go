package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/ca"
)

// KeyBoundElsewhere is one probe of certificates_key: the rows of this key, skipping those of
// deviceID, stopping at the first signed one.
func (c certs) KeyBoundElsewhere(keySHA256 []byte, deviceID string) (bool, error) {
	var one int
	err := c.t.queryRow(`SELECT 1 FROM certificates WHERE key_sha256 = ? AND device_id IS NOT NULL AND device_id <> ? AND state <> ? LIMIT 1`,
		keySHA256, deviceID, string(ca.Reserved)).Scan(&one)
	switch {
	case err == sql.ErrNoRows:
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// backfillPage bounds the certificates one backfill transaction reads.
const backfillPage = 500

// BackfillKeys records the key hash (ca.TBSKeySHA256 of the stored TBS) of every certificate
// reserved before migration 0018 recorded it at reservation, a page per transaction; the
// stores run it after their migrations. A TBS that does not parse gets an empty hash, which
// matches no key, so that it is not read again. Once every row has one, a run is one index
// probe that finds nothing. The hash is derived data, not identity state: it is written
// without an audit event.
func BackfillKeys(ctx context.Context, db *sql.DB, d Dialect) (int, error) {
	done := 0
	for {
		n, err := backfillPageOnce(ctx, db, d)
		done += n
		if err != nil || n < backfillPage {
			return done, err
		}
	}
}

func backfillPageOnce(ctx context.Context, db *sql.DB, d Dialect) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("backfilling key hashes: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	rows, err := tx.QueryContext(ctx, d.Rebind(fmt.Sprintf(`SELECT serial, tbs FROM certificates WHERE key_sha256 IS NULL ORDER BY serial LIMIT %d`, backfillPage)))
	if err != nil {
		return 0, fmt.Errorf("backfilling key hashes: %w", err)
	}
	type row struct {
		serial string
		key    []byte
	}
	var todo []row
	for rows.Next() {
		var r row
		var tbs []byte
		if err := rows.Scan(&r.serial, &tbs); err != nil {
			rows.Close()
			return 0, fmt.Errorf("backfilling key hashes: %w", err)
		}
		if r.key, err = ca.TBSKeySHA256(tbs); err != nil {
			r.key = []byte{}
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("backfilling key hashes: %w", err)
	}
	for _, r := range todo {
		if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE certificates SET key_sha256 = ? WHERE serial = ? AND key_sha256 IS NULL`), r.key, r.serial); err != nil {
			return 0, fmt.Errorf("backfilling the key hash of certificate %s: %w", r.serial, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("backfilling key hashes: %w", err)
	}
	return len(todo), nil
}
