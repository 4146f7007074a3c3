package governance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/store"
)

// UnmeetableRule is a party's change rule that no change can meet as of now: whichever of the
// party's enabled principals proposes, the quorum needs more approvers than the party holds
// besides the proposer and independent of it (IndependentApprover). Every change of the kind
// is refused when proposed, the rule itself included when no approval-rule-change rule is
// stored (it is then decided under the rule it replaces), until the party has more principals.
type UnmeetableRule struct {
	PartyID string        `json:"party_id"`
	Kind    approval.Kind `json:"kind"`
	Quorum  string        `json:"quorum"` // e.g. "1 of *"
	Stored  bool          `json:"stored"` // false: the default rule
	Why     string        `json:"why"`
}

// UnmeetableRules returns partyID's rules of kinds that no change can meet (UnmeetableRule),
// in the order of kinds. It is meant for a report: it reads the party's principals, groups,
// rules and, once per principal, its lineage.
func UnmeetableRules(tx store.Tx, partyID string, kinds []approval.Kind, now time.Time) ([]UnmeetableRule, error) {
	ps, err := tx.Parties().ListPrincipals(partyID)
	if err != nil {
		return nil, fmt.Errorf("reading the principals of party %s: %w", partyID, err)
	}
	var enabled []string
	for _, p := range ps {
		if p.DisabledAt == nil {
			enabled = append(enabled, p.ID)
		}
	}
	groups, err := tx.ChangeRules().ApproverGroups(partyID)
	if err != nil {
		return nil, fmt.Errorf("reading the approver groups of party %s: %w", partyID, err)
	}
	// independent[p] are the enabled principals other than p that may decide p's changes.
	var independent map[string][]string
	independentOf := func() (map[string][]string, error) {
		if independent != nil {
			return independent, nil
		}
		lineage := map[string]map[string]bool{}
		for _, d := range enabled {
			if lineage[d], err = lineageOf(tx, d, now); err != nil {
				return nil, err
			}
		}
		independent = map[string][]string{}
		for _, p := range enabled {
			independent[p] = []string{}
			for _, d := range enabled {
				if d != p && !lineage[d][p] {
					independent[p] = append(independent[p], d)
				}
			}
		}
		return independent, nil
	}
	var out []UnmeetableRule
	for _, k := range kinds {
		r, stored, err := tx.ChangeRules().ChangeRule(partyID, k)
		if err != nil {
			return nil, fmt.Errorf("reading the %s rule of party %s: %w", k, partyID, err)
		}
		if !stored {
			r = approval.DefaultChangeRule(partyID, k)
		}
		if len(r.Quorum) == 0 {
			continue
		}
		r.Kind = k
		ind, err := independentOf()
		if err != nil {
			return nil, err
		}
		why := unmeetable(r, groups, enabled, ind)
		if why == "" {
			continue
		}
		needs := make([]string, len(r.Quorum))
		for i, n := range r.Quorum {
			needs[i] = n.String()
		}
		out = append(out, UnmeetableRule{PartyID: partyID, Kind: k, Quorum: strings.Join(needs, " + "), Stored: stored, Why: why})
	}
	return out, nil
}

// unmeetable says why no enabled principal's change can meet rule r ("" when one can), with
// the seats resolved as Govern resolves them, less the approvers not independent of the
// proposer.
func unmeetable(r approval.ChangeRule, groups map[string]approval.Group, enabled []string, independent map[string][]string) string {
	if len(enabled) == 0 {
		return "the party has no enabled principal to propose a change"
	}
	var first error
	for _, p := range enabled {
		seats, missing := resolveSeats(r, groups, func(m string) bool { return slices.Contains(independent[p], m) })
		if missing != "" {
			return fmt.Sprintf("the rule names approver group %q, which no longer exists", missing)
		}
		_, err := approval.CheckSeats(r, seats, len(independent[p]), p)
		if err == nil {
			return ""
		}
		if first == nil {
			first = err
		}
	}
	return fmt.Sprintf("whichever of its %d enabled principals proposes, too few others may approve (enabled, and independent of the proposer: not made by it nor holding a credential it gave); e.g. %v", len(enabled), first)
}
