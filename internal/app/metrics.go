package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/est"
	"github.com/hallmark-id/hallmark/internal/metrics"
)

// MetricsServer is the plain-HTTP listener that serves a.Metrics at /metrics. It is apart
// from the API: Prometheus scrapes it without a token or TLS, so it belongs on loopback or a
// management network.
type MetricsServer struct {
	// URL is http://HOST:PORT/metrics.
	URL  string
	srv  *http.Server
	done chan struct{}
}

// ServeMetrics listens on addr and serves the metrics in the background until Close; with
// pprof, Go's profiles too, under /debug/pprof/.
func (a *App) ServeMetrics(addr string, pprof bool) (*MetricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+metrics.Path, a.Metrics.Handler())
	if pprof {
		mux.HandleFunc("/debug/pprof/", httppprof.Index) // heap, goroutine, allocs, block, mutex, ...
		mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	}
	s := &MetricsServer{URL: "http://" + ln.Addr().String() + metrics.Path, done: make(chan struct{}), srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}}
	go func() {
		defer close(s.done)
		// A failed metrics listener is logged; the CA keeps serving.
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("metrics: serving", "err", err)
		}
	}()
	return s, nil
}

// Close stops the listener, letting scrapes in progress finish for up to 5 s.
func (s *MetricsServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// estRoute names an EST request by its operation (RFC 7030 section 3.2.2), never by its
// label: "/.well-known/est/{label}/simpleenroll", "/.well-known/est/cacerts"; "unmatched" for
// anything else.
func estRoute(r *http.Request) string {
	switch r.URL.Path {
	case "/.well-known/brski/requestvoucher", "/.well-known/brski/voucher_status", "/.well-known/brski/enrollstatus":
		return r.URL.Path // BRSKI in front of EST (docs/brski.md)
	}
	rest, ok := strings.CutPrefix(r.URL.Path, est.PathPrefix+"/")
	if !ok {
		return "unmatched"
	}
	label := ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		label, rest = "{label}/", rest[i+1:]
	}
	switch rest {
	case "cacerts", "csrattrs", "simpleenroll", "simplereenroll", "serverkeygen", "fullcmc":
		return est.PathPrefix + "/" + label + rest
	}
	return "unmatched"
}
