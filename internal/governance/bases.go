package governance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Bases of governance changes. A governed change records, when it is proposed, the state of
// exactly what it changes (Change.Base, kept in the proposal's payload as "base"), and is
// refused when applied after that state changed (CheckBase in Govern: a conflict naming
// RuleStaleBase, audited by the executor as approval.execute.refused): what the approvers
// signed is what applies, or nothing does. Each base is short, readable text, never empty:
// "absent" stands for a cell, rule or group that does not exist.

// absentBase is the base of a change to something that does not exist yet.
const absentBase = "absent"

// cellBase is cell k's owner now ("owned by acme"), or absentBase.
func cellBase(tx store.Tx, k ownership.Key) (string, error) {
	owner, found, err := tx.Ownership().Owner(k)
	if err != nil {
		return "", fmt.Errorf("reading cell %s: %w", k, err)
	}
	if !found {
		return absentBase, nil
	}
	return ownerBase(owner), nil
}

// ownerBase is the base of a cell that owner owns.
func ownerBase(owner string) string { return "owned by " + owner }

// sodRuleBase is rule id's two duties ("a vs b"), or absentBase.
func sodRuleBase(rules []store.SoDRule, id string) string {
	i := slices.IndexFunc(rules, func(r store.SoDRule) bool { return r.ID == id })
	if i < 0 {
		return absentBase
	}
	return rules[i].A.String() + " vs " + rules[i].B.String()
}

// dutiesBase is the duties a principal is limited to, sorted, or "unlimited".
func dutiesBase(tx store.Tx, principalID string) (string, error) {
	ds, err := tx.Duties().PrincipalDuties(principalID)
	if err != nil {
		return "", fmt.Errorf("reading the principal's duties: %w", err)
	}
	if len(ds) == 0 {
		return "unlimited", nil
	}
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	slices.Sort(s)
	return strings.Join(s, ", "), nil
}

// changeRuleBase is the rule partyID's changes of kind k are made under now (stored, or the
// default), as its quorum and expiry: "1 of leads + 1 of *, expiry 72h0m0s".
func changeRuleBase(tx store.Tx, partyID string, k approval.Kind) (string, error) {
	r, err := ChangeRuleFor(tx, partyID, k)
	if err != nil {
		return "", fmt.Errorf("reading the %s rule of party %s: %w", k, partyID, err)
	}
	q := "no approval"
	if len(r.Quorum) > 0 {
		s := make([]string, len(r.Quorum))
		for i, n := range r.Quorum {
			s[i] = n.String()
		}
		q = strings.Join(s, " + ")
	}
	return q + ", expiry " + r.Expiry.String(), nil
}

// groupBase is approver group name's members, sorted, or absentBase.
func groupBase(tx store.Tx, partyID, name string) (string, error) {
	gs, err := tx.ChangeRules().ApproverGroups(partyID)
	if err != nil {
		return "", fmt.Errorf("reading approver groups: %w", err)
	}
	g, ok := gs[name]
	if !ok {
		return absentBase, nil
	}
	m := slices.Clone(g.Members)
	slices.Sort(m)
	return "members " + strings.Join(m, ", "), nil
}

// approvalRuleBase is the deployment's rule of kind k now (stored, or the default).
func approvalRuleBase(tx store.Tx, k approval.Kind) (string, error) {
	r, ok, err := tx.Approvals().Rule(k)
	if err != nil {
		return "", fmt.Errorf("reading the %s approval rule: %w", k, err)
	}
	if !ok {
		r = approval.DefaultRule(k)
	}
	return fmt.Sprintf("%d approvers, other party %t, expiry %s", r.Approvers, r.OtherParty, r.Expiry), nil
}

// withBase returns payload's JSON with "base" set to base. The payload must encode as an
// object.
func withBase(payload any, base string) (json.RawMessage, error) {
	b, err := jsonOf(payload)
	if err != nil {
		return nil, err
	}
	m := map[string]json.RawMessage{}
	if len(b) > 0 && string(b) != "null" {
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("recording the change's base: the payload is not an object: %w", err)
		}
	}
	if m["base"], err = jsonOf(base); err != nil {
		return nil, err
	}
	return jsonOf(m)
}

// recordedBase is the base an approved change's payload recorded: "" for a proposal from
// before bases were recorded (or of a change that records none).
func recordedBase(q approval.Request) (string, error) {
	if len(q.Payload) == 0 {
		return "", nil
	}
	var p struct {
		Base string `json:"base"`
	}
	if err := payloadOf(q, &p); err != nil {
		return "", err
	}
	return p.Base, nil
}
