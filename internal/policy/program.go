package policy

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Evaluation limits.
const (
	// RuleCostLimit bounds the runtime cost of one rule (and of RequireApproval), in CEL cost
	// units (about one per operation or per element visited by a comprehension).
	RuleCostLimit = 100_000
	// interruptEvery is how many comprehension iterations pass between checks of the context.
	interruptEvery = 64
	// recursionLimit bounds the parser's nesting depth.
	recursionLimit = 64
)

// ApprovalName is the name a Failure carries when RequireApproval failed to evaluate.
// Rule names cannot contain '_', so it never collides with a rule.
const ApprovalName = "require_approval"

// env is the one CEL environment every policy compiles in; it is immutable once built.
var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(
			reflect.TypeFor[Device](), reflect.TypeFor[Factory](), reflect.TypeFor[BuildRecord](),
			reflect.TypeFor[Component](), reflect.TypeFor[Facts](), reflect.TypeFor[Environment](),
			reflect.TypeFor[Operational](),
			ext.ParseStructTag("json"),
		),
		cel.Variable("now", cel.TimestampType),
		cel.Variable("device", cel.ObjectType("policy.Device")),
		cel.Variable("factory", cel.ObjectType("policy.Factory")),
		cel.Variable("build_record", cel.ObjectType("policy.BuildRecord")),
		cel.Variable("facts", cel.ObjectType("policy.Facts")),
		cel.Variable("environment", cel.ObjectType("policy.Environment")),
		cel.Variable("operational", cel.ObjectType("policy.Operational")),
		cel.ParserExpressionSizeLimit(MaxExprBytes),
		cel.ParserRecursionLimit(recursionLimit),
	)
})

// Program is a compiled policy. It is immutable and safe for concurrent use.
type Program struct {
	version  int
	rules    []compiled
	approval *compiled
}

type compiled struct {
	name, message string
	prg           cel.Program
}

// Compile validates s (Spec.Validate) and type-checks every rule, and RequireApproval, against
// the input variables; each must have type bool. version is recorded in every Decision.
// Errors are failure.Invalid, name the rule and carry CEL's message.
func Compile(s *Spec, version int) (*Program, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("policy: building the CEL environment: %w", err)
	}
	p := &Program{version: version, rules: make([]compiled, 0, len(s.Rules))}
	for _, r := range s.Rules {
		msg := r.Message
		if msg == "" {
			msg = r.Expr
		}
		c, err := compileExpr(e, r.Name, r.Expr, msg)
		if err != nil {
			return nil, failure.New(failure.Invalid, "policy: rule %q: %v", r.Name, err)
		}
		p.rules = append(p.rules, c)
	}
	if s.RequireApproval != "" {
		c, err := compileExpr(e, ApprovalName, s.RequireApproval, "approval required")
		if err != nil {
			return nil, failure.New(failure.Invalid, "policy: require_approval: %v", err)
		}
		p.approval = &c
	}
	return p, nil
}

func compileExpr(e *cel.Env, name, expr, msg string) (compiled, error) {
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return compiled{}, fmt.Errorf("%s", strings.TrimPrefix(iss.Err().Error(), "ERROR: "))
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) {
		return compiled{}, fmt.Errorf("the expression has type %s; a rule must have type bool", t)
	}
	prg, err := e.Program(ast,
		cel.CostLimit(RuleCostLimit),
		cel.InterruptCheckFrequency(interruptEvery),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return compiled{}, err
	}
	return compiled{name: name, message: msg, prg: prg}, nil
}

// Version is the policy version recorded in every Decision.
func (p *Program) Version() int { return p.version }

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
	// Evaluated is the number of rules evaluated (RequireApproval not counted).
	Evaluated int `json:"evaluated"`
	// Cost is the CEL runtime cost of the whole evaluation.
	Cost uint64 `json:"cost"`
}

// Failure is one rule that denied.
type Failure struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`         // the rule's Message, or its expression
	Error   string `json:"error,omitempty"` // set when the rule failed to evaluate
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

// Err is nil when the decision allows. Otherwise it is a failure.Denied error whose message
// names the policy version and every failed rule, or says that approval is required.
func (d Decision) Err() error {
	switch {
	case d.Allowed:
		return nil
	case d.ApprovalRequired:
		return failure.New(failure.Denied, "policy v%d requires an operator's approval", d.Version)
	}
	parts := make([]string, len(d.Failed))
	for i, f := range d.Failed {
		parts[i] = f.String()
	}
	return failure.New(failure.Denied, "policy v%d denied: %s", d.Version, strings.Join(parts, "; "))
}

// Evaluate is EvaluateContext without cancellation.
func (p *Program) Evaluate(in Input) Decision {
	return p.EvaluateContext(context.Background(), in)
}

// EvaluateContext evaluates every rule over in and decides. It never returns an error: a rule
// that is false, fails to evaluate, exceeds RuleCostLimit or is interrupted by ctx denies, and
// is named in Decision.Failed. RequireApproval is evaluated only when every rule held.
func (p *Program) EvaluateContext(ctx context.Context, in Input) Decision {
	in = in.normalized()
	act, err := interpreter.NewActivation(map[string]any{
		"now":          in.Now,
		"device":       &in.Device,
		"factory":      &in.Factory,
		"build_record": &in.BuildRecord,
		"facts":        &in.Facts,
		"environment":  &in.Environment,
		"operational":  in.Operational,
	})
	d := Decision{Version: p.version}
	if err != nil { // cannot happen with a map; deny all the same
		d.Failed = append(d.Failed, Failure{Rule: "_inputs", Message: "binding the inputs", Error: err.Error()})
		return d
	}
	for _, r := range p.rules {
		ok, cost, errText := r.eval(ctx, act)
		d.Evaluated++
		d.Cost += cost
		if !ok {
			d.Failed = append(d.Failed, Failure{Rule: r.name, Message: r.message, Error: errText})
		}
	}
	if len(d.Failed) > 0 {
		return d
	}
	if p.approval != nil {
		ok, cost, errText := p.approval.eval(ctx, act)
		d.Cost += cost
		if errText != "" {
			d.Failed = append(d.Failed, Failure{Rule: ApprovalName, Message: p.approval.message, Error: errText})
			return d
		}
		if ok {
			d.ApprovalRequired = true
			return d
		}
	}
	d.Allowed = true
	return d
}

// eval runs one program; ok is true only for a bool true result. errText is set when
// evaluation failed.
func (c *compiled) eval(ctx context.Context, act interpreter.Activation) (ok bool, cost uint64, errText string) {
	out, det, err := c.prg.ContextEval(ctx, act)
	if det != nil && det.ActualCost() != nil {
		cost = *det.ActualCost()
	}
	if err != nil {
		return false, cost, err.Error()
	}
	b, isBool := out.(types.Bool)
	if !isBool {
		return false, cost, fmt.Sprintf("the rule produced %s, not a bool", out.Type())
	}
	return bool(b), cost, ""
}
