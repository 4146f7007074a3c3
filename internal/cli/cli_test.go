package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the CLI in-process with the HALLMARK_* variables cleared.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for _, v := range []string{EnvServer, EnvToken, EnvCACert} {
		t.Setenv(v, "")
	}
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// fakeServer is an httptest TLS server with canned answers; it returns the global flags that
// point the CLI at it.
func fakeServer(t *testing.T, routes map[string]http.HandlerFunc) []string {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if got := r.Header.Get("Authorization"); got != "Bearer hmk_test" {
				t.Errorf("%s: Authorization = %q", pattern, got)
			}
			h(w, r)
		})
	}
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--server", srv.URL, "--token", "hmk_test", "--cacert", ca}
}

func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func problem(status int, kind, detail string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"type": "https://hallmark.dev/problems/" + kind, "title": kind, "status": status, "detail": detail})
	}
}

func TestUsageExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no arguments prints help", nil, ExitOK},
		{"group without subcommand prints help", []string{"party"}, ExitOK},
		{"help", []string{"lot", "create", "--help"}, ExitOK},
		{"unknown command", []string{"frobnicate"}, ExitUsage},
		{"unknown subcommand", []string{"party", "frobnicate"}, ExitUsage},
		{"unknown flag", []string{"whoami", "--frob"}, ExitUsage},
		{"missing required flag", []string{"lot", "create", "--model", "mdl_1"}, ExitUsage},
		{"bad output format", []string{"version", "-o", "yaml"}, ExitUsage},
		{"zero timeout", []string{"whoami", "--timeout", "0s", "--server", "https://x"}, ExitUsage},
		{"missing argument", []string{"lot", "show"}, ExitUsage},
		{"extra argument", []string{"whoami", "extra"}, ExitUsage},
		{"no server", []string{"whoami"}, ExitUsage},
		{"bad server URL", []string{"whoami", "--server", "127.0.0.1:8443"}, ExitUsage},
		{"devices and lot", []string{"transfer", "offer", "--to", "b", "--device", "d", "--lot", "l"}, ExitUsage},
		{"neither devices nor lot", []string{"transfer", "offer", "--to", "b"}, ExitUsage},
		{"bad scope", []string{"ownership", "set", "--stage", "manufacturing", "--duty", "issue", "--scope", "lot", "--party", "a"}, ExitUsage},
		{"bad stage", []string{"ownership", "set", "--stage", "x", "--duty", "issue", "--scope", "lot:1", "--party", "a"}, ExitUsage},
		{"bad limit", []string{"device", "list", "--limit", "5000", "--server", "https://x"}, ExitUsage},
		{"non-numeric flag", []string{"audit", "events", "--after", "x"}, ExitUsage},
		{"bad algorithm", []string{"ca", "create-hierarchy", "--manufacturer", "a", "--name", "b", "--algorithm", "dsa"}, ExitUsage},
		{"serve without mode", []string{"serve"}, ExitUsage},
		{"serve dev and config", []string{"serve", "--dev", "--config", "x.json"}, ExitUsage},
		{"missing input file", []string{"anchor", "register", "--name", "a", "--cert", "/nonexistent.pem"}, ExitInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.args...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
			if code == ExitUsage && (!strings.HasPrefix(stderr, "hallmark: ") || !strings.Contains(stderr, "--help' for usage")) {
				t.Errorf("stderr = %q", stderr)
			}
		})
	}
}

const lots = `{"items":[
 {"id":"lot_1","manufacturer_id":"acme","model_id":"mdl_1","name":"lot-7","line":"a","issuing_ca_id":"ca_2","created_at":"2026-01-02T03:04:05Z"},
 {"id":"lot_2","manufacturer_id":"acme","model_id":"mdl_1","name":"lot-8","line":"a","issuing_ca_id":"ca_2","created_at":"2026-01-02T03:04:05Z"}]}`

func TestOutputFormats(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/lots": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("manufacturer") != "acme" {
				t.Errorf("query %q", r.URL.RawQuery)
			}
			reply(200, lots)(w, r)
		},
		"POST /v1/lots": func(w http.ResponseWriter, r *http.Request) {
			var req map[string]any
			json.NewDecoder(r.Body).Decode(&req)
			if req["model_id"] != "mdl_1" || req["name"] != "lot-9" || req["issuing_ca_id"] != "ca_2" || req["delegate_to"] != "cm" {
				t.Errorf("request %v", req)
			}
			reply(201, `{"id":"lot_9","model_id":"mdl_1","name":"lot-9"}`)(w, r)
		},
		"POST /v1/manufacturing/hierarchies": reply(201, `{"root":{"id":"ca_1","role":"root"},"issuing":{"id":"ca_2","role":"issuing"}}`),
		"GET /v1/audit/events":               reply(200, `{"items":[{"seq":7,"action":"lot.create"},{"seq":8,"action":"factory.issue"}]}`),
	})
	tests := []struct {
		name       string
		args       []string
		wantStdout string
	}{
		{"list ids", []string{"lot", "list", "--manufacturer", "acme", "-o", "id"}, "lot_1\nlot_2\n"},
		{"create id", []string{"lot", "create", "--model", "mdl_1", "--name", "lot-9", "--issuing-ca", "ca_2", "--delegate-to", "cm", "-o", "id"}, "lot_9\n"},
		{"hierarchy ids root then issuing", []string{"ca", "create-hierarchy", "--manufacturer", "acme", "--name", "m", "-o", "id"}, "ca_1\nca_2\n"},
		{"audit seqs", []string{"audit", "events", "-o", "id"}, "7\n8\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := run(t, append(tt.args, srv...)...)
			if code != 0 || out != tt.wantStdout {
				t.Fatalf("exit %d, stdout %q, want %q; stderr %s", code, out, tt.wantStdout, stderr)
			}
		})
	}

	t.Run("list json", func(t *testing.T) {
		code, out, stderr := run(t, append([]string{"lot", "list", "--manufacturer", "acme", "-o", "json"}, srv...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got []map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("not a JSON array: %v\n%s", err, out)
		}
		if len(got) != 2 || got[0]["id"] != "lot_1" || got[1]["issuing_ca_id"] != "ca_2" || got[0]["created_at"] != "2026-01-02T03:04:05Z" {
			t.Fatalf("json = %v", got)
		}
	})
	t.Run("table", func(t *testing.T) {
		code, out, _ := run(t, append([]string{"lot", "list", "--manufacturer", "acme"}, srv...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[1], "lot-7") || !strings.Contains(lines[1], "2026-01-02T03:04:05Z") {
			t.Fatalf("exit %d, table:\n%s", code, out)
		}
	})
	t.Run("environment instead of flags", func(t *testing.T) {
		for _, v := range []string{EnvServer, EnvToken, EnvCACert} {
			t.Setenv(v, "")
		}
		t.Setenv(EnvServer, srv[1])
		t.Setenv(EnvToken, srv[3])
		t.Setenv(EnvCACert, srv[5])
		var out, errb bytes.Buffer
		if code := Run(context.Background(), []string{"lot", "list", "--manufacturer", "acme", "-o", "id"}, &out, &errb); code != 0 || out.String() != "lot_1\nlot_2\n" {
			t.Fatalf("exit %d, stdout %q, stderr %s", code, out.String(), errb.String())
		}
	})
}

func TestErrorExitCodes(t *testing.T) {
	tests := []struct {
		name      string
		h         http.HandlerFunc
		want      int
		wantInErr string
	}{
		{"invalid", problem(400, "invalid", "lot name \"X\" must be ..."), ExitInvalid, "lot name"},
		{"too large", problem(413, "too-large", "too big"), ExitInvalid, "too big (HTTP 413)"},
		{"not found", problem(404, "not-found", "lot lot_x: not found"), ExitNotFound, "hallmark: lot lot_x: not found (HTTP 404)"},
		{"conflict", problem(409, "conflict", "exists"), ExitConflict, "exists"},
		{"denied", problem(403, "denied", "no"), ExitDenied, "no (HTTP 403)"},
		{"unauthenticated", problem(401, "unauthenticated", "bad token"), ExitDenied, "--token"},
		{"unavailable", problem(503, "unavailable", "busy"), ExitUnavailable, "busy"},
		{"internal", problem(500, "internal", "see the log"), ExitInternal, "see the log"},
		{"not owner", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(403)
			io.WriteString(w, `{"type":"https://hallmark.dev/problems/not-owner","title":"Not allowed","status":403,"detail":"cm-one owns this","stage":"manufacturing","duty":"issue","scope":"lot:lot_x","owner":"cm-one"}`)
		}, ExitDenied, "stage manufacturing, duty issue, scope lot:lot_x is owned by cm-one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeServer(t, map[string]http.HandlerFunc{"GET /v1/lots/{id}": tt.h})
			code, out, stderr := run(t, append([]string{"lot", "show", "lot_x"}, srv...)...)
			if code != tt.want || !strings.Contains(stderr, tt.wantInErr) || out != "" {
				t.Fatalf("exit %d (want %d), stdout %q, stderr:\n%s", code, tt.want, out, stderr)
			}
		})
	}
}

// TestTimeoutFlag: --timeout bounds a request; a server slower than it is an error, not a hang.
func TestTimeoutFlag(t *testing.T) {
	release := make(chan struct{})
	srv := fakeServer(t, map[string]http.HandlerFunc{"GET /v1/lots/{id}": func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		reply(200, `{"id":"lot_x","name":"x"}`)(w, r)
	}})
	defer close(release)
	code, out, stderr := run(t, append([]string{"lot", "show", "lot_x", "--timeout", "100ms"}, srv...)...)
	if code == ExitOK || out != "" || !strings.Contains(stderr, "Timeout") {
		t.Fatalf("a request past --timeout: exit %d, stdout %q, stderr:\n%s", code, out, stderr)
	}
}

func TestPrincipalTokenShownOnce(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/principals":             reply(201, `{"id":"prn_1","party_id":"acme","name":"bob","kind":"service","token":"hmk_SECRET"}`),
		"GET /v1/parties/{id}/principals": reply(200, `{"items":[{"id":"prn_1","party_id":"acme","name":"bob"}]}`),
	})
	code, out, _ := run(t, append([]string{"principal", "create", "--party", "acme", "--name", "bob", "--kind", "service"}, srv...)...)
	if code != 0 || !strings.Contains(out, "hmk_SECRET") || !strings.Contains(out, "shown only this once") {
		t.Fatalf("table: exit %d\n%s", code, out)
	}
	code, out, stderr := run(t, append([]string{"principal", "create", "--party", "acme", "--name", "bob", "-o", "id"}, srv...)...)
	if code != 0 || out != "prn_1\n" || !strings.Contains(stderr, "hmk_SECRET") {
		t.Fatalf("id: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, _ = run(t, append([]string{"principal", "list", "--party", "acme"}, srv...)...)
	if code != 0 || strings.Contains(out, "hmk_") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
}

func TestDeviceListPaging(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/devices": func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if q.Get("lot") != "lot_1" || q.Get("state") != "manufactured" || q.Get("limit") != "2" {
				t.Errorf("query %q", r.URL.RawQuery)
			}
			switch q.Get("after") {
			case "":
				reply(200, `{"items":[{"id":"dev_a"},{"id":"dev_b"}],"next_after":"dev_b"}`)(w, r)
			default:
				reply(200, `{"items":[{"id":"dev_c"}]}`)(w, r)
			}
		},
	})
	args := append([]string{"device", "list", "--lot", "lot_1", "--state", "manufactured", "--limit", "2", "-o", "id"}, srv...)
	code, out, stderr := run(t, args...)
	if code != 0 || out != "dev_a\ndev_b\n" || !strings.Contains(stderr, "--after dev_b") {
		t.Fatalf("one page: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, stderr = run(t, append(args, "--all")...)
	if code != 0 || out != "dev_a\ndev_b\ndev_c\n" || stderr != "" {
		t.Fatalf("--all: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestDeviceShow(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/devices/{id}": reply(200, `{"id":"dev_1","serial":"SN1","state":"in-custody","custodian_id":"distrib",
			"certificates":[{"serial":"5f3a","ca_id":"ca_2","profile":"idevid","state":"issued","not_before":"2026-01-01T00:00:00Z","not_after":"2046-01-01T00:00:00Z"}],
			"build_record":{"payloadType":"x"},
			"custody":[{"transfer_id":"tr_1","from_party_id":"acme","to_party_id":"distrib","at":"2026-02-01T00:00:00Z"}]}`),
	})
	code, out, stderr := run(t, append([]string{"device", "show", "dev_1"}, srv...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Device", "SN1", "Certificates", "5F3A", "idevid", "Custody", "tr_1", "distrib", "device build-record dev_1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFactoryIssue(t *testing.T) {
	dir := t.TempDir()
	csrDER := []byte{0x30, 0x03, 0x02, 0x01, 0x01}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csrFile := write("device.der", csrDER)
	recFile := write("build.json", []byte(`{"serial":"SN1"}`+"\n"))
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/lots/{id}/devices": func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				CSR         string          `json:"csr"`
				BuildRecord json.RawMessage `json:"build_record"`
			}
			json.NewDecoder(r.Body).Decode(&req)
			if r.PathValue("id") != "lot_1" || req.CSR != base64.StdEncoding.EncodeToString(csrDER) || string(req.BuildRecord) != `{"serial":"SN1"}` {
				t.Errorf("request lot=%s csr=%q record=%s", r.PathValue("id"), req.CSR, req.BuildRecord)
			}
			env := base64.StdEncoding.EncodeToString([]byte(`{"payloadType":"application/vnd.in-toto+json"}`))
			reply(201, `{"device":{"id":"dev_1","serial":"SN1","factory_certificate":"5f3a"},"certificate_pem":"CERT\n","chain_pem":"CHAIN\n","build_record":"`+env+`","build_record_sha256":"abcd"}`)(w, r)
		},
	})
	certOut, recOut := filepath.Join(dir, "out.pem"), filepath.Join(dir, "rec.json")
	code, out, stderr := run(t, append([]string{"factory", "issue", "--lot", "lot_1", "--csr", csrFile, "--record", recFile,
		"--cert-out", certOut, "--record-out", recOut}, srv...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"dev_1", "SN1", "5F3A", "abcd", "wrote certificate to " + certOut} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(certOut); string(b) != "CERT\n" {
		t.Errorf("cert file = %q", b)
	}
	if b, _ := os.ReadFile(recOut); string(b) != `{"payloadType":"application/vnd.in-toto+json"}` {
		t.Errorf("record file = %q", b)
	}
	code, out, _ = run(t, append([]string{"factory", "issue", "--lot", "lot_1", "--csr", csrFile, "--record", recFile, "-o", "id"}, srv...)...)
	if code != 0 || out != "dev_1\n" {
		t.Fatalf("-o id: exit %d, %q", code, out)
	}
	bad := write("bad.json", []byte("not json"))
	if code, _, _ := run(t, append([]string{"factory", "issue", "--lot", "lot_1", "--csr", csrFile, "--record", bad}, srv...)...); code != ExitInvalid {
		t.Fatalf("bad record: exit %d", code)
	}
}

func TestDevEnv(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dev.json"), []byte(`{"api_url":"https://127.0.0.1:8443","tls_ca_file":"`+filepath.Join(dir, "tls", "ca.pem")+`","token_file":"`+filepath.Join(dir, "tokens.json")+`","pid":1}`), 0o600)
	os.WriteFile(filepath.Join(dir, "tokens.json"), []byte(`{"acme/alice":"hmk_alice","distrib/dan":"hmk_it's"}`), 0o600)

	code, out, stderr := run(t, "dev", "env", "--data", dir, "--as", "acme/alice")
	want := "export HALLMARK_SERVER='https://127.0.0.1:8443'\nexport HALLMARK_TOKEN='hmk_alice'\nexport HALLMARK_CACERT='" + filepath.Join(dir, "tls", "ca.pem") + "'\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, stderr)
	}
	if _, out, _ := run(t, "dev", "env", "--data", dir, "--as", "distrib/dan"); !strings.Contains(out, `'hmk_it'\''s'`) {
		t.Errorf("quoting: %s", out)
	}
	code, out, _ = run(t, "dev", "env", "--data", dir)
	if code != 0 || !strings.Contains(out, "acme/alice") || !strings.Contains(out, "distrib/dan") || strings.Contains(out, "hmk_") {
		t.Fatalf("listing: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, "dev", "env", "--data", dir, "-o", "id"); code != 0 || out != "acme/alice\ndistrib/dan\n" {
		t.Fatalf("listing ids: exit %d %q", code, out)
	}
	if code, _, stderr := run(t, "dev", "env", "--data", dir, "--as", "acme/mallory"); code != ExitNotFound || !strings.Contains(stderr, "acme/alice") {
		t.Fatalf("unknown principal: exit %d, %s", code, stderr)
	}
	if code, _, _ := run(t, "dev", "env", "--data", filepath.Join(dir, "nope"), "--as", "acme/alice"); code != ExitNotFound {
		t.Fatalf("missing dir: exit %d", code)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version", "-o", "json")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Go == "" || v.Version == "" {
		t.Fatalf("exit %d: %s", code, out)
	}
}
