package auditlog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/store"
)

func TestCommittedEventsAreLogged(t *testing.T) {
	raw := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	defer raw.Close()
	var buf bytes.Buffer
	st := auditlog.LogCommitted(raw, slog.New(slog.NewJSONHandler(&buf, nil)))

	e := audit.Event{At: t0, PartyID: "acme", PrincipalID: "prn_1", Action: "lot.create", Stage: "manufacturing", Scope: "lot:lot_1", Subject: "lot:lot_1", Detail: audit.Detail(map[string]string{"name": "L1"})}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Audit().Append(e); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "acme", PrincipalID: "prn_1", Action: "lot.delegate"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_ = st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Audit().Append(audit.Event{At: t0, Action: "never.committed"}); err != nil {
			return err
		}
		return boom
	})

	var recs []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2 (the rolled back event is not logged): %v", len(recs), recs)
	}
	r := recs[0]
	for k, want := range map[string]any{"msg": "audit_event", "log": "audit", "seq": 1.0, "leaf_index": 0.0, "at": "2026-11-29T12:00:00.123456Z",
		"party_id": "acme", "principal_id": "prn_1", "action": "lot.create", "stage": "manufacturing", "scope": "lot:lot_1", "subject": "lot:lot_1"} {
		if r[k] != want {
			t.Errorf("record key %s = %v, want %v", k, r[k], want)
		}
	}
	if d, ok := r["detail"].(map[string]any); !ok || d["name"] != "L1" {
		t.Errorf("detail = %v", r["detail"])
	}
	if recs[1]["seq"] != 2.0 || recs[1]["action"] != "lot.delegate" {
		t.Errorf("second record %v", recs[1])
	}
}
