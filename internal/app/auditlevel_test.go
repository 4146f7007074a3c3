package app

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// TestConfigAuditEventLevel: under serve --config, the copy of each committed audit event is
// logged at DEBUG unless log.audit_level is info: a server at the default log level writes no
// line per event, one configured for a SIEM writes each at INFO. It runs the server's own
// logger (newLogger) and level (auditEventLevel) over a real SQLite store.
func TestConfigAuditEventLevel(t *testing.T) {
	for _, tc := range []struct {
		name, log string // the config's "log" section
		want      string // the level of the audit_event line, "" for none
	}{
		{"defaults", `{}`, ""},
		{"log level debug", `{"level": "debug"}`, "DEBUG"},
		{"audit level info", `{"audit_level": "info"}`, "INFO"},
		{"audit level info, log level warn", `{"level": "warn", "audit_level": "info"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(`{"listen": "127.0.0.1:8443", "public_url": "https://hallmark.example.com",
				"store": {"driver": "sqlite", "path": "x.db"}, "keys": {"dir": "keys"},
				"tls": {"cert_file": "tls.pem", "key_file": "tls.key"}, "log": ` + tc.log + `}`))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hallmark.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			var out bytes.Buffer
			st := auditlog.LogCommittedAt(raw, newLogger(&out, cfg.Log.Level, cfg.Log.Format), auditEventLevel(cfg.Log.AuditLevel))
			if err := st.Update(context.Background(), func(tx store.Tx) error {
				_, err := tx.Audit().Append(audit.Event{At: time.Now(), PartyID: "acme", PrincipalID: "prn_1", Action: "factory.issue"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var rec struct{ Level, Msg, Action string }
				if line != "" && json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == auditlog.LogMessage && rec.Action == "factory.issue" {
					got = rec.Level
				}
			}
			if got != tc.want {
				t.Errorf("audit_event line at %q, want %q; log: %s", got, tc.want, out.String())
			}
		})
	}
}
