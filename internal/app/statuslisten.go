package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hallmark-id/hallmark/internal/config"
)

// StatusServer is the plain-HTTP listener that serves revocation status to relying parties:
// OCSP (GET and POST), CRLs and CA certificates (a.StatusHandler). RFC 5280 and RFC 6960 expect
// them over http://, signed as they are; a status fetch that needed TLS would depend on the
// status of the TLS certificate it is fetched over, and GnuTLS's ocsptool does not fetch
// https at all. The HTTPS listener keeps serving the same paths for certificates issued
// before this listener existed.
//
// It gets what the status paths get on the HTTPS listeners, less the TLS handshake gate and
// its per-source cap (there is no handshake): the same timeouts and header bound, no token,
// the status surface's admission limiter and body bounds (a shed OCSP request gets tryLater),
// and request metrics under listener "status_http".
type StatusServer struct {
	// URL is http://HOST:PORT, the address it listens on.
	URL  string
	srv  *http.Server
	done chan struct{}
}

// ServeStatus listens on addr and serves revocation status in the background until Close.
func (a *App) ServeStatus(addr string) (*StatusServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// The status surface's own admission limiter, as on the TLS listeners.
	h := a.mountStatus(http.NewServeMux())
	s := &StatusServer{URL: "http://" + ln.Addr().String(), done: make(chan struct{}), srv: &http.Server{
		Handler:           a.Metrics.Instrument("status_http", h, nil),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("status: serving plain HTTP", "err", err)
		}
	}()
	return s, nil
}

// Close stops the listener, letting requests in progress finish for up to 5 s.
func (s *StatusServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// serveConfiguredStatus starts the plain-HTTP status listener when cfg names one (nil when
// not; the caller closes it) and returns the base URL certificates are to carry:
// status.base_url, or public_url (https, on the API listener) when the configuration has
// neither.
func (a *App) serveConfiguredStatus(cfg *config.Config) (*StatusServer, string, error) {
	var ss *StatusServer
	if cfg.Status.HTTPListen != "" {
		var err error
		if ss, err = a.ServeStatus(cfg.Status.HTTPListen); err != nil {
			return nil, "", fmt.Errorf("status: listen: %w", err)
		}
		a.Log.Info("serving", "status", ss.URL, "status_base_url", cfg.Status.BaseURL)
	}
	if cfg.Status.BaseURL != "" {
		return ss, cfg.Status.BaseURL, nil
	}
	a.Log.Warn("status: certificates carry https OCSP and CRL URLs on the API listener; set status.http_listen for plain http (docs/revocation-status.md)", "public_url", cfg.PublicURL)
	return ss, cfg.PublicURL, nil
}
