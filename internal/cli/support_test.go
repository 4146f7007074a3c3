package cli

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testCSR = "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"

func grantView(status, extra string) string {
	return `{"id":"sup_1","approval_id":"apr-7","requester_party":"globex","requester_principal":"prn_eve","engineer":"eve",
		"environment_id":"env_1","operator_id":"contoso","devices":["dev_1"],"reason":"ticket 4711","state":"` + status + `","status":"` + status + `",
		"not_before":"2026-11-01T08:00:00Z","not_after":"2026-11-01T12:00:00Z","created_at":"2026-11-01T08:00:00Z"` + extra + `}`
}

const pendingGrantApproval = `,"approval":{"id":"apr-7","kind":"support-grant","state":"pending","requester_party":"globex","requester_principal":"prn_eve",
	"approver_party":"contoso","scope":"environment:env_1","subject":"grant:sup_1","reason":"ticket 4711","approvers":1,"other_party":true,
	"decisions":[],"created_at":"2026-11-01T08:00:00Z","expires_at":"2026-11-04T08:00:00Z"}`

func TestSupportRequest(t *testing.T) {
	dir := t.TempDir()
	csrFile := filepath.Join(dir, "eve.csr")
	os.WriteFile(csrFile, []byte(testCSR), 0o600)
	var bodies []map[string]any
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/support/grants": func(w http.ResponseWriter, r *http.Request) {
			bodies = append(bodies, decodeBody(t, r))
			reply(202, grantView("requested", pendingGrantApproval))(w, r)
		},
	})

	before := time.Now().UTC()
	code, out, stderr := run(t, append([]string{"support", "request", "--environment", "env_1", "--device", "dev_1", "--device", "dev_2",
		"--reason", "ticket 4711", "--until", "4h", "--csr", csrFile, "--engineer", "eve"}, srv...)...)
	after := time.Now().UTC()
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"sup_1", "requested", "eve", "dev_1", "apr-7", "pending (0 of 1 approvals by contoso", "hallmark approval approve apr-7"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b := bodies[0]
	devs, _ := b["devices"].([]any)
	if b["environment_id"] != "env_1" || len(devs) != 2 || devs[1] != "dev_2" || b["reason"] != "ticket 4711" || b["csr"] != strings.TrimSpace(testCSR) ||
		b["engineer"] != "eve" || b["lot_id"] != nil || b["not_before"] != nil {
		t.Errorf("body %v", b)
	}
	na, err := time.Parse(time.RFC3339, b["not_after"].(string))
	if err != nil || na.Before(before.Add(4*time.Hour).Truncate(time.Second)) || na.After(after.Add(4*time.Hour)) {
		t.Errorf("not_after %v is not now+4h (%s to %s)", b["not_after"], before.Add(4*time.Hour), after.Add(4*time.Hour))
	}

	// A duration counts from --from; -o id prints the grant.
	code, out, _ = run(t, append([]string{"support", "request", "--environment", "env_1", "--lot", "lot_1", "--reason", "recall",
		"--from", "2030-01-01T08:00:00Z", "--until", "4h", "--csr", csrFile, "-o", "id"}, srv...)...)
	if code != 0 || out != "sup_1\n" {
		t.Fatalf("-o id: exit %d %q", code, out)
	}
	if b := bodies[1]; b["lot_id"] != "lot_1" || b["devices"] != nil || b["not_before"] != "2030-01-01T08:00:00Z" || b["not_after"] != "2030-01-01T12:00:00Z" || b["engineer"] != nil {
		t.Errorf("lot body %v", b)
	}
	if code, _, _ := run(t, append([]string{"support", "request", "--environment", "env_1", "--lot", "lot_1", "--reason", "recall",
		"--until", "2030-01-01T16:00:00+01:00", "--csr", csrFile}, srv...)...); code != 0 || bodies[2]["not_after"] != "2030-01-01T16:00:00+01:00" {
		t.Fatalf("RFC 3339 --until: exit %d, body %v", code, bodies[2])
	}
}

func TestSupportShowWritesCertificate(t *testing.T) {
	dir := t.TempDir()
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/support/grants/{id}": func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("id") == "sup_pending" {
				reply(200, grantView("requested", pendingGrantApproval))(w, r)
				return
			}
			reply(200, grantView("active", `,"certificate_serial":"7f","certificate":"CERT\n","chain":"CHAIN\n"`))(w, r)
		},
	})
	certOut, chainOut := filepath.Join(dir, "eve.pem"), filepath.Join(dir, "chain.pem")
	code, out, stderr := run(t, append([]string{"support", "show", "sup_1", "--cert-out", certOut, "--chain-out", chainOut}, srv...)...)
	if code != 0 || !strings.Contains(out, "wrote certificate to "+certOut) || !strings.Contains(out, "active") || !strings.Contains(out, "Certificate:  7F") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if c, _ := os.ReadFile(certOut); string(c) != "CERT\n" {
		t.Errorf("certificate file %q", c)
	}
	if c, _ := os.ReadFile(chainOut); string(c) != "CHAIN\n" {
		t.Errorf("chain file %q", c)
	}
	if code, out, _ := run(t, append([]string{"support", "show", "sup_1", "-o", "id"}, srv...)...); code != 0 || out != "sup_1\n" {
		t.Fatalf("-o id: exit %d %q", code, out)
	}

	// No certificate yet: a conflict, and no file.
	pending := filepath.Join(dir, "pending.pem")
	code, _, stderr = run(t, append([]string{"support", "show", "sup_pending", "--cert-out", pending}, srv...)...)
	if code != ExitConflict || !strings.Contains(stderr, "waiting for approval apr-7") {
		t.Fatalf("pending: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(pending); err == nil {
		t.Error("a certificate file was written for a grant without a certificate")
	}
}

func TestSupportListAndRevoke(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/support/grants": func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if q.Get("environment") != "env_1" || q.Get("device") != "dev_1" || q.Get("state") != "active" {
				t.Errorf("query %q", r.URL.RawQuery)
			}
			reply(200, `{"items":[`+grantView("active", "")+`]}`)(w, r)
		},
		"POST /v1/support/grants/{id}/revoke": func(w http.ResponseWriter, r *http.Request) {
			b := decodeBody(t, r)
			if r.PathValue("id") != "sup_1" || b["reason"] != "keyCompromise" {
				t.Errorf("revoke %s %v", r.PathValue("id"), b)
			}
			reply(200, grantView("revoked", `,"revoked_at":"2026-11-01T09:00:00Z","revoked_by":"prn_oscar"`))(w, r)
		},
	})
	code, out, _ := run(t, append([]string{"support", "list", "--environment", "env_1", "--device", "dev_1", "--state", "active"}, srv...)...)
	if code != 0 || !strings.Contains(out, "sup_1") || !strings.Contains(out, "2026-11-01T12:00:00Z") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, append([]string{"support", "revoke", "sup_1", "--reason", "keyCompromise"}, srv...)...)
	if code != 0 || !strings.Contains(out, "revoked") || !strings.Contains(out, "prn_oscar") {
		t.Fatalf("revoke: exit %d\n%s", code, out)
	}
}

func TestSupportCheck(t *testing.T) {
	dir := t.TempDir()
	_, _, certFile, certPEM := testKey(t, dir, "eve", "ecdsa")
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/support/check": func(w http.ResponseWriter, r *http.Request) {
			b := decodeBody(t, r)
			if b["certificate"] != string(certPEM) {
				t.Errorf("certificate %v", b["certificate"])
			}
			if b["device_id"] == "dev_1" {
				reply(200, `{"allowed":true,"reason":"grant sup_1 is active until 2026-11-01T12:00:00Z","grant_id":"sup_1","engineer":"eve","not_after":"2026-11-01T12:00:00Z"}`)(w, r)
				return
			}
			reply(200, `{"allowed":false,"reason":"device dev_2 is not named by grant sup_1","grant_id":"sup_1","engineer":"eve","not_after":"2026-11-01T12:00:00Z"}`)(w, r)
		},
	})
	code, out, stderr := run(t, append([]string{"support", "check", "--cert", certFile, "--device", "dev_1"}, srv...)...)
	if code != 0 || !strings.Contains(out, "Allowed:") || !strings.Contains(out, "yes") || !strings.Contains(out, "sup_1") {
		t.Fatalf("allowed: exit %d\n%s%s", code, out, stderr)
	}

	code, out, stderr = run(t, append([]string{"support", "check", "--cert", certFile, "--device", "dev_2"}, srv...)...)
	if code != ExitNotAllowed || !strings.Contains(out, "no") || !strings.Contains(stderr, "not allowed: device dev_2 is not named by grant sup_1") {
		t.Fatalf("refused: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	code, out, _ = run(t, append([]string{"support", "check", "--cert", certFile, "--device", "dev_2", "-o", "json"}, srv...)...)
	var reach struct{ Allowed *bool }
	if code != ExitNotAllowed || json.Unmarshal([]byte(out), &reach) != nil || reach.Allowed == nil || *reach.Allowed {
		t.Fatalf("refused -o json: exit %d %s", code, out)
	}

	// Not a certificate: refused here as invalid input, before asking.
	notCert := filepath.Join(dir, "not.pem")
	os.WriteFile(notCert, []byte("hello"), 0o600)
	if code, _, stderr := run(t, append([]string{"support", "check", "--cert", notCert, "--device", "dev_1"}, srv...)...); code != ExitInvalid {
		t.Fatalf("not a certificate: exit %d: %s", code, stderr)
	}
}

func TestSupportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	csrFile := filepath.Join(dir, "eve.csr")
	os.WriteFile(csrFile, []byte(testCSR), 0o600)
	req := func(extra ...string) []string {
		return append([]string{"support", "request", "--environment", "env_1", "--reason", "r", "--csr", csrFile}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"request without until", req("--device", "dev_1"), ExitUsage},
		{"request without scope", req("--until", "4h"), ExitUsage},
		{"request device and lot", req("--until", "4h", "--device", "dev_1", "--lot", "lot_1"), ExitUsage},
		{"request bad until", req("--until", "tomorrow", "--device", "dev_1"), ExitUsage},
		{"request negative until", req("--until", "-4h", "--device", "dev_1"), ExitUsage},
		{"request bad from", req("--until", "4h", "--from", "now", "--device", "dev_1"), ExitUsage},
		{"request until before from", req("--from", "2030-01-01T08:00:00Z", "--until", "2030-01-01T07:00:00Z", "--device", "dev_1"), ExitUsage},
		{"request unreadable csr", []string{"support", "request", "--environment", "e", "--reason", "r", "--csr", "/nonexistent.csr", "--until", "4h", "--device", "d"}, ExitInvalid},
		{"list bad state", []string{"support", "list", "--state", "expired"}, ExitUsage},
		{"check without device", []string{"support", "check", "--cert", csrFile}, ExitUsage},
		{"show without ID", []string{"support", "show"}, ExitUsage},
		{"hierarchy bad algorithm", []string{"support", "create-hierarchy", "--operator", "o", "--name", "n", "--algorithm", "dsa"}, ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeServer(t, map[string]http.HandlerFunc{
				"/": func(w http.ResponseWriter, r *http.Request) {
					t.Errorf("a bad command line reached the server: %s %s", r.Method, r.URL)
				},
			})
			code, _, stderr := run(t, append(tt.args, srv...)...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
		})
	}
}
