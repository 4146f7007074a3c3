package metrics

import "github.com/prometheus/client_golang/prometheus"

// Possession reports on challenges and proofs of possession; *operational.Service implements
// it.
type Possession interface {
	// PossessionCounts returns the challenges issued and the challenges and proofs refused,
	// by reason, since the service started.
	PossessionCounts() (issued int64, refused map[string]int64)
}

var (
	descChallengesIssued = prometheus.NewDesc("hallmark_challenges_issued_total",
		"Challenges for a proof of key possession issued by this process (POST /v1/challenges).", nil, nil)
	descPossessionRefused = prometheus.NewDesc("hallmark_possession_refusals_total",
		"Challenges and proofs of possession refused by this process, by reason: challenge_duty (no duty over the environment, or no such certificate), "+
			"challenge_limit (limits.challenges reached), proof_missing, challenge_unusable (unknown, another principal's, used or expired), "+
			"challenge_mismatch (issued for another purpose, environment or CSR key), signature.", []string{"reason"}, nil)
)

// WatchPossession registers the challenge and proof-of-possession counters of p.
func (m *Registry) WatchPossession(p Possession) error {
	return m.reg.Register(possessionCollector{p})
}

type possessionCollector struct{ p Possession }

func (c possessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descChallengesIssued
	ch <- descPossessionRefused
}

func (c possessionCollector) Collect(ch chan<- prometheus.Metric) {
	issued, refused := c.p.PossessionCounts()
	ch <- prometheus.MustNewConstMetric(descChallengesIssued, prometheus.CounterValue, float64(issued))
	for reason, n := range refused {
		ch <- prometheus.MustNewConstMetric(descPossessionRefused, prometheus.CounterValue, float64(n), reason)
	}
}
