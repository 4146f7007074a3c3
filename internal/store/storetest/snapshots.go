package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
)

var snapshotTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ReportSnapshotsPerPartyAndPart", testReportSnapshots},
}

// testReportSnapshots: a snapshot is kept per party and part, replaced by the next, read back
// exactly, and absent ones are not found.
func testReportSnapshots(t *testing.T, s store.Store) {
	get := func(party, part string) (store.ReportSnapshot, error) {
		var v store.ReportSnapshot
		err := s.View(ctx, func(tx store.Tx) error {
			var err error
			v, err = tx.ReportSnapshots().LatestReportSnapshot(party, part)
			return err
		})
		return v, err
	}
	put := func(v store.ReportSnapshot) {
		t.Helper()
		mustUpdate(t, s, func(tx store.Tx) error { return tx.ReportSnapshots().PutReportSnapshot(v) })
	}
	if _, err := get("acme", "overview"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a snapshot never stored: %v, want not found", err)
	}
	put(store.ReportSnapshot{PartyID: "acme", Part: "overview", ComputedAt: t0, AuditSize: 7, Body: []byte(`{"a":1}`)})
	put(store.ReportSnapshot{PartyID: "acme", Part: "drift", ComputedAt: t0, AuditSize: 7, Body: []byte(`{"d":1}`)})
	put(store.ReportSnapshot{PartyID: "contoso", Part: "overview", ComputedAt: t0, AuditSize: 7, Body: []byte(`{"c":1}`)})
	later := t0.Add(time.Minute + 123*time.Microsecond)
	put(store.ReportSnapshot{PartyID: "acme", Part: "overview", ComputedAt: later, AuditSize: 9, Body: []byte(`{"a":2}`)})
	for _, c := range []struct {
		party, part, body string
		at                time.Time
		size              uint64
	}{{"acme", "overview", `{"a":2}`, later, 9}, {"acme", "drift", `{"d":1}`, t0, 7}, {"contoso", "overview", `{"c":1}`, t0, 7}} {
		v, err := get(c.party, c.part)
		if err != nil || string(v.Body) != c.body || !v.ComputedAt.Equal(c.at) || v.AuditSize != c.size || v.PartyID != c.party || v.Part != c.part {
			t.Fatalf("%s/%s = %+v (%s), %v; want %s at %s, size %d", c.party, c.part, v, v.Body, err, c.body, c.at, c.size)
		}
	}
	if _, err := get("contoso", "drift"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another party's part: %v, want not found", err)
	}
	if err := s.View(ctx, func(tx store.Tx) error {
		return tx.ReportSnapshots().PutReportSnapshot(store.ReportSnapshot{PartyID: "x", Part: "overview", ComputedAt: t0, Body: []byte(`{}`)})
	}); err == nil {
		t.Fatal("a snapshot stored in a read-only transaction")
	}
}
