package governance

import (
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// RuleIndependentApprover names the rule that refuses a decision on a governance change by a
// principal its proposer made: see IndependentApprover.
const RuleIndependentApprover = "approval:independent-approver"

// lineageDepth and lineageNodes bound the walk up the lineage of a decider.
const (
	lineageDepth = 8
	lineageNodes = 256
)

// NotIndependentError refuses a decision by a principal descended from the proposer. It is a
// denial that names its rule, so the refusal is audited with it (internal/refusals).
type NotIndependentError struct{ Msg string }

func (e *NotIndependentError) Error() string { return e.Msg }

// FailureKind classifies the refusal as denied.
func (e *NotIndependentError) FailureKind() failure.Kind { return failure.Denied }

// FailureRule names the rule that failed.
func (e *NotIndependentError) FailureRule() string { return RuleIndependentApprover }

// IndependentApprover refuses decider as an approver of proposer's change when proposer is
// in decider's lineage as of now. A principal's parents are the principal that created it and
// the principals that minted its tokens still valid at now (a token it minted itself adds
// nobody); its lineage is its parents, their parents, and so on, up to lineageDepth steps and
// lineageNodes principals. Whoever created a principal or minted a token of it held that
// credential once, so a principal in its lineage may be acting through it: a party
// administrator who creates a principal (or gives one a token) cannot use it to approve its
// own change. A principal deleted since keeps its creator as a parent (its tokens went with
// it): the store keeps every principal's creator after deletion (store.PrincipalLineage), so
// deleting a principal in the middle of a chain does not launder the principals below it.
func IndependentApprover(tx store.Tx, proposer, decider string, now time.Time) error {
	var found []string
	err := walkLineage(tx, decider, now, func(p string, path []string) bool {
		if p == proposer {
			found = path
			return false
		}
		return true
	})
	if err != nil || found == nil {
		return err
	}
	return &NotIndependentError{Msg: fmt.Sprintf("principal %s may not decide a change proposed by %s, who made it or gave it a credential that still works (%s): an approver must be independent of the proposer (rule %s)",
		decider, proposer, strings.Join(found, " <- "), RuleIndependentApprover)}
}

// lineageOf is the set of principals in id's lineage as of now (IndependentApprover): id may
// not decide a change any of them proposed.
func lineageOf(tx store.Tx, id string, now time.Time) (map[string]bool, error) {
	out := map[string]bool{}
	err := walkLineage(tx, id, now, func(p string, _ []string) bool { out[p] = true; return true })
	return out, err
}

// walkLineage walks decider's lineage breadth first, up to lineageDepth steps and
// lineageNodes principals, calling visit with every parent it reaches and the path from
// decider to it, until visit returns false.
func walkLineage(tx store.Tx, decider string, now time.Time, visit func(parent string, path []string) bool) error {
	type node struct {
		id   string
		path []string // decider ... id
	}
	seen := map[string]bool{decider: true}
	level := []node{{id: decider, path: []string{decider}}}
	for depth := 0; depth < lineageDepth && len(level) > 0; depth++ {
		var next []node
		for _, n := range level {
			parents, err := parentsOf(tx, n.id, now)
			if err != nil {
				return err
			}
			for _, p := range parents {
				path := append(append([]string{}, n.path...), p)
				if !visit(p, path) {
					return nil
				}
				if seen[p] || len(seen) >= lineageNodes {
					continue
				}
				seen[p] = true
				next = append(next, node{id: p, path: path})
			}
		}
		level = next
	}
	return nil
}

// parentsOf returns who created principal id and who minted its tokens valid at now, less id
// itself. For a principal that no longer exists it returns its recorded creator (a deleted
// principal has no tokens left); nothing when no principal of that id was ever recorded.
func parentsOf(tx store.Tx, id string, now time.Time) ([]string, error) {
	p, err := tx.Parties().GetPrincipal(id)
	if failure.Is(err, failure.NotFound) {
		l, err := tx.Parties().PrincipalLineage(id)
		if failure.Is(err, failure.NotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the lineage of deleted principal %s: %w", id, err)
		}
		if l.CreatedBy == "" || l.CreatedBy == id {
			return nil, nil
		}
		return []string{l.CreatedBy}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading principal %s: %w", id, err)
	}
	var out []string
	add := func(x string) {
		if x != "" && x != id {
			for _, y := range out {
				if y == x {
					return
				}
			}
			out = append(out, x)
		}
	}
	add(p.CreatedBy)
	toks, err := tx.Parties().ListTokens(store.TokenFilter{PrincipalID: id, LiveAt: now, Limit: 64})
	if err != nil {
		return nil, fmt.Errorf("reading the tokens of %s: %w", id, err)
	}
	for _, t := range toks {
		if t.Token.Valid(now) {
			add(t.Token.CreatedBy)
		}
	}
	return out, nil
}
