package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

// TestRotationTrendPlanSQLite: on SQLite, the rotation trend finds each evidence row's
// certificate by its serial and never scans the certificates table, whose rows hold TBS and
// DER (migration 0011). With the device and profile as join conditions, SQLite drove the join
// from a full scan of certificates. SQLite without ANALYZE statistics plans from the schema
// alone, so an empty database has the plan of a fleet's.
func TestRotationTrendPlanSQLite(t *testing.T) {
	db := migratedSQLite(t)
	at := []time.Time{time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	for _, sc := range []store.ReportScope{{All: true}, {PartyID: "op"}, {PartyID: "op", Operational: true}} {
		q, args := sqlstore.RotationTrendQuery(sc, at)
		plan := queryPlan(t, db, q, args...)
		searched := false
		for _, d := range plan {
			if d == "SCAN c" || strings.HasPrefix(d, "SCAN c ") || strings.HasPrefix(d, "SCAN certificates") {
				t.Errorf("%+v: the trend scans certificates (%q); plan:\n%s", sc, d, strings.Join(plan, "\n"))
			}
			if strings.HasPrefix(d, "SEARCH c USING ") && strings.HasSuffix(d, "(serial=?)") {
				searched = true
			}
		}
		if !searched {
			t.Errorf("%+v: the trend finds no certificate by its serial alone; plan:\n%s", sc, strings.Join(plan, "\n"))
		}
	}
}

// TestLatestEvidencePlanSQLite: LatestEvidence (the dry run's last facts of a device) reads the
// device's entries of the evidence_device index, newest first, never the whole table.
func TestLatestEvidencePlanSQLite(t *testing.T) {
	plan := queryPlan(t, migratedSQLite(t), sqlstore.LatestEvidenceQuery, "dev_1")
	if len(plan) == 0 || plan[0] != "SEARCH evidence USING INDEX evidence_device (device_id=?)" {
		t.Errorf("LatestEvidence does not search evidence_device by device; plan:\n%s", strings.Join(plan, "\n"))
	}
}

// migratedSQLite is a new SQLite database with Hallmark's schema, opened plainly (no store
// around it), closed when the test ends.
func migratedSQLite(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hallmark.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryPlan is the detail column of EXPLAIN QUERY PLAN q, row by row.
func queryPlan(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
