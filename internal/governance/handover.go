package governance

import (
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// The bound on hand-overs (docs/governance.md, *Roles*). A hand-over token lives at most
// party.HandoverTokenLifetime, and one minted with a hand-over token ends no later than it
// (principals.go, tokenLife), so rotating with it never prolongs a hand-over. A deployment
// administrator gives a party a new first administrator (a new hand-over the party did not
// approve) only:
//   - while no enabled principal of the party holds a working hand-over token
//     (RuleHandoverOpen), so it never holds two of a party at once: the live one is revoked
//     first (by its holder; audited) or ends; and
//   - if it has created fewer than party.HandoverLimit principals of the party in the
//     party.HandoverWindow before (RuleHandoverLimit), counted from the principal lineage,
//     which deleting a principal does not shorten.
//
// Without them a party whose hand-over expired unrotated could be given a new first
// administrator every 72 hours for ever, and a deployment administrator act as a party it does
// not belong to without end. Hand-overs under break-glass are not counted: the party approves
// each window (access.go), and an approval made with a hand-over token is refused
// (RuleHandoverDecide), so whoever kept a hand-over token cannot open a window for itself and
// every window rests on a credential of the party's own.
//
// Both checks read in the transaction that mints, so two concurrent first administrators
// cannot both pass: the store serializes its writers.

// Rules of the hand-over bound, named in refusals (internal/refusals).
const (
	RuleHandoverOpen   = "token:handover-open"
	RuleHandoverLimit  = "token:handover-limit"
	RuleHandoverDecide = "token:handover-decide"
)

// handover says whether a token minted in a request is a hand-over token, and of which kind.
type handover struct {
	on     bool // a hand-over token
	origin bool // a new hand-over: a deployment administrator mints it (Handover)
	// until is, for a token minted with a hand-over token, when that token ends; the new one
	// ends no later.
	until time.Time
	// recent are, for a new first administrator, the principals of the party a deployment
	// administrator created in the window before (boundHandover), this one not counted.
	recent []time.Time
}

// detail adds the bound a new first administrator was counted against to an audit detail.
func (h handover) detail(d map[string]any) map[string]any {
	if h.recent != nil {
		d["handovers_in_window"] = len(h.recent) + 1
		d["handover_limit"] = party.HandoverLimit
		d["handover_window"] = party.HandoverWindow.String()
	}
	return d
}

// HandoverBoundError refuses a new first administrator beyond the hand-over bound: a conflict with the party's
// state (409) that names the rule it breaks (RuleHandoverOpen, RuleHandoverLimit), so the
// refusal is recorded and audited as every refusal of a governance rule is.
type HandoverBoundError struct{ Msg, Rule string }

func (e *HandoverBoundError) Error() string { return e.Msg }

// FailureKind makes it a 409.
func (e *HandoverBoundError) FailureKind() failure.Kind { return failure.Conflict }

// FailureRule names the rule for the refusals report.
func (e *HandoverBoundError) FailureRule() string { return e.Rule }

// HandoverDecideError refuses the approval of a break-glass request made with a hand-over
// token (403, RuleHandoverDecide).
type HandoverDecideError struct{ Msg string }

func (e *HandoverDecideError) Error() string { return e.Msg }

// FailureKind makes it a 403.
func (e *HandoverDecideError) FailureKind() failure.Kind { return failure.Denied }

// FailureRule names the rule for the refusals report.
func (e *HandoverDecideError) FailureRule() string { return RuleHandoverDecide }

// openHandover refuses a new first administrator of partyID while an enabled principal of the party
// holds a working hand-over token at now (RuleHandoverOpen).
func openHandover(tx store.Tx, partyID string, now time.Time) error {
	toks, err := tx.Parties().ListTokens(store.TokenFilter{PartyID: partyID, LiveAt: now})
	if err != nil {
		return fmt.Errorf("listing the working tokens of party %s: %w", partyID, err)
	}
	for _, pt := range toks {
		p, t := pt.Principal, pt.Token
		if !t.Handover || p.DisabledAt != nil || !t.Valid(now) {
			continue
		}
		return &HandoverBoundError{Rule: RuleHandoverOpen, Msg: fmt.Sprintf("party %s has a working hand-over token (%s of principal %s/%s, until %s): a deployment administrator gives it a new first administrator only once that token is revoked (hallmark principal token revoke %s/%s %s, audited) or has ended, so it never holds two of a party at once (docs/governance.md, Roles; rule %s)",
			partyID, t.ID, partyID, p.Name, t.ExpiresAt.UTC().Format(time.RFC3339), partyID, p.Name, t.ID, RuleHandoverOpen)}
	}
	return nil
}

// boundHandover checks a new first administrator of partyID at now: openHandover, then the
// count of principals of the party a deployment administrator created in the window before
// now (RuleHandoverLimit). It returns the creations it counted, oldest first.
func boundHandover(tx store.Tx, partyID string, now time.Time) ([]time.Time, error) {
	if err := openHandover(tx, partyID, now); err != nil {
		return nil, err
	}
	recent, err := tx.Parties().DeploymentCreations(partyID, now.Add(-party.HandoverWindow))
	if err != nil {
		return nil, fmt.Errorf("counting the hand-overs of party %s: %w", partyID, err)
	}
	if recent == nil {
		recent = []time.Time{}
	}
	if len(recent) >= party.HandoverLimit {
		next := recent[len(recent)-party.HandoverLimit].Add(party.HandoverWindow)
		return nil, &HandoverBoundError{Rule: RuleHandoverLimit, Msg: fmt.Sprintf("a deployment administrator created %d principals of party %s in the last %s, the most it may (%d): it may give the party a new first administrator after %s; until then the party completes a hand-over it was given (docs/governance.md, Roles; rule %s)",
			len(recent), partyID, party.HandoverWindow, party.HandoverLimit, next.UTC().Format(time.RFC3339), RuleHandoverLimit)}
	}
	return recent, nil
}
