package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hallmark-id/hallmark/internal/leader"
)

// Leader says whether this replica leads; *leader.Elector implements it.
type Leader interface {
	Current() (leader.Term, bool)
}

// State is what the collectors read at scrape time; nil fields are left out. The admission
// limiters and handshake gates are per listener: WatchAdmission, WatchHandshakes.
type State struct {
	// Leader is the election of the replica that signs CRLs and checkpoints.
	Leader Leader
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
	if c.s.Leader != nil {
		ch <- descLeader
	}
	if c.s.AuditSize != nil {
		ch <- descAuditLeaves
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
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
