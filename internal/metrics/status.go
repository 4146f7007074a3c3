package metrics

import "github.com/prometheus/client_golang/prometheus"

// StatusStats is what the OCSP responder and CRL distributor report (internal/status,
// converted by internal/app): the answer cache per tier and counters since the start.
type StatusStats struct {
	// OCSPCache has one element per tier of the answer cache.
	OCSPCache []OCSPCacheTier
	// OCSPAnswers counts answers by source: "cache" (served from memory) or "signed".
	OCSPAnswers map[string]int64
	// CRLBuilds counts CRLs built and signed, by CRL: "full" or "partition".
	CRLBuilds map[string]int64
	// CRLRequests counts CRL requests by source: "memory" (served at once), "build" (waited
	// for a build) or "store" (a follower served the leader's stored CRL).
	CRLRequests map[string]int64
	// Disputed is how many certificates' rows disagree with the audit log at the last
	// reconciliation (OCSP answers them tryLater, counted in OCSPAnswers as "disputed").
	Disputed int
}

// OCSPCacheTier is one tier of the OCSP answer cache.
type OCSPCacheTier struct {
	Tier      string // "known" or "unknown"
	Bytes     int64
	Limit     int64
	Entries   int
	Evictions int64
}

var (
	descOCSPCacheBytes = prometheus.NewDesc("hallmark_ocsp_cache_bytes",
		"Memory held by cached OCSP answers (estimated), by tier: known (certificates a CA issued) or unknown.", []string{"tier"}, nil)
	descOCSPCacheLimit = prometheus.NewDesc("hallmark_ocsp_cache_limit_bytes",
		"The tier's share of limits.ocsp_cache_bytes: seven eighths for known, one eighth for unknown.", []string{"tier"}, nil)
	descOCSPCacheEntries = prometheus.NewDesc("hallmark_ocsp_cache_entries",
		"Serials with cached OCSP answers, by tier.", []string{"tier"}, nil)
	descOCSPCacheEvictions = prometheus.NewDesc("hallmark_ocsp_cache_evictions_total",
		"Cached OCSP answers evicted to make room, by tier.", []string{"tier"}, nil)
	descOCSPAnswers = prometheus.NewDesc("hallmark_ocsp_answers_total",
		"OCSP answers given, by source: cache (signed earlier), signed (for this request) or disputed (tryLater: the certificate's row disagrees with the audit log).", []string{"source"}, nil)
	descDisputed = prometheus.NewDesc("hallmark_audit_disputed_certificates",
		"Certificates whose rows disagree with the audit log at the last reconciliation (audit reconcile); OCSP answers them tryLater.", nil, nil)
	descCRLBuilds = prometheus.NewDesc("hallmark_crl_builds_total",
		"CRLs built and signed by this replica, by crl: full or partition.", []string{"crl"}, nil)
	descCRLRequests = prometheus.NewDesc("hallmark_crl_requests_total",
		"CRL requests, by source: memory (the last CRL built, at once), build (waited for a build: none yet, or older than the CRL interval) or store (a follower read the leader's CRL).", []string{"source"}, nil)
)

// WatchStatus registers the collector of the status service's figures; read is called at
// every scrape and must only read memory.
func (m *Registry) WatchStatus(read func() StatusStats) error {
	return m.reg.Register(statusCollector(read))
}

type statusCollector func() StatusStats

func (statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOCSPCacheBytes, descOCSPCacheLimit, descOCSPCacheEntries, descOCSPCacheEvictions, descOCSPAnswers, descCRLBuilds, descCRLRequests, descDisputed} {
		ch <- d
	}
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	for _, t := range s.OCSPCache {
		ch <- prometheus.MustNewConstMetric(descOCSPCacheBytes, prometheus.GaugeValue, float64(t.Bytes), t.Tier)
		ch <- prometheus.MustNewConstMetric(descOCSPCacheLimit, prometheus.GaugeValue, float64(t.Limit), t.Tier)
		ch <- prometheus.MustNewConstMetric(descOCSPCacheEntries, prometheus.GaugeValue, float64(t.Entries), t.Tier)
		ch <- prometheus.MustNewConstMetric(descOCSPCacheEvictions, prometheus.CounterValue, float64(t.Evictions), t.Tier)
	}
	for src, n := range s.OCSPAnswers {
		ch <- prometheus.MustNewConstMetric(descOCSPAnswers, prometheus.CounterValue, float64(n), src)
	}
	ch <- prometheus.MustNewConstMetric(descDisputed, prometheus.GaugeValue, float64(s.Disputed))
	for crl, n := range s.CRLBuilds {
		ch <- prometheus.MustNewConstMetric(descCRLBuilds, prometheus.CounterValue, float64(n), crl)
	}
	for src, n := range s.CRLRequests {
		ch <- prometheus.MustNewConstMetric(descCRLRequests, prometheus.CounterValue, float64(n), src)
	}
}
