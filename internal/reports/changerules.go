package reports

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ChangeRuleGap is a party's change rule that no change can meet (governance.UnmeetableRule):
// the party cannot make changes of that kind at all, e.g. an operator with one principal
// cannot change its policies under the default policy-change rule.
type ChangeRuleGap = governance.UnmeetableRule

// changeRules lists the unmeetable change rules of every party the caller sees, for the kinds
// the party can propose: changes of its environments (policy, settings, waivers) when it owns
// operational/issue over one; cells, approval rules and groups, and duties for every party;
// separation-of-duties rules for the deployment only (only its administrators change them).
func (r *GapsReport) changeRules(tx store.Tx, w world, mine func(string) bool, now time.Time) error {
	operates := map[string]bool{}
	for _, e := range w.envs {
		if o, ok := w.owner(ownership.Operational, ownership.Issue, envChain(e)); ok {
			operates[o] = true
		}
	}
	ids := []string{party.Deployment}
	for _, p := range w.parties {
		ids = append(ids, p.ID)
	}
	for _, id := range ids {
		if !mine(id) {
			continue
		}
		kinds := []approval.Kind{approval.OwnershipChange, approval.RuleChange, approval.DutyChange}
		if id == party.Deployment {
			kinds = append(kinds, approval.SoDChange)
		}
		if operates[id] {
			kinds = append(kinds, approval.PolicyChange, approval.EnvironmentChange, approval.Waiver)
		}
		gaps, err := governance.UnmeetableRules(tx, id, kinds, now)
		if err != nil {
			return err
		}
		r.ChangeRules = append(r.ChangeRules, gaps...)
	}
	return nil
}
