package auditlog_test

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// signedReport signs a small report over a log of 5 events and returns it as JSON.
func signedReport(t testing.TB, svc *auditlog.Service, body string) []byte {
	t.Helper()
	cp, err := svc.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	size, err := auditlog.CheckpointSize(cp)
	if err != nil {
		t.Fatal(err)
	}
	env, err := svc.SignReport(ctx, auditlog.ReportStatement{Report: "summary", Checkpoint: string(cp), LogSizeBefore: size, Body: json.RawMessage(body)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignedReportVerifies: a signed report verifies offline with the checkpoint key and names
// its checkpoint; a changed body, another key, a changed payload type or a statement with an
// unknown field is refused.
func TestSignedReportVerifies(t *testing.T) {
	st := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	svc := newService(t, st, newKey(t))
	appendEvents(t, st, 5)
	b := signedReport(t, svc, `{"devices":3,"by_state":{"active":3}}`)
	vs := []note.Verifier{verifier(t, svc.VerifierKey())}

	rep, cp, err := auditlog.VerifyReport(b, vs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Report != "summary" || cp.Size != 5 || !rep.Exact(cp) || string(rep.Body) != `{"devices":3,"by_state":{"active":3}}` {
		t.Errorf("verified %+v at checkpoint %+v", rep, cp)
	}

	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
	reenc := func(p []byte, mut func(map[string]any)) []byte {
		e := map[string]any{}
		for k, v := range env {
			e[k] = v
		}
		e["payload"] = base64.StdEncoding.EncodeToString(p)
		if mut != nil {
			mut(e)
		}
		out, _ := json.Marshal(e)
		return out
	}
	other := newService(t, st, newKey(t))
	for _, tt := range []struct {
		name string
		in   []byte
		vs   []note.Verifier
	}{
		{"body changed", reenc([]byte(strings.Replace(string(payload), `"devices":3`, `"devices":4`, 1)), nil), vs},
		{"checkpoint size changed", reenc([]byte(strings.Replace(string(payload), `"log_size_before":5`, `"log_size_before":4`, 1)), nil), vs},
		{"another key", b, []note.Verifier{verifier(t, other.VerifierKey())}},
		{"payload type changed", reenc(payload, func(e map[string]any) { e["payloadType"] = "application/json" }), vs},
		{"no signature", reenc(payload, func(e map[string]any) { e["signatures"] = []any{} }), vs},
		{"unknown envelope field", reenc(payload, func(e map[string]any) { e["extra"] = 1 }), vs},
		{"not JSON", []byte("{"), vs},
		{"no keys", b, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := auditlog.VerifyReport(tt.in, tt.vs); failure.KindOf(err) != failure.Invalid {
				t.Errorf("VerifyReport = %v, want Invalid", err)
			}
		})
	}
}

// FuzzVerifyReport: no input makes VerifyReport panic, and whatever it accepts carries a
// statement with a report, a body and a checkpoint signed by the key.
func FuzzVerifyReport(f *testing.F) {
	st := openSQLite(f, filepath.Join(f.TempDir(), "h.db"))
	defer st.Close()
	svc := newService(f, st, ed25519FromSeed(make([]byte, 32)))
	appendEvents(f, st, 2)
	good := signedReport(f, svc, `{"devices":1}`)
	f.Add(good)
	f.Add([]byte(`{"payloadType":"application/vnd.hallmark.report+json","payload":"e30=","signatures":[{"keyid":"x","sig":"AA=="}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	v, err := note.NewVerifier(svc.VerifierKey())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, cp, err := auditlog.VerifyReport(b, []note.Verifier{v})
		if err != nil {
			return
		}
		if rep.Report == "" || len(rep.Body) == 0 || cp.Origin != svc.Origin() || rep.LogSizeBefore > cp.Size {
			t.Fatalf("accepted %+v at %+v", rep, cp)
		}
	})
}
