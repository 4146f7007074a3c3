package reports

import (
	"context"
	"sort"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// CA expiry (docs/rotation.md): every CA's certificate end, with the warning level of
// ca.ExpiryLevelAt (90, 30 and 7 days, expired) and where the CA is in its life. A CA still in
// service — not succeeded, not retired — that reaches a level is also a governance gap
// (GapsReport.CAExpiry): it needs a rotation or rollover before it ends.

// CAExpiry is one CA's expiry.
type CAExpiry struct {
	CAID        string         `json:"ca_id"`
	Name        string         `json:"name"`
	PartyID     string         `json:"party_id"`
	Stage       string         `json:"stage"`
	Role        ca.Role        `json:"role"`
	Status      ca.Status      `json:"status"`
	NotAfter    time.Time      `json:"not_after"`
	Remaining   Duration       `json:"remaining"` // negative once expired
	Warning     ca.ExpiryLevel `json:"warning,omitempty"`
	SuccessorID string         `json:"successor_id,omitempty"`
}

// CAExpiryReport lists CAs, soonest end first. Warnings counts the CAs in service with a
// warning: those that need a successor.
type CAExpiryReport struct {
	GeneratedAt time.Time  `json:"generated_at"`
	Items       []CAExpiry `json:"items"`
	Warnings    int        `json:"warnings"`
}

// CAExpiry reports the expiry of the CAs the caller may see: all for auditors and deployment
// administrators (CAs are Hallmark's own credentials, which the rotation report's credentials
// show them too; no device is named), its party's otherwise.
func (s *Service) CAExpiry(ctx context.Context, a audit.Actor) (CAExpiryReport, error) {
	now := s.now()
	out := CAExpiryReport{GeneratedAt: now, Items: []CAExpiry{}}
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out.Items, out.Warnings = []CAExpiry{}, 0
		sc, err := scopeOf(tx, a)
		if err != nil {
			return err
		}
		party := sc.PartyID
		if sc.All || governance.IsDeploymentAdmin(a) {
			party = ""
		}
		cas, err := tx.CAs().ListCAs(party)
		if err != nil {
			return err
		}
		for _, c := range cas {
			e := caExpiry(c, now)
			out.Items = append(out.Items, e)
			if needsSuccessor(c, e.Warning) {
				out.Warnings++
			}
		}
		return nil
	})
	sort.SliceStable(out.Items, func(i, j int) bool { return out.Items[i].NotAfter.Before(out.Items[j].NotAfter) })
	return out, err
}

func caExpiry(c ca.CA, now time.Time) CAExpiry {
	return CAExpiry{CAID: c.ID, Name: c.Name, PartyID: c.PartyID, Stage: c.Stage, Role: c.Role, Status: c.StatusAt(now), NotAfter: c.Cert.NotAfter,
		Remaining: Duration(c.Cert.NotAfter.Sub(now).Truncate(time.Second)), Warning: ca.ExpiryLevelAt(c.Cert.NotAfter, now), SuccessorID: c.SuccessorID}
}

// needsSuccessor: a CA nobody replaced or retired, whose end is within a warning level.
func needsSuccessor(c ca.CA, level ca.ExpiryLevel) bool {
	return level != ca.LevelNone && c.SuccessorID == "" && c.RetiredAt == nil
}

// CAExpiryGap is a CA in service that ends within 90 days (or has ended) without a successor.
type CAExpiryGap struct {
	CAExpiry
	Why string `json:"why"`
}

// caExpiry lists the CAs of mine that need a successor.
func (r *GapsReport) caExpiry(tx store.Tx, mine func(string) bool, now time.Time) error {
	cas, err := tx.CAs().ListCAs("")
	if err != nil {
		return err
	}
	for _, c := range cas {
		e := caExpiry(c, now)
		if !mine(c.PartyID) || !needsSuccessor(c, e.Warning) {
			continue
		}
		why := "ends within " + string(e.Warning) + " and has no successor: rotate it (issuing) or roll it over (root)"
		switch {
		case e.Warning == ca.LevelExpired:
			why = "has expired without a successor"
		case c.Role == ca.Anchor:
			why = "ends within " + string(e.Warning) + ": register the maker's new anchor"
		}
		r.CAExpiry = append(r.CAExpiry, CAExpiryGap{CAExpiry: e, Why: why})
	}
	sort.SliceStable(r.CAExpiry, func(i, j int) bool { return r.CAExpiry[i].NotAfter.Before(r.CAExpiry[j].NotAfter) })
	return nil
}
