package cli

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pendingReorigin = `{"id":"apr-7","kind":"reorigin","state":"pending","requester_party":"contoso","requester_principal":"prn_oscar",
	"approver_party":"contoso","scope":"environment:env_1","subject":"device:dev_1","reason":"secure element replaced","approvers":1,"other_party":false,
	"decisions":[],"created_at":"2026-11-01T00:00:00Z","expires_at":"2026-11-04T00:00:00Z"}`

// TestDeviceReoriginWaitsForApproval: hallmark device reorigin sends the certificate file as
// it is and the reason, and shows the approval the request waits for; -o id prints its ID.
func TestDeviceReoriginWaitsForApproval(t *testing.T) {
	dir := t.TempDir()
	_, _, certFile, certPEM := testKey(t, dir, "idevid-new", "ecdsa")
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/devices/{id}/origin": func(w http.ResponseWriter, r *http.Request) {
			b := decodeBody(t, r)
			if r.PathValue("id") != "dev_1" || b["certificate"] != string(certPEM) || b["reason"] != "secure element replaced" || len(b) != 2 {
				t.Errorf("reorigin %s %v", r.PathValue("id"), b)
			}
			reply(202, `{"device":{"id":"dev_1","serial":"AS-1","state":"active","environment_id":"env_1"},"approval":`+pendingReorigin+`}`)(w, r)
		},
	})
	args := []string{"device", "reorigin", "dev_1", "--cert", certFile, "--reason", "secure element replaced"}
	code, out, stderr := run(t, append(args, srv...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"dev_1", "active", "apr-7", "pending (0 of 1 approvals by contoso", "hallmark approval approve apr-7"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, out, _ := run(t, append(append(args, "-o", "id"), srv...)...); code != 0 || out != "apr-7\n" {
		t.Fatalf("-o id: exit %d %q", code, out)
	}
	code, out, _ = run(t, append(append(args, "-o", "json"), srv...)...)
	var res struct {
		Device   struct{ ID string }
		Approval struct{ ID, Kind string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Device.ID != "dev_1" || res.Approval.Kind != "reorigin" {
		t.Fatalf("-o json: exit %d %s", code, out)
	}
}

// TestDeviceReoriginUsage: the certificate and the reason are required, and an unreadable
// certificate file is refused before anything is sent.
func TestDeviceReoriginUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.pem")
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("the missing file exists")
	}
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"without certificate", []string{"device", "reorigin", "dev_1", "--reason", "r"}, ExitUsage},
		{"without reason", []string{"device", "reorigin", "dev_1", "--cert", missing}, ExitUsage},
		{"without device", []string{"device", "reorigin", "--cert", missing, "--reason", "r"}, ExitUsage},
		{"unreadable certificate", []string{"device", "reorigin", "dev_1", "--cert", missing, "--reason", "r"}, ExitInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, stderr := run(t, tt.args...); code != tt.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
		})
	}
}
