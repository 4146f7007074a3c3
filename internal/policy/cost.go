package policy

import (
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/interpreter"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// A policy's cost is bounded twice, by one budget: the CEL cost units one evaluation may spend
// across all its rules and RequireApproval together.
//
//   - When a policy is set, CheckBudget refuses it if its static worst case (CEL's cost
//     estimate over the largest inputs Hallmark accepts, inputSizes) exceeds the budget.
//   - When it is evaluated, the rules share one running total; the rule that takes it over
//     the budget stops there and every later rule denies without running.
//
// A CEL cost unit is about one operation or one element a comprehension visits; one unit took
// 50 to 130 ns of CPU on the 2-core reference machine (BenchmarkWorstCase), so the default
// budget bounds one evaluation to about 5 to 13 ms.
const (
	// DefaultBudget is the budget when none is configured (config policy.cost_budget).
	DefaultBudget uint64 = 100_000
	// MinBudget and MaxBudget bound a configured budget.
	MinBudget uint64 = 1_000
	MaxBudget uint64 = 1_000_000
)

// maxInputString bounds, for the estimate, every string input that inputSizes does not name:
// certificate names and environment fields. A longer value is still evaluated, under the
// runtime budget.
const maxInputString = 4096

// inputSizes are the largest inputs Hallmark accepts, by CEL path (a variable, then fields,
// "@items" for list elements, "@keys" and "@values" for maps): build records
// (internal/buildrecord), the facts a device reports (internal/operational) and an
// environment's services. Only lists, maps and strings need a size.
var inputSizes = map[string]uint64{
	"device.serial": 64, "device.state": 16, "device.id": 64, "device.lot": 64,

	"factory.serial": 64, "factory.sha256": 64, "factory.hardware_type": 256,

	"build_record.manufacturer": 128, "build_record.model": 128, "build_record.hardware_revision": 64,
	"build_record.serial": 64, "build_record.lot": 64, "build_record.line": 64,
	"build_record.firmware_digest": 64, "build_record.test_result": 4,
	"build_record.components":                256,
	"build_record.components.@items.name":    64,
	"build_record.components.@items.version": 64,
	"build_record.components.@items.sha256":  64,

	"facts.firmware_digest": 128, "facts.hardware_revision": 64,
	"facts.extra": 32, "facts.extra.@keys": 64, "facts.extra.@values": 256,

	"environment.services": 64, "environment.services.@items": 63,

	"operational.serial": 64,
}

// sizes is the cost.Estimator of CheckBudget: input sizes from inputSizes, CEL's own model for
// every function.
type sizes struct{}

func (sizes) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}

func (sizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	if max, ok := inputSizes[strings.Join(path, ".")]; ok {
		s := cost.RangedSizeEstimate(0, max)
		return &s
	}
	if t := n.Type(); t != nil && t.String() == "string" {
		s := cost.RangedSizeEstimate(0, maxInputString)
		return &s
	}
	return nil
}

// estimate is the static worst-case cost of one checked expression.
func estimate(e *cel.Env, ast *cel.Ast) (uint64, error) {
	est, err := e.EstimateCost(ast, sizes{})
	if err != nil {
		return 0, err
	}
	return est.Max, nil
}

// CheckBudget refuses, with a failure.Invalid error naming the most expensive rule, a
// program whose static worst case (WorstCase) exceeds its budget. It is run when a policy is
// set; a stored policy is not checked again, but its evaluations are bounded all the same.
func (p *Program) CheckBudget() error {
	total := p.WorstCase()
	if total <= p.budget {
		return nil
	}
	top := p.rules[0]
	for _, r := range p.rules[1:] {
		if r.worst > top.worst {
			top = r
		}
	}
	if p.approval != nil && p.approval.worst > top.worst {
		top = *p.approval
	}
	return failure.New(failure.Invalid,
		"policy: rule %q may cost up to %s CEL cost units, and the whole policy up to %s; one evaluation may spend %s (policy.cost_budget): make the rule cheaper (fewer nested comprehensions over lists and maps) or split the work",
		top.name, units(top.worst), units(total), units(p.budget))
}

// WorstCase is the static estimate of one evaluation's cost: the sum over every rule and
// RequireApproval of CEL's worst case for the largest inputs Hallmark accepts.
func (p *Program) WorstCase() uint64 {
	var sum uint64
	for _, r := range p.rules {
		sum = cost.SafeAdd(sum, r.worst)
	}
	if p.approval != nil {
		sum = cost.SafeAdd(sum, p.approval.worst)
	}
	return sum
}

// Budget is the cost one evaluation of p may spend.
func (p *Program) Budget() uint64 { return p.budget }

func units(n uint64) string {
	if n == ^uint64(0) {
		return "unbounded"
	}
	d := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i := range len(d) {
		if i > 0 && (len(d)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(d[i])
	}
	return b.String()
}

// newTracker returns the template of every rule's cost tracker: CEL's default cost model
// (the environment configures no other), stopping the rule with CEL's cost-limit error once
// it has spent its Limit, which evaluate sets to what is left of the budget.
func newTracker() (*cost.Tracker, error) {
	return cost.NewTracker(nil,
		cost.TrackerLimitExceededHandler(func() {
			panic(interpreter.EvalCancelledError{Cause: interpreter.CostLimitExceeded, Message: "operation cancelled: actual cost limit exceeded"})
		}))
}
