package metrics_test

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/metrics"
)

// TestWatchStatus: the status service's figures appear under their names and labels, read
// at each scrape.
func TestWatchStatus(t *testing.T) {
	m := metrics.New(quiet)
	n := int64(0)
	err := m.WatchStatus(func() metrics.StatusStats {
		n++
		return metrics.StatusStats{
			OCSPCache: []metrics.OCSPCacheTier{
				{Tier: "known", Bytes: 1000 * n, Limit: 7 << 20, Entries: 3, Evictions: 2},
				{Tier: "unknown", Bytes: 500, Limit: 1 << 20, Entries: 1, Evictions: 9},
			},
			OCSPAnswers: map[string]int64{"cache": 40, "signed": 4},
			CRLBuilds:   map[string]int64{"full": 1, "partition": 16},
			CRLRequests: map[string]int64{"memory": 500, "build": 1, "store": 0},
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	scrape(t, m)
	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hallmark_ocsp_cache_bytes", map[string]string{"tier": "known"}, 2000},
		{"hallmark_ocsp_cache_bytes", map[string]string{"tier": "unknown"}, 500},
		{"hallmark_ocsp_cache_limit_bytes", map[string]string{"tier": "known"}, 7 << 20},
		{"hallmark_ocsp_cache_entries", map[string]string{"tier": "known"}, 3},
		{"hallmark_ocsp_cache_evictions_total", map[string]string{"tier": "unknown"}, 9},
		{"hallmark_ocsp_answers_total", map[string]string{"source": "signed"}, 4},
		{"hallmark_crl_builds_total", map[string]string{"crl": "partition"}, 16},
		{"hallmark_crl_requests_total", map[string]string{"source": "memory"}, 500},
	} {
		if got, ok := value(fams, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (%v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if err := m.WatchStatus(func() metrics.StatusStats { return metrics.StatusStats{} }); err == nil {
		t.Error("a second status collector was registered")
	}
}
