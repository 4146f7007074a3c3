package cli

import (
	"net/http"
	"strings"
	"testing"
)

func TestTransferDevicesPaging(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/transfers/tr_1/devices": func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if q.Get("limit") != "2" {
				t.Errorf("query %q", r.URL.RawQuery)
			}
			switch q.Get("after") {
			case "":
				reply(200, `{"items":["dev_a","dev_b"],"next_after":"dev_b"}`)(w, r)
			case "dev_b":
				reply(200, `{"items":["dev_c"]}`)(w, r)
			default:
				t.Errorf("after %q", q.Get("after"))
			}
		},
	})
	args := append([]string{"transfer", "devices", "tr_1", "--limit", "2", "-o", "id"}, srv...)
	code, out, stderr := run(t, args...)
	if code != 0 || out != "dev_a\ndev_b\n" || !strings.Contains(stderr, "--after dev_b") {
		t.Fatalf("one page: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, stderr = run(t, append(args, "--all")...)
	if code != 0 || out != "dev_a\ndev_b\ndev_c\n" || stderr != "" {
		t.Fatalf("--all: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, _ = run(t, append([]string{"transfer", "devices", "tr_1", "--after", "dev_b", "--limit", "2"}, srv...)...)
	if code != 0 || !strings.Contains(out, "DEVICE") || !strings.Contains(out, "dev_c") {
		t.Fatalf("table: exit %d, stdout %q", code, out)
	}
	if code, _, _ := run(t, append([]string{"transfer", "devices", "tr_1", "--limit", "1001"}, srv...)...); code != ExitUsage {
		t.Errorf("--limit 1001: exit %d, want %d", code, ExitUsage)
	}
}

func TestTransferShowCount(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/transfers/tr_1": reply(200, `{"id":"tr_1","from_party_id":"acme","to_party_id":"distrib","state":"offered","device_count":1000000,
			"offered_by":"alice","offered_at":"2026-02-01T00:00:00Z"}`),
		"GET /v1/transfers": reply(200, `{"items":[{"id":"tr_1","from_party_id":"acme","to_party_id":"distrib","state":"offered","device_count":1000000,
			"offered_by":"alice","offered_at":"2026-02-01T00:00:00Z"}]}`),
	})
	code, out, stderr := run(t, append([]string{"transfer", "show", "tr_1"}, srv...)...)
	if code != 0 || !strings.Contains(out, "Devices") || !strings.Contains(out, "1000000") {
		t.Fatalf("show: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, stderr = run(t, append([]string{"transfer", "list"}, srv...)...)
	if code != 0 || !strings.Contains(out, "1000000") {
		t.Fatalf("list: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}
