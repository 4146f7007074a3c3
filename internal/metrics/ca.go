package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hallmark-id/hallmark/internal/ca"
)

// CA expiry (docs/rotation.md): per CA, the seconds until its certificate ends and whether it
// is still in service, so that alerts fire at the report's thresholds (90, 30 and 7 days) only
// for CAs nobody replaced. The list of CAs is read at most once per refresh interval; the
// seconds are computed at each scrape from the list read last.

var (
	descCAExpiry = prometheus.NewDesc("hallmark_ca_expiry_seconds",
		"Seconds until the CA's certificate ends (negative once it has), by CA; alert below 90, 30 and 7 days where hallmark_ca_in_service is 1.",
		[]string{"ca_id", "name", "party", "stage", "role"}, nil)
	descCAInService = prometheus.NewDesc("hallmark_ca_in_service",
		"1 for a CA in service (active, or an anchor): its expiry needs a successor; 0 for a CA succeeded, retired or expired.",
		[]string{"ca_id", "name", "party", "stage", "role"}, nil)
)

// CAState is what the CA collector reads.
type CAState struct {
	// List returns every CA; it may read the store.
	List func(context.Context) ([]ca.CA, error)
	// Refresh is the least time between two calls of List (default 60s).
	Refresh time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// WatchCAs registers the CA expiry gauges over s.
func (m *Registry) WatchCAs(s CAState) error {
	if s.Refresh <= 0 {
		s.Refresh = time.Minute
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return m.reg.Register(&caCollector{s: s})
}

type caCollector struct {
	s CAState

	mu   sync.Mutex
	at   time.Time // when List was last called
	list []ca.CA
	ok   bool // the last call succeeded
}

func (c *caCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCAExpiry
	ch <- descCAInService
}

func (c *caCollector) Collect(ch chan<- prometheus.Metric) {
	list, ok := c.cas()
	if !ok {
		return
	}
	now := c.s.Now()
	for _, x := range list {
		if x.Cert == nil {
			continue
		}
		labels := []string{x.ID, x.Name, x.PartyID, x.Stage, string(x.Role)}
		ch <- prometheus.MustNewConstMetric(descCAExpiry, prometheus.GaugeValue, x.Cert.NotAfter.Sub(now).Seconds(), labels...)
		in := 0.0
		if x.InService(now) {
			in = 1
		}
		ch <- prometheus.MustNewConstMetric(descCAInService, prometheus.GaugeValue, in, labels...)
	}
}

// cas returns the CAs, calling List when the list is older than Refresh; concurrent scrapes
// wait for one call. While List fails, no CA is reported.
func (c *caCollector) cas() ([]ca.CA, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) >= c.s.Refresh {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		list, err := c.s.List(ctx)
		cancel()
		c.at, c.ok = time.Now(), err == nil
		if err == nil {
			c.list = list
		}
	}
	return c.list, c.ok
}
