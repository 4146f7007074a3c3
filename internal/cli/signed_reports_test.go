package cli

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/app"
)

// devServer starts `hallmark serve --dev` in this process and returns its dev.json.
func startDevServer(t *testing.T) (app.DevInfo, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.Options{Dev: true, DataDir: dir, Listen: "127.0.0.1:0"}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
	})
	var info app.DevInfo
	for deadline := time.Now().Add(60 * time.Second); ; {
		if b, err := os.ReadFile(filepath.Join(dir, "dev.json")); err == nil && json.Unmarshal(b, &info) == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("dev server exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("dev server did not start within 60 s")
		}
	}
	var tokens map[string]string
	b, err := os.ReadFile(info.TokenFile)
	if err != nil || json.Unmarshal(b, &tokens) != nil {
		t.Fatalf("tokens: %v", err)
	}
	return info, tokens
}

// TestSignedReports (issue 17, point 7): "report … --signed" prints a DSSE envelope through the
// API that "report verify" checks offline with the checkpoint key; its body is the report the
// unsigned request gives; a tampered report, or one checked with another key, is refused
// with exit code 3.
func TestSignedReports(t *testing.T) {
	info, tokens := startDevServer(t)
	dir := t.TempDir()
	as := func(who string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, append([]string{"--server", info.APIURL, "--token", tokens[who], "--cacert", info.TLSCAFile}, args...)...)
	}
	must := func(who string, args ...string) string {
		t.Helper()
		code, out, errs := as(who, args...)
		if code != 0 {
			t.Fatalf("hallmark %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := write("audit.vkey", must("acme/alice", "audit", "key"))
	signed := write("summary.dsse.json", must("acme/alice", "report", "summary", "--signed"))

	out := must("acme/alice", "report", "verify", "--file", signed, "--key", key)
	if !strings.Contains(out, "OK: signed by the given checkpoint key") || !strings.Contains(out, "hallmark-dev/audit size ") {
		t.Errorf("report verify:\n%s", out)
	}
	var v struct {
		Report     string
		Exact      bool
		Checkpoint struct{ Size uint64 }
	}
	if err := json.Unmarshal([]byte(must("acme/alice", "report", "verify", "--file", signed, "--key", key, "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Report != "summary" || v.Checkpoint.Size == 0 || !v.Exact {
		t.Errorf("verified = %+v, want the summary computed exactly at a checkpoint", v)
	}
	var body, plain map[string]any
	if err := json.Unmarshal([]byte(must("acme/alice", "report", "verify", "--file", signed, "--key", key, "--body")), &body); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(must("acme/alice", "report", "summary", "-o", "json")), &plain); err != nil {
		t.Fatal(err)
	}
	delete(body, "generated_at") // computed twice, a moment apart
	delete(plain, "generated_at")
	if !reflect.DeepEqual(body, plain) {
		t.Errorf("signed body %v differs from the report %v", body, plain)
	}

	// A report with a query keeps it in the statement.
	rot := write("rotation.dsse.json", must("contoso/oscar", "report", "rotation", "--since", "30d", "--every", "1d", "--signed"))
	if out := must("contoso/oscar", "report", "verify", "--file", rot, "--key", key); !strings.Contains(out, "rotation every=1d&since=30d") {
		t.Errorf("rotation verify:\n%s", out)
	}

	// Tampered: one number of the body changed, the signature kept.
	var env map[string]any
	b, _ := os.ReadFile(signed)
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
	var st map[string]any
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	st["body"].(map[string]any)["devices"] = 999
	payload, _ = json.Marshal(st)
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	b, _ = json.Marshal(env)
	tampered := write("tampered.dsse.json", string(b))
	if code, _, errs := as("acme/alice", "report", "verify", "--file", tampered, "--key", key); code != ExitInvalid || !strings.Contains(errs, "no valid signature") {
		t.Errorf("tampered report: exit %d: %s", code, errs)
	}
	// Another key (a valid note verifier key that did not sign it).
	_, otherKey, err := note.GenerateKey(rand.Reader, "hallmark-dev/audit")
	if err != nil {
		t.Fatal(err)
	}
	other := write("other.vkey", otherKey+"\n")
	if code, _, errs := as("acme/alice", "report", "verify", "--file", signed, "--key", other); code != ExitInvalid || !strings.Contains(errs, "no valid signature") {
		t.Errorf("verify with another key: exit %d: %s", code, errs)
	}
	if code, _, _ := as("acme/alice", "report", "verify", "--file", signed); code != ExitUsage {
		t.Errorf("verify without --key: exit %d, want %d", code, ExitUsage)
	}
}

// TestAuditReconcileCommand: "audit reconcile" through the API prints the counts, exits 0
// while every row agrees with the log, and lists an edited row with exit code 5.
func TestAuditReconcileCommand(t *testing.T) {
	info, tokens := startDevServer(t)
	as := func(who string, args ...string) (int, string, string) {
		t.Helper()
		return run(t, append([]string{"--server", info.APIURL, "--token", tokens[who], "--cacert", info.TLSCAFile}, args...)...)
	}
	code, out, errs := as("auditco/audrey", "audit", "reconcile")
	if code != 0 || !strings.Contains(out, "DISAGREE") {
		t.Fatalf("reconcile of an untouched deployment: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := as("acme/alice", "audit", "reconcile"); code != ExitDenied {
		t.Errorf("reconcile as a non-auditor: exit %d, want %d", code, ExitDenied)
	}
	db, err := sql.Open("sqlite", "file:"+info.Database+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A forged row: a factory certificate no event issued.
	serial := "f00dcafe"
	if _, err := db.Exec(`INSERT INTO certificates (serial, ca_id, profile, state, tbs, not_before, not_after, created_at) SELECT ?, id, 'factory', 'issued', x'01', 0, 1, 0 FROM cas LIMIT 1`, serial); err != nil {
		t.Fatal(err)
	}
	code, out, errs = as("auditco/audrey", "audit", "reconcile")
	if code != ExitConflict || !strings.Contains(out, serial) || !strings.Contains(out, "no event issued it") || !strings.Contains(errs, "1 rows disagree") {
		t.Errorf("reconcile after an edit: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = as("auditco/audrey", "audit", "reconcile", "-o", "json")
	var r struct {
		Disagreements []struct{ ID, Row, Log string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != ExitConflict || len(r.Disagreements) != 1 || r.Disagreements[0].ID != serial || r.Disagreements[0].Row != "issued" {
		t.Errorf("reconcile -o json: exit %d, %+v (%v)", code, r, err)
	}
}
