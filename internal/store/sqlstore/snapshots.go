package sqlstore

import (
	"errors"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/store"
)

// Report snapshots of the console (migration 0027_report_snapshots.sql): one row per party and part.

func (t *tx) ReportSnapshots() store.ReportSnapshots { return snapshots{t} }

type snapshots struct{ t *tx }

var _ store.ReportSnapshots = snapshots{}

func (s snapshots) PutReportSnapshot(v store.ReportSnapshot) error {
	if !s.t.writable {
		return errors.New("store: report snapshot in a read-only transaction")
	}
	_, err := s.t.tx.ExecContext(s.t.ctx, s.t.d.Rebind(`INSERT INTO report_snapshots (party_id, part, computed_at, audit_size, body) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (party_id, part) DO UPDATE SET computed_at = excluded.computed_at, audit_size = excluded.audit_size, body = excluded.body`),
		v.PartyID, v.Part, micros(v.ComputedAt), int64(v.AuditSize), v.Body)
	if err != nil {
		return fmt.Errorf("store: storing the report snapshot %s of %s: %w", v.Part, v.PartyID, err)
	}
	return nil
}

func (s snapshots) LatestReportSnapshot(partyID, part string) (store.ReportSnapshot, error) {
	v := store.ReportSnapshot{PartyID: partyID, Part: part}
	var at, size int64
	err := s.t.queryRow(`SELECT computed_at, audit_size, body FROM report_snapshots WHERE party_id = ? AND part = ?`, partyID, part).Scan(&at, &size, &v.Body)
	if err != nil {
		return store.ReportSnapshot{}, notFound(err, "report snapshot "+part+" of "+partyID)
	}
	v.ComputedAt, v.AuditSize = fromMicros(at), uint64(size)
	return v, nil
}
