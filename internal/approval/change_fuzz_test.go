package approval

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// FuzzChangeRuleValidate drives rule validation with the quorum a party administrator sends
// (the body of PUT /v1/parties/{id}/change-rules/{kind}); seeds are real rules. Whatever the
// input, a rule Validate accepts asks each group for at least one and at most as many
// approvals as it has members, names no group twice, and a rejected one is failure.Invalid.
func FuzzChangeRuleValidate(f *testing.F) {
	for _, s := range []string{
		`[{"group":"security-leads","approvals":2},{"group":"ops","approvals":1}]`,
		`[{"group":"*","approvals":1}]`,
		`[]`,
		`[{"group":"security-leads","approvals":4}]`,
		`[{"group":"ops","approvals":1},{"group":"ops","approvals":1}]`,
		`[{"group":"auditors","approvals":-1}]`,
	} {
		f.Add([]byte(s))
	}
	groups := map[string]Group{
		"security-leads": {Name: "security-leads", Members: []string{"a", "b", "c"}},
		"ops":            {Name: "ops", Members: []string{"d"}},
	}
	const principals = 6
	f.Fuzz(func(t *testing.T, body []byte) {
		var q []Need
		if json.Unmarshal(body, &q) != nil {
			return
		}
		r := ChangeRule{PartyID: "contoso", Kind: PolicyChange, Quorum: q, Expiry: time.Hour}
		err := r.Validate(groups, principals)
		if err != nil {
			if !failure.Is(err, failure.Invalid) {
				t.Fatalf("rule %s refused with %v, not an invalid-input error", body, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, n := range q {
			m := principals - 1
			if n.Group != AnyPrincipal {
				m = len(groups[n.Group].Members)
			}
			if seen[n.Group] || n.Approvals < 1 || n.Approvals > m {
				t.Fatalf("rule %s accepted: need %+v breaks n <= m or names its group twice", body, n)
			}
			seen[n.Group] = true
		}
	})
}
