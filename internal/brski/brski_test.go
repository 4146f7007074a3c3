package brski

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/brski/voucher"
)

// unreached fails the test if a handler lets a request through to the decision.
type unreached struct{ t *testing.T }

func (u unreached) RequestVoucher(context.Context, string, []byte, []*x509.Certificate) ([]byte, string, error) {
	u.t.Error("the registrar was asked")
	return nil, "", nil
}

func (u unreached) Telemetry(context.Context, string, []byte, []*x509.Certificate) error {
	u.t.Error("the registrar was asked")
	return nil
}

// TestHandlerRefusesBeforeDeciding: the wrong media type, an oversized body, another method
// and an unknown operation are answered by the handler itself, over real TLS on loopback.
func TestHandlerRefusesBeforeDeciding(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewTLSServer(RegistrarHandler(unreached{t}, log))
	defer srv.Close()
	hc := srv.Client()
	for _, tc := range []struct {
		name, method, path, media string
		body                      []byte
		want                      int
	}{
		{"wrong media type", "POST", "/requestvoucher", "application/json", []byte("{}"), http.StatusUnsupportedMediaType},
		{"too large", "POST", "/requestvoucher", voucher.MediaJWS, bytes.Repeat([]byte("a"), voucher.MaxSize+1), http.StatusRequestEntityTooLarge},
		{"GET", "GET", "/requestvoucher", "", nil, http.StatusNotFound},
		{"unknown operation", "POST", "/requestauditlog", voucher.MediaJWS, []byte("{}"), http.StatusNotFound},
		{"status not JSON", "POST", "/voucher_status", "text/plain", []byte("ok"), http.StatusUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+PathPrefix+tc.path, bytes.NewReader(tc.body))
			if tc.media != "" {
				req.Header.Set("Content-Type", tc.media)
			}
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || len(b) == 0 {
				t.Fatalf("%d %q %q, want %d with a text reason", res.StatusCode, res.Header.Get("Content-Type"), b, tc.want)
			}
		})
	}
}
