// Package metrics exposes the server's Prometheus metrics (docs/operations.md, *Metrics*): HTTP
// requests per listener and route, the admission limiter, leadership, the audit tree, committed
// audit events and issued certificates, and the Go runtime and process collectors.
//
// Invariants:
//   - Every metric lives in a private registry per Registry; nothing is registered globally,
//     so several servers in one process (tests, replicas) keep their own counts.
//   - Label values are bounded: routes are ServeMux patterns (never raw paths), methods
//     outside the standard set are "OTHER", actions and profiles come from the code.
//   - A scrape never queries the database more than once per refresh interval
//     (State.AuditRefresh); everything else is read from memory.
//
// Core and service packages do not import this package or Prometheus; they offer read-only
// accessors that the collectors here call at scrape time.
package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where Handler is served.
const Path = "/metrics"

// Registry holds one server's metrics. It is safe for concurrent use.
type Registry struct {
	reg      *prometheus.Registry
	log      *slog.Logger
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
	events   *prometheus.CounterVec
	issued   *prometheus.CounterVec
	// makerFetches counts fetches of other makers' CRLs and OCSP answers (makers.go).
	makerFetches *prometheus.CounterVec
}

// New returns a Registry with the Go runtime and process collectors and the HTTP, audit and
// issuance metrics registered; Watch adds the state read at scrape time.
func New(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.Default()
	}
	m := &Registry{reg: prometheus.NewRegistry(), log: log}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hallmark_http_requests_total",
		Help: "HTTP requests answered, by listener, method, route (the ServeMux pattern) and status code.",
	}, []string{"listener", "method", "route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hallmark_http_request_duration_seconds",
		Help:    "Time from the request's arrival at the handler to the end of its answer, by listener, method and route.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"listener", "method", "route"})
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hallmark_http_requests_in_flight",
		Help: "HTTP requests being served now, by listener.",
	}, []string{"listener"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hallmark_audit_events_total",
		Help: "Audit events committed by this process, by action.",
	}, []string{"action"})
	m.issued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hallmark_certificates_issued_total",
		Help: "End-entity certificates issued by this process (counted from their committed audit events), by profile.",
	}, []string{"profile"})
	m.makerFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hallmark_maker_status_fetches_total",
		Help: "Fetches of the CRLs and OCSP answers of makers that do not run Hallmark, by kind (crl, ocsp) and outcome (ok, stale, bad_signature, oversized, unreachable, parse_error, invalid, responder_error).",
	}, []string{"kind", "outcome"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.inFlight, m.events, m.issued, m.makerFetches,
	)
	for _, p := range issuedProfiles {
		m.issued.WithLabelValues(p) // present at 0 from the start, so rate() sees the first one
	}
	return m
}

// Register adds a collector to the registry.
func (m *Registry) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// Gatherer is the registry, for tests and for pushing elsewhere.
func (m *Registry) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry in the Prometheus text format (or OpenMetrics, when asked).
// At most four scrapes run at once, each bounded to ten seconds.
func (m *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		Registry:            m.reg,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
		EnableOpenMetrics:   true,
	})
}
