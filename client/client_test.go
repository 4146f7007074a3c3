package client

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// newServer starts a TLS server and a client that trusts it through a CA file, as the CLI does.
func newServer(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(srv.URL+"/v1/", "hmk_secret", WithCAFile(caFile))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBearerAndListDecoding(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer hmk_secret" {
			t.Errorf("Authorization = %q", got)
		}
		if r.URL.Path != "/v1/models" || r.URL.Query().Get("manufacturer") != "acme" {
			t.Errorf("request %s", r.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"items":[{"id":"mdl_1","manufacturer_id":"acme","name":"sensor-x"},{"id":"mdl_2","name":"b"}]}`)
	})
	ms, err := c.ListModels(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != "mdl_1" || ms[0].ManufacturerID != "acme" || ms[1].Name != "b" {
		t.Fatalf("models = %+v", ms)
	}
}

func TestEmptyListIsNotNil(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"items":null}`) })
	ps, err := c.ListParties(context.Background())
	if err != nil || ps == nil || len(ps) != 0 {
		t.Fatalf("ListParties = %v, %v", ps, err)
	}
}

func TestDevicePaging(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("after") {
		case "":
			if r.URL.Query().Get("limit") != "2" || r.URL.Query().Get("lot") != "lot_1" {
				t.Errorf("query %s", r.URL.RawQuery)
			}
			io.WriteString(w, `{"items":[{"id":"dev_a"},{"id":"dev_b"}],"next_after":"dev_b"}`)
		case "dev_b":
			io.WriteString(w, `{"items":[{"id":"dev_c"}]}`)
		default:
			t.Errorf("after=%s", r.URL.Query().Get("after"))
		}
	})
	p, err := c.ListDevices(context.Background(), DeviceFilter{Lot: "lot_1", Limit: 2})
	if err != nil || p.NextAfter != "dev_b" || len(p.Items) != 2 {
		t.Fatalf("page = %+v, %v", p, err)
	}
	all, err := c.AllDevices(context.Background(), DeviceFilter{Lot: "lot_1", Limit: 2})
	if err != nil || len(all) != 3 || all[2].ID != "dev_c" {
		t.Fatalf("all = %+v, %v", all, err)
	}
}

func TestProblemDecoding(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		ctype      string
		body       string
		kind       failure.Kind
		msg        string
		wantOwner  string
		isNotOwner bool
	}{
		{"not found", 404, "application/problem+json",
			`{"type":"https://hallmark.dev/problems/not-found","title":"Not found","status":404,"detail":"transfer tr_1: not found"}`,
			failure.NotFound, "transfer tr_1: not found (HTTP 404)", "", false},
		{"not owner", 403, "application/problem+json",
			`{"type":"https://hallmark.dev/problems/not-owner","title":"Not allowed","status":403,"detail":"acme owns manufacturing/issue on lot:lot_1","stage":"manufacturing","duty":"issue","scope":"lot:lot_1","owner":"acme"}`,
			failure.Denied, "acme owns manufacturing/issue on lot:lot_1 (HTTP 403)", "acme", true},
		{"unauthenticated", 401, "application/problem+json",
			`{"type":"https://hallmark.dev/problems/unauthenticated","title":"Authentication required","status":401}`,
			failure.Unauthenticated, "Authentication required (HTTP 401)", "", false},
		{"conflict", 409, "application/problem+json; charset=utf-8",
			`{"type":"https://hallmark.dev/problems/conflict","status":409,"detail":"exists"}`,
			failure.Conflict, "exists (HTTP 409)", "", false},
		{"internal", 500, "application/problem+json",
			`{"type":"https://hallmark.dev/problems/internal","status":500,"detail":"see log"}`,
			failure.Unclassified, "see log (HTTP 500)", "", false},
		{"plain text by status", 404, "text/plain", "404 page not found\n",
			failure.NotFound, "404 page not found (HTTP 404)", "", false},
		{"unavailable", 503, "", "",
			failure.Unavailable, "Service Unavailable (HTTP 503)", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := c.GetTransfer(context.Background(), "tr_1")
			var p *api.Problem
			if !errors.As(err, &p) {
				t.Fatalf("error %v (%T) is not a *Problem", err, err)
			}
			if got := failure.KindOf(err); got != tt.kind {
				t.Errorf("kind = %v, want %v", got, tt.kind)
			}
			if err.Error() != tt.msg {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.msg)
			}
			if p.Owner != tt.wantOwner || p.NotOwner() != tt.isNotOwner {
				t.Errorf("owner = %q, not-owner = %v", p.Owner, p.NotOwner())
			}
			if tt.isNotOwner && (p.Stage != "manufacturing" || p.Duty != "issue" || p.Scope != "lot:lot_1") {
				t.Errorf("cell = %s/%s/%s", p.Stage, p.Duty, p.Scope)
			}
		})
	}
}

// TestShedProblemCarriesRetryAfter: a 503 with Retry-After says when to come back; other
// problems say nothing.
func TestShedProblemCarriesRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		header string
		want   time.Duration
	}{{"45", 45 * time.Second}, {"", 0}, {"Wed, 21 Oct 2026 07:28:00 GMT", 0}, {"-3", 0}} {
		c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if tt.header != "" {
				w.Header().Set("Retry-After", tt.header)
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(503)
			io.WriteString(w, `{"type":"https://hallmark.dev/problems/unavailable","status":503,"detail":"busy"}`)
		})
		_, err := c.GetTransfer(context.Background(), "tr_1")
		var p *api.Problem
		if !errors.As(err, &p) || p.RetryAfter != tt.want {
			t.Errorf("Retry-After %q: got %v (%v), want %s", tt.header, p, err, tt.want)
		}
	}
}

func TestRawBodiesAndPaths(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && r.URL.EscapedPath() == "/v1/devices/dev_1/certificates/ab01":
			io.WriteString(w, "-----BEGIN CERTIFICATE-----\n")
		case r.Method == "POST" && r.URL.Path == "/v1/transfers/tr_1/refuse":
			io.WriteString(w, `{"id":"tr_1","state":"refused"}`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(500)
		}
	})
	b, err := c.DeviceCertificate(context.Background(), "dev_1", "ab01")
	if err != nil || string(b) != "-----BEGIN CERTIFICATE-----\n" {
		t.Fatalf("cert = %q, %v", b, err)
	}
	tr, err := c.DecideTransfer(context.Background(), "tr_1", api.TransferRefuse)
	if err != nil || tr.State != "refused" {
		t.Fatalf("transfer = %+v, %v", tr, err)
	}
}

func TestUntrustedServerAndUnreachable(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	c, err := New(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Whoami(context.Background())
	if err == nil || failure.KindOf(err) != failure.Unclassified || !errors.Is(err, ErrUntrustedServer) {
		t.Fatalf("untrusted server: %v (kind %v)", err, failure.KindOf(err))
	}
	url := srv.URL
	srv.Close()
	c, _ = New(url, "")
	if _, err := c.Whoami(context.Background()); failure.KindOf(err) != failure.Unavailable {
		t.Fatalf("closed server: %v (kind %v)", err, failure.KindOf(err))
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8443", "ftp://x", "https://"} {
		if _, err := New(u, ""); failure.KindOf(err) != failure.Invalid {
			t.Errorf("New(%q) = %v", u, err)
		}
	}
}
