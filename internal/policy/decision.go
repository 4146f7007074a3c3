package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// What a denial carries of the policy's text. A policy may hold 64 rules of 4 KiB; a denial
// goes to the device and to the logs, so it names the failed rules and shows a short excerpt
// of each, never the whole policy.
const (
	// MaxExcerpt bounds the message (or expression) and the evaluation error of one Failure.
	MaxExcerpt = 200
	// maxListed is how many failed rules Summary shows with their excerpts; the rest are
	// counted.
	maxListed = 4
)

// Decision is the outcome of one evaluation.
type Decision struct {
	// Allowed is true only when every rule evaluated to true and approval is not required.
	Allowed bool `json:"allowed"`
	// ApprovalRequired is true when every rule held and RequireApproval evaluated to true:
	// the request waits for an operator's approval. Allowed is then false.
	ApprovalRequired bool `json:"approval_required,omitempty"`
	// Version is the version of the policy the decision was made under.
	Version int `json:"version"`
	// Failed lists, in policy order, every rule that was false or failed to evaluate.
	Failed []Failure `json:"failed,omitempty"`
	// Evaluated is the number of rules decided, those denied without running (budget spent,
	// context ended) included; RequireApproval is not counted.
	Evaluated int `json:"evaluated"`
	// Cost is the CEL runtime cost of the whole evaluation.
	Cost uint64 `json:"cost"`
}

// Failure is one rule that denied.
type Failure struct {
	Rule string `json:"rule"`
	// Message is the rule's Message, or its expression, cut to MaxExcerpt bytes.
	Message string `json:"message"`
	// Error is set when the rule failed to evaluate or did not run, cut to MaxExcerpt bytes.
	Error string `json:"error,omitempty"`
}

func (f Failure) String() string {
	if f.Error != "" {
		return fmt.Sprintf("%s (%s: %s)", f.Rule, f.Message, f.Error)
	}
	return fmt.Sprintf("%s (%s)", f.Rule, f.Message)
}

// Outcome names a decision: "allow", "deny" or "approval-required".
func (d Decision) Outcome() string {
	switch {
	case d.Allowed:
		return "allow"
	case d.ApprovalRequired:
		return "approval-required"
	default:
		return "deny"
	}
}

// Summary names the failed rules for a denial, "rule NAME (excerpt)": the first four, then
// how many more failed. It is at most a few KiB however large the policy.
func (d Decision) Summary() string {
	n := min(len(d.Failed), maxListed)
	parts := make([]string, n, n+1)
	for i, f := range d.Failed[:n] {
		parts[i] = "rule " + f.String()
	}
	if more := len(d.Failed) - n; more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more failed rules", more))
	}
	return strings.Join(parts, "; ")
}

// Err is nil when the decision allows. Otherwise it is a failure.Denied error whose message
// names the policy version and the failed rules (Summary), or says that approval is required.
func (d Decision) Err() error {
	switch {
	case d.Allowed:
		return nil
	case d.ApprovalRequired:
		return failure.New(failure.Denied, "policy v%d requires an operator's approval", d.Version)
	}
	return failure.New(failure.Denied, "policy v%d denied: %s", d.Version, d.Summary())
}

// Excerpt returns s cut to at most max bytes on a UTF-8 boundary, ending in "…" when cut.
func Excerpt(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
