package auditlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
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

// TestObserveCommitted: every observer sees each committed event once, in order; events of a
// rolled back transaction are not observed. Size follows the tree.
func TestObserveCommitted(t *testing.T) { eachStore(t, testObserveCommitted) }

func testObserveCommitted(t *testing.T, raw store.Store) {
	var a, b []string
	st := auditlog.ObserveCommitted(raw,
		func(_ context.Context, e audit.Event) { a = append(a, fmt.Sprintf("%d %s", e.Seq, e.Action)) },
		func(_ context.Context, e audit.Event) { b = append(b, e.Action) })
	svc := newService(t, st, newKey(t))
	if n, err := svc.Size(ctx); err != nil || n != 0 {
		t.Fatalf("Size of an empty log = %d, %v", n, err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		for _, action := range []string{"lot.create", "lot.delegate"} {
			if _, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "acme", PrincipalID: "prn_1", Action: action}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Audit().Append(audit.Event{At: t0, Action: "never.committed"}); err != nil {
			return err
		}
		return errors.New("boom")
	})
	if got := strings.Join(a, ","); got != "1 lot.create,2 lot.delegate" {
		t.Errorf("first observer saw %q", got)
	}
	if got := strings.Join(b, ","); got != "lot.create,lot.delegate" {
		t.Errorf("second observer saw %q", got)
	}
	if n, err := svc.Size(ctx); err != nil || n != 2 {
		t.Errorf("Size = %d, %v; want 2", n, err)
	}
}

// capture is a slog.Handler that keeps the records at or above its level.
type capture struct {
	level slog.Level
	recs  *[]slog.Record
}

func (c capture) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }
func (c capture) Handle(_ context.Context, r slog.Record) error {
	*c.recs = append(*c.recs, r)
	return nil
}
func (c capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c capture) WithGroup(string) slog.Handler      { return c }

// TestLogCommittedAtLevel: the record of a committed event has the level asked for, and a
// logger that does not log that level gets no record.
func TestLogCommittedAtLevel(t *testing.T) {
	for _, tc := range []struct {
		name       string
		at, logger slog.Level
		want       int
	}{
		{"debug record, info logger", slog.LevelDebug, slog.LevelInfo, 0},
		{"debug record, debug logger", slog.LevelDebug, slog.LevelDebug, 1},
		{"info record, info logger", slog.LevelInfo, slog.LevelInfo, 1},
		{"info record, warn logger", slog.LevelInfo, slog.LevelWarn, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
			defer raw.Close()
			var recs []slog.Record
			st := auditlog.LogCommittedAt(raw, slog.New(capture{level: tc.logger, recs: &recs}), tc.at)
			if err := st.Update(ctx, func(tx store.Tx) error {
				_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "acme", PrincipalID: "prn_1", Action: "factory.issue"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if len(recs) != tc.want {
				t.Fatalf("%d records, want %d", len(recs), tc.want)
			}
			if tc.want == 1 && (recs[0].Level != tc.at || recs[0].Message != auditlog.LogMessage) {
				t.Errorf("record %s %q, want %s %q", recs[0].Level, recs[0].Message, tc.at, auditlog.LogMessage)
			}
		})
	}
}
