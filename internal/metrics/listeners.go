package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hallmark-id/hallmark/internal/admission"
)

// Handshakes reports on the handshake gate of one listener (limits.tls_handshakes and the
// bounds on connections that have not yet sent their ClientHello).
type Handshakes interface {
	InFlight() int              // handshakes under way
	Limit() int                 // the bound on them
	Queued() int                // connections with a ClientHello, waiting for a slot
	Idle() int                  // connections waiting for their ClientHello
	PerSource() int             // the bound on one source's connections
	Failures() map[string]int64 // connections closed before their handshake completed, by reason
}

// WatchAdmission shows the admission limiter of one surface ("api", "est", "status") under
// the label listener.
func (m *Registry) WatchAdmission(listener string, l *admission.Limiter) error {
	c := &admissionCollector{l: l}
	lbl := prometheus.Labels{"listener": listener}
	c.inFlight = prometheus.NewDesc("hallmark_admission_in_flight_requests", "Admitted requests holding a slot now.", nil, lbl)
	c.queued = prometheus.NewDesc("hallmark_admission_queued_requests", "Requests waiting for an admission slot now.", nil, lbl)
	c.slots = prometheus.NewDesc("hallmark_admission_slots", "Admission slots (limits.slots): how many admitted requests may run at once.", nil, lbl)
	c.queueLimit = prometheus.NewDesc("hallmark_admission_queue_limit", "How many requests may wait for a slot (limits.queue).", nil, lbl)
	c.admitted = prometheus.NewDesc("hallmark_admission_admitted_requests_total", "Requests admitted into a slot.", nil, lbl)
	c.retryAfter = prometheus.NewDesc("hallmark_admission_retry_after_seconds",
		"What a request shed now is told to wait: limits.retry_after, growing with the backlog up to limits.max_retry_after.", nil, lbl)
	c.shed = prometheus.NewDesc("hallmark_admission_shed_requests_total",
		"Requests shed with 503 and Retry-After, by reason: capacity (every slot and queue place taken, or the wait ran out), body_memory (limits.body_memory held by bodies being read).", []string{"reason"}, lbl)
	c.bodyRefused = prometheus.NewDesc("hallmark_admission_body_refusals_total",
		"Requests whose body was refused before admission, by reason: timeout (not read within limits.body_timeout: 408), too_large (413), broken (the client went away or sent bad chunks: 400).", []string{"reason"}, lbl)
	c.bodyBytes = prometheus.NewDesc("hallmark_admission_body_bytes", "Bytes of request bodies read before admission and held now.", nil, lbl)
	c.bodyMemory = prometheus.NewDesc("hallmark_admission_body_memory_bytes", "The bound on those bytes (limits.body_memory).", nil, lbl)
	return m.reg.Register(c)
}

type admissionCollector struct {
	l                                                         *admission.Limiter
	inFlight, queued, slots, queueLimit, admitted, retryAfter *prometheus.Desc
	shed, bodyRefused, bodyBytes, bodyMemory                  *prometheus.Desc
}

func (c *admissionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inFlight, c.queued, c.slots, c.queueLimit, c.admitted, c.retryAfter, c.shed, c.bodyRefused, c.bodyBytes, c.bodyMemory} {
		ch <- d
	}
}

func (c *admissionCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.l
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	counter := func(d *prometheus.Desc, v int64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	gauge(c.inFlight, float64(l.InFlight()))
	gauge(c.queued, float64(l.Queued()))
	gauge(c.slots, float64(l.Slots()))
	gauge(c.queueLimit, float64(l.QueueLimit()))
	counter(c.admitted, l.Admitted.Load())
	gauge(c.retryAfter, l.RetryAfter().Seconds())
	mem := l.ShedMemory.Load()
	counter(c.shed, l.Shed.Load()-mem, "capacity")
	counter(c.shed, mem, "body_memory")
	counter(c.bodyRefused, l.BodyTimeouts.Load(), "timeout")
	counter(c.bodyRefused, l.BodyTooLarge.Load(), "too_large")
	counter(c.bodyRefused, l.BodyBroken.Load(), "broken")
	gauge(c.bodyBytes, float64(l.BodyBytes()))
	gauge(c.bodyMemory, float64(l.BodyMemory()))
}

// WatchHandshakes shows the handshake gate of one listener under the label listener.
func (m *Registry) WatchHandshakes(listener string, h Handshakes) error {
	c := &handshakeCollector{h: h}
	lbl := prometheus.Labels{"listener": listener}
	c.inFlight = prometheus.NewDesc("hallmark_tls_handshakes_in_flight", "TLS handshakes under way; at the limit, connections with a ClientHello wait for a slot.", nil, lbl)
	c.limit = prometheus.NewDesc("hallmark_tls_handshake_limit", "The bound on TLS handshakes in flight (limits.tls_handshakes).", nil, lbl)
	c.queued = prometheus.NewDesc("hallmark_tls_handshakes_queued", "Connections that sent their ClientHello and wait for a handshake slot.", nil, lbl)
	c.idle = prometheus.NewDesc("hallmark_tls_connections_awaiting_hello",
		"Connections accepted that have not yet sent a whole ClientHello; they hold no handshake slot and are closed after limits.tls_hello_timeout.", nil, lbl)
	c.perSource = prometheus.NewDesc("hallmark_tls_per_source_limit", "The bound on one source's connections at once (limits.per_source_connections).", nil, lbl)
	c.failed = prometheus.NewDesc("hallmark_tls_handshake_failures_total",
		"Connections closed before their TLS handshake completed, by reason: timeout, client_closed, client_certificate, protocol, unknown_issuer (EST: a client certificate of no known CA), hello_timeout, idle_evicted, source_cap (refused at once: limits.per_source_connections).", []string{"reason"}, lbl)
	return m.reg.Register(c)
}

type handshakeCollector struct {
	h                                                Handshakes
	inFlight, limit, queued, idle, perSource, failed *prometheus.Desc
}

func (c *handshakeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inFlight, c.limit, c.queued, c.idle, c.perSource, c.failed} {
		ch <- d
	}
}

func (c *handshakeCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(h.InFlight()))
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(h.Limit()))
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(h.Queued()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(h.Idle()))
	ch <- prometheus.MustNewConstMetric(c.perSource, prometheus.GaugeValue, float64(h.PerSource()))
	for reason, n := range h.Failures() {
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(n), reason)
	}
}
