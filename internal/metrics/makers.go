package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MakerStatus is what the status watcher of makers that do not run Hallmark reports at
// scrape time (internal/app reads it from internal/makerstatus).
type MakerStatus struct {
	// Sources counts the CRL and OCSP sources known, by kind ("crl", "ocsp") and state
	// ("ok", or "gap": the last fetch failed, or no fresh CRL is held).
	Sources map[[2]string]int
	// LastRound is when the last watcher round started (zero: none yet); the counts below
	// are of that round.
	LastRound                 time.Time
	Devices, Unknown, Revoked int
}

var (
	descMakerSources = prometheus.NewDesc("hallmark_maker_status_sources",
		"Revocation sources of makers that do not run Hallmark known to this process, by kind (crl, ocsp) and state (ok; gap: the last fetch failed or no fresh CRL is held).",
		[]string{"kind", "state"}, nil)
	descMakerRound = prometheus.NewDesc("hallmark_maker_watch_last_round_timestamp_seconds",
		"When the last round of the maker status watcher started (0: none yet on this process).", nil, nil)
	descMakerDevices = prometheus.NewDesc("hallmark_maker_watch_devices",
		"Devices of makers that do not run Hallmark checked by the last watcher round, by result (checked, unknown: no source answered, revoked).", []string{"result"}, nil)
)

// MakerFetched counts one fetch of a maker's CRL or OCSP answer by kind and outcome
// (internal/makerstatus outcomes: ok, stale, bad_signature, oversized, unreachable,
// parse_error, invalid, responder_error).
func (m *Registry) MakerFetched(kind, outcome string) {
	m.makerFetches.WithLabelValues(kind, outcome).Inc()
}

// WatchMakerStatus registers the watcher's state, read at scrape time.
func (m *Registry) WatchMakerStatus(read func() MakerStatus) error {
	return m.reg.Register(makerCollector(read))
}

type makerCollector func() MakerStatus

func (makerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMakerSources
	ch <- descMakerRound
	ch <- descMakerDevices
}

func (c makerCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	for k, n := range s.Sources {
		ch <- prometheus.MustNewConstMetric(descMakerSources, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	var at float64
	if !s.LastRound.IsZero() {
		at = float64(s.LastRound.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(descMakerRound, prometheus.GaugeValue, at)
	ch <- prometheus.MustNewConstMetric(descMakerDevices, prometheus.GaugeValue, float64(s.Devices), "checked")
	ch <- prometheus.MustNewConstMetric(descMakerDevices, prometheus.GaugeValue, float64(s.Unknown), "unknown")
	ch <- prometheus.MustNewConstMetric(descMakerDevices, prometheus.GaugeValue, float64(s.Revoked), "revoked")
}
