package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hallmark-id/hallmark/internal/admission"
	"github.com/hallmark-id/hallmark/internal/leader"
)

// Leader says whether this replica leads; *leader.Elector implements it.
type Leader interface {
	Current() (leader.Term, bool)
}

// Handshakes reports on the bound of TLS handshakes in flight (limits.tls_handshakes).
type Handshakes interface {
	InFlight() int
	Limit() int
	Failures() map[string]int64 // by reason
}

// State is what the collectors read at scrape time; nil fields are left out.
type State struct {
	// Admission is the limiter that API writes and EST enrollments share.
	Admission *admission.Limiter
	// Leader is the election of the replica that signs CRLs and checkpoints.
	Leader Leader
	// Handshakes is the bound on TLS handshakes in flight.
	Handshakes Handshakes
	// AuditSize returns the number of leaves of the audit tree; it may read the store.
	AuditSize func(context.Context) (uint64, error)
	// AuditRefresh is the least time between two calls of AuditSize (default 30s); scrapes
	// in between get the value read last.
	AuditRefresh time.Duration
}

// Watch registers the collectors of s.
func (m *Registry) Watch(s State) error {
	if s.AuditRefresh <= 0 {
		s.AuditRefresh = 30 * time.Second
	}
	return m.reg.Register(&stateCollector{s: s})
}

var (
	descInFlight = prometheus.NewDesc("hallmark_admission_in_flight_requests",
		"Admitted requests (API writes and EST enrollments) holding a slot now.", nil, nil)
	descQueued = prometheus.NewDesc("hallmark_admission_queued_requests",
		"Requests waiting for an admission slot now.", nil, nil)
	descSlots = prometheus.NewDesc("hallmark_admission_slots",
		"Admission slots (limits.slots): how many admitted requests may run at once.", nil, nil)
	descQueueLimit = prometheus.NewDesc("hallmark_admission_queue_limit",
		"How many requests may wait for a slot (limits.queue).", nil, nil)
	descAdmitted = prometheus.NewDesc("hallmark_admission_admitted_requests_total",
		"Requests admitted into a slot.", nil, nil)
	descRetryAfter = prometheus.NewDesc("hallmark_admission_retry_after_seconds",
		"What a request shed now is told to wait: limits.retry_after, growing with the backlog up to limits.max_retry_after.", nil, nil)
	descShed = prometheus.NewDesc("hallmark_admission_shed_requests_total",
		"Requests shed with 503 and Retry-After because every slot and queue place was taken or the wait ran out.", nil, nil)
	descHandshakes = prometheus.NewDesc("hallmark_tls_handshakes_in_flight",
		"TLS handshakes under way on all listeners; at the limit, new connections wait in the kernel's accept queue.", nil, nil)
	descHandshakeLimit = prometheus.NewDesc("hallmark_tls_handshake_limit",
		"The bound on TLS handshakes in flight (limits.tls_handshakes).", nil, nil)
	descHandshakeFailed = prometheus.NewDesc("hallmark_tls_handshake_failures_total",
		"TLS handshakes that failed, by reason: timeout (not done in 10 s), client_closed, client_certificate (did not verify), protocol.", []string{"reason"}, nil)
	descLeader = prometheus.NewDesc("hallmark_leader",
		"1 when this replica holds the signing lease (signs CRLs and interval audit checkpoints), else 0.", nil, nil)
	descAuditLeaves = prometheus.NewDesc("hallmark_audit_tree_leaves",
		"Leaves (audit events) in the audit Merkle tree, read from the store at most once per refresh interval; absent while the store cannot be read.", nil, nil)
)

// stateCollector reads State at scrape time.
type stateCollector struct {
	s State

	mu        sync.Mutex
	auditAt   time.Time // when AuditSize was last called
	auditSize uint64
	auditOK   bool // the last call succeeded
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.s.Admission != nil {
		for _, d := range []*prometheus.Desc{descInFlight, descQueued, descSlots, descQueueLimit, descAdmitted, descShed, descRetryAfter} {
			ch <- d
		}
	}
	if c.s.Leader != nil {
		ch <- descLeader
	}
	if c.s.Handshakes != nil {
		ch <- descHandshakes
		ch <- descHandshakeLimit
		ch <- descHandshakeFailed
	}
	if c.s.AuditSize != nil {
		ch <- descAuditLeaves
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if l := c.s.Admission; l != nil {
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(l.InFlight()))
		ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(l.Queued()))
		ch <- prometheus.MustNewConstMetric(descSlots, prometheus.GaugeValue, float64(l.Slots()))
		ch <- prometheus.MustNewConstMetric(descQueueLimit, prometheus.GaugeValue, float64(l.QueueLimit()))
		ch <- prometheus.MustNewConstMetric(descAdmitted, prometheus.CounterValue, float64(l.Admitted.Load()))
		ch <- prometheus.MustNewConstMetric(descShed, prometheus.CounterValue, float64(l.Shed.Load()))
		ch <- prometheus.MustNewConstMetric(descRetryAfter, prometheus.GaugeValue, l.RetryAfter().Seconds())
	}
	if h := c.s.Handshakes; h != nil {
		ch <- prometheus.MustNewConstMetric(descHandshakes, prometheus.GaugeValue, float64(h.InFlight()))
		ch <- prometheus.MustNewConstMetric(descHandshakeLimit, prometheus.GaugeValue, float64(h.Limit()))
		for reason, n := range h.Failures() {
			ch <- prometheus.MustNewConstMetric(descHandshakeFailed, prometheus.CounterValue, float64(n), reason)
		}
	}
	if c.s.Leader != nil {
		v := 0.0
		if _, ok := c.s.Leader.Current(); ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, v)
	}
	if c.s.AuditSize != nil {
		if n, ok := c.auditLeaves(); ok {
			ch <- prometheus.MustNewConstMetric(descAuditLeaves, prometheus.GaugeValue, float64(n))
		}
	}
}

// auditLeaves returns the audit tree's size, calling AuditSize when the value is older than
// AuditRefresh. Concurrent scrapes wait for one call rather than each making their own.
func (c *stateCollector) auditLeaves() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.auditAt.IsZero() || time.Since(c.auditAt) >= c.s.AuditRefresh {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		n, err := c.s.AuditSize(ctx)
		cancel()
		c.auditAt, c.auditOK = time.Now(), err == nil
		if err == nil {
			c.auditSize = n
		}
	}
	return c.auditSize, c.auditOK
}
