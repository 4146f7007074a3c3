package reports

import (
	"sort"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
)

// MakerSourceGap is a revocation source of a maker that does not run Hallmark whose last
// fetch failed, or (a CRL source) that holds no CRL valid now (GapsReport.MakerSources): the
// status of the maker's devices rests on an older answer, or on none, since Since.
type MakerSourceGap struct {
	MakerID    string `json:"maker_id"`
	MakerName  string `json:"maker_name"`
	OperatorID string `json:"operator_id"`
	Kind       string `json:"kind"` // crl or ocsp
	URL        string `json:"url"`
	Issuer     string `json:"issuer"`
	// Outcome and Error are of the last fetch (LastAttempt).
	Outcome     string    `json:"outcome"`
	Error       string    `json:"error,omitempty"`
	Since       time.Time `json:"since"`
	LastAttempt time.Time `json:"last_attempt"`
	// LastOK is the last good fetch; HeldUntil the nextUpdate of the CRL still used (both
	// absent when none).
	LastOK    *time.Time `json:"last_ok,omitempty"`
	HeldUntil *time.Time `json:"held_until,omitempty"`
	Why       string     `json:"why"`
}

// makerSources lists the failing or stale sources of the makers of the operators of mine, as
// the status watcher last kept them.
func (r *GapsReport) makerSources(tx store.Tx, mine func(string) bool, now time.Time) error {
	ms, err := tx.Makers().ListMakers("")
	if err != nil {
		return err
	}
	type named struct{ name, operator string }
	makers := map[string]named{}
	for _, m := range ms {
		if mine(m.OperatorID) {
			makers[m.ID] = named{m.Name, m.OperatorID}
		}
	}
	if len(makers) == 0 {
		return nil
	}
	states, err := tx.Makers().ListSourceStates("")
	if err != nil {
		return err
	}
	for _, st := range states {
		m, ok := makers[st.MakerID]
		if !ok {
			continue
		}
		gap, since := st.Gap(now)
		if !gap {
			continue
		}
		g := MakerSourceGap{MakerID: st.MakerID, MakerName: m.name, OperatorID: m.operator, Kind: st.Kind, URL: st.URL, Issuer: st.Issuer,
			Outcome: st.Outcome, Error: st.Err, Since: since, LastAttempt: st.LastAttempt, LastOK: timePtr(st.LastOK), HeldUntil: timePtr(st.HeldUntil)}
		switch {
		case st.Outcome != "ok" && st.Kind == "crl" && now.Before(st.HeldUntil):
			g.Why = "the CRL cannot be refreshed (" + st.Outcome + "); the last good one is used until its nextUpdate"
		case st.Outcome != "ok":
			g.Why = "no usable answer (" + st.Outcome + "): the status of the maker's devices is unknown here, and onboarding follows the maker's fail mode"
		default:
			g.Why = "no CRL valid now is held: the last good one is past its nextUpdate"
		}
		r.MakerSources = append(r.MakerSources, g)
	}
	sort.SliceStable(r.MakerSources, func(i, j int) bool { return r.MakerSources[i].Since.Before(r.MakerSources[j].Since) })
	return nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
