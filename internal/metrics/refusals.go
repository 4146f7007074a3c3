package metrics

import "github.com/prometheus/client_golang/prometheus"

// Refusals reports the refusals of authenticated callers; *refusals.Recorder implements it.
type Refusals interface {
	// Counts returns the refusals recorded since the process started, by reason.
	Counts() map[string]int64
}

var descRefusals = prometheus.NewDesc("hallmark_refusals_total",
	"Refusals of authenticated callers by this process, each counted at once (the audit log coalesces them), by reason: "+
		"not-owner, sod, policy, manifest, or the problem kind (denied, invalid, not-found, conflict, ...).", []string{"reason"}, nil)

// WatchRefusals registers the refusal counters of r.
func (m *Registry) WatchRefusals(r Refusals) error {
	return m.reg.Register(refusalCollector{r})
}

type refusalCollector struct{ r Refusals }

func (c refusalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descRefusals }

func (c refusalCollector) Collect(ch chan<- prometheus.Metric) {
	for reason, n := range c.r.Counts() {
		ch <- prometheus.MustNewConstMetric(descRefusals, prometheus.CounterValue, float64(n), reason)
	}
}
