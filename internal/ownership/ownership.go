// Package ownership is the ownership matrix: for every stage, duty and scope, the party that
// owns it. It is pure: the rules here take cells as arguments and never read a store.
//
// Invariants: a cell has at most one owner; a scope inherits from its parent scope when it
// has no cell of its own (lot → model → manufacturer; environment → operator), so the most
// specific cell wins; a cell that resolves to nobody is a governance gap.
package ownership

import (
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Stage is a governance stage of a device's identity.
type Stage string

// Stages.
const (
	Manufacturing Stage = "manufacturing"
	Operational   Stage = "operational"
	Support       Stage = "support"
)

// Duty is what an owner of a cell may do.
type Duty string

// Duties.
const (
	Issue   Duty = "issue"
	Renew   Duty = "renew"
	Revoke  Duty = "revoke"
	Audit   Duty = "audit"
	Approve Duty = "approve"
)

// ScopeKind names what a scope refers to.
type ScopeKind string

// Scope kinds.
const (
	Deployment   ScopeKind = "deployment"   // the whole deployment; ID is "*"
	Manufacturer ScopeKind = "manufacturer" // ID is the manufacturer's party ID
	Model        ScopeKind = "model"
	Lot          ScopeKind = "lot"
	Operator     ScopeKind = "operator" // ID is the operator's party ID
	Environment  ScopeKind = "environment"
	Vendor       ScopeKind = "vendor" // ID is a support vendor's party ID: the support access it asks for
)

// Scope is one thing that duties are owned over.
type Scope struct {
	Kind ScopeKind `json:"kind"`
	ID   string    `json:"id"`
}

func (s Scope) String() string { return string(s.Kind) + ":" + s.ID }

// DeploymentScope is the scope of the whole deployment.
var DeploymentScope = Scope{Kind: Deployment, ID: "*"}

// Cell is one entry of the matrix.
type Cell struct {
	Stage   Stage  `json:"stage"`
	Duty    Duty   `json:"duty"`
	Scope   Scope  `json:"scope"`
	PartyID string `json:"party_id"`
}

// Pair is a stage and a duty: what a principal may be limited to, and what a
// separation-of-duties rule keeps apart.
type Pair struct {
	Stage Stage `json:"stage"`
	Duty  Duty  `json:"duty"`
}

func (p Pair) String() string { return string(p.Stage) + "/" + string(p.Duty) }

// ParsePair reads "stage/duty".
func ParsePair(s string) (Pair, error) {
	st, du, ok := strings.Cut(s, "/")
	if !ok {
		return Pair{}, failure.New(failure.Invalid, "%q is not stage/duty (for example operational/issue)", s)
	}
	stage, err := ParseStage(st)
	if err != nil {
		return Pair{}, err
	}
	duty, err := ParseDuty(du)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Stage: stage, Duty: duty}, nil
}

// Key identifies a cell without its owner.
type Key struct {
	Stage Stage
	Duty  Duty
	Scope Scope
}

func (k Key) String() string { return fmt.Sprintf("%s/%s on %s", k.Stage, k.Duty, k.Scope) }

// ParseStage, ParseDuty and ParseScopeKind validate names from outside.
func ParseStage(s string) (Stage, error) {
	switch Stage(s) {
	case Manufacturing, Operational, Support:
		return Stage(s), nil
	}
	return "", failure.New(failure.Invalid, "stage %q is not manufacturing, operational or support", s)
}

// ParseDuty validates a duty name.
func ParseDuty(s string) (Duty, error) {
	switch Duty(s) {
	case Issue, Renew, Revoke, Audit, Approve:
		return Duty(s), nil
	}
	return "", failure.New(failure.Invalid, "duty %q is not issue, renew, revoke, audit or approve", s)
}

// ParseScopeKind validates a scope kind.
func ParseScopeKind(s string) (ScopeKind, error) {
	switch ScopeKind(s) {
	case Deployment, Manufacturer, Model, Lot, Operator, Environment, Vendor:
		return ScopeKind(s), nil
	}
	return "", failure.New(failure.Invalid, "scope kind %q is not deployment, manufacturer, model, lot, operator, environment or vendor", s)
}

// Chain is a scope followed by its ancestors, most specific first: for a lot,
// [lot, model, manufacturer]. Resolution walks it in order.
type Chain []Scope

// Resolve returns the owner of (stage, duty) over the chain: the party of the first scope in
// the chain that has a cell. ok is false when no scope has one (a governance gap).
// lookup returns the owner of one exact cell.
func Resolve(stage Stage, duty Duty, chain Chain, lookup func(Key) (string, bool)) (owner string, at Scope, ok bool) {
	for _, s := range chain {
		if p, found := lookup(Key{Stage: stage, Duty: duty, Scope: s}); found {
			return p, s, true
		}
	}
	return "", Scope{}, false
}

// DeniedError says which cell the caller's party did not own. It is of kind failure.Denied.
type DeniedError struct {
	PartyID string
	Stage   Stage
	Duty    Duty
	Scope   Scope
	Owner   string // the party that owns the cell, or "" when nobody does
}

func (e *DeniedError) Error() string {
	owner := "nobody owns it"
	if e.Owner != "" {
		owner = "owned by " + e.Owner
	}
	return fmt.Sprintf("party %s does not own %s/%s on %s (%s)", e.PartyID, e.Stage, e.Duty, e.Scope, owner)
}

// FailureKind classifies the error.
func (e *DeniedError) FailureKind() failure.Kind { return failure.Denied }

// FailureRule names the cell that was not owned: "ownership:<stage>/<duty>".
func (e *DeniedError) FailureRule() string {
	return "ownership:" + string(e.Stage) + "/" + string(e.Duty)
}

// Defaults returns the cells a new party of the given kind owns from day one (PRODUCT.md): a
// manufacturer owns manufacturing issue, revoke and approve over itself (its models and lots
// inherit) and may ask for support access (support/issue); an operator owns operational issue,
// renew, revoke and approve over itself (its environments inherit) and approves support
// access; a support vendor may ask for support access; an auditor owns audit of every stage
// over the deployment. Support issue is the duty of asking: the certificate itself comes from
// the operator's support CA once the operator approved.
func Defaults(partyID string, kind string) []Cell {
	own := func(stage Stage, duty Duty, s Scope) Cell {
		return Cell{Stage: stage, Duty: duty, Scope: s, PartyID: partyID}
	}
	switch kind {
	case "manufacturer":
		s := Scope{Kind: Manufacturer, ID: partyID}
		return []Cell{own(Manufacturing, Issue, s), own(Manufacturing, Revoke, s), own(Manufacturing, Approve, s), own(Support, Issue, s)}
	case "operator":
		s := Scope{Kind: Operator, ID: partyID}
		return []Cell{own(Operational, Issue, s), own(Operational, Renew, s), own(Operational, Revoke, s), own(Operational, Approve, s), own(Support, Approve, s)}
	case "support-vendor":
		return []Cell{own(Support, Issue, Scope{Kind: Vendor, ID: partyID})}
	case "auditor":
		return []Cell{
			own(Manufacturing, Audit, DeploymentScope),
			own(Operational, Audit, DeploymentScope),
			own(Support, Audit, DeploymentScope),
		}
	}
	return nil
}
