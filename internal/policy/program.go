package policy

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Evaluation limits.
const (
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
	budget   uint64
	tracker  *cost.Tracker // the template of every rule's cost tracker; cloned, never changed
	rules    []compiled
	approval *compiled
}

type compiled struct {
	name    string
	excerpt string // of the rule's message (or expression), as denials show it
	prg     cel.Program
	worst   uint64 // static worst-case cost
}

// Compile is CompileBudget with DefaultBudget.
func Compile(s *Spec, version int) (*Program, error) { return CompileBudget(s, version, DefaultBudget) }

// CompileBudget validates s (Spec.Validate) and type-checks every rule, and RequireApproval,
// against the input variables; each must have type bool. version is recorded in every
// Decision. budget (MinBudget to MaxBudget; 0 takes DefaultBudget) bounds the cost of one
// evaluation across all rules. Errors are failure.Invalid, name the rule and carry CEL's
// message. It does not refuse a policy whose worst case exceeds the budget: CheckBudget does,
// when the policy is set.
func CompileBudget(s *Spec, version int, budget uint64) (*Program, error) {
	if budget == 0 {
		budget = DefaultBudget
	}
	if budget < MinBudget || budget > MaxBudget {
		return nil, failure.New(failure.Invalid, "policy: a cost budget of %s is outside %s to %s", units(budget), units(MinBudget), units(MaxBudget))
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("policy: building the CEL environment: %w", err)
	}
	tr, err := newTracker()
	if err != nil {
		return nil, fmt.Errorf("policy: building the cost tracker: %w", err)
	}
	p := &Program{version: version, budget: budget, tracker: tr, rules: make([]compiled, 0, len(s.Rules))}
	for _, r := range s.Rules {
		msg := r.Message
		if msg == "" {
			msg = r.Expr
		}
		c, err := compileExpr(e, r.Name, r.Expr, msg, budget)
		if err != nil {
			return nil, failure.New(failure.Invalid, "policy: rule %q: %v", r.Name, err)
		}
		p.rules = append(p.rules, c)
	}
	if s.RequireApproval != "" {
		c, err := compileExpr(e, ApprovalName, s.RequireApproval, "approval required", budget)
		if err != nil {
			return nil, failure.New(failure.Invalid, "policy: require_approval: %v", err)
		}
		p.approval = &c
	}
	return p, nil
}

func compileExpr(e *cel.Env, name, expr, msg string, budget uint64) (compiled, error) {
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return compiled{}, fmt.Errorf("%s", strings.TrimPrefix(iss.Err().Error(), "ERROR: "))
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) {
		return compiled{}, fmt.Errorf("the expression has type %s; a rule must have type bool", t)
	}
	worst, err := estimate(e, ast)
	if err != nil {
		return compiled{}, fmt.Errorf("estimating its cost: %w", err)
	}
	prg, err := e.Program(ast,
		cel.CostLimit(budget), // turns cost tracking on; evaluate gives each rule what is left
		cel.InterruptCheckFrequency(interruptEvery),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return compiled{}, err
	}
	return compiled{name: name, excerpt: Excerpt(msg, MaxExcerpt), prg: prg, worst: worst}, nil
}

// Version is the policy version recorded in every Decision.
func (p *Program) Version() int { return p.version }

// Evaluate is EvaluateContext without cancellation, for tests and examples: a request's
// evaluation passes its context.
func (p *Program) Evaluate(in Input) Decision {
	return p.EvaluateContext(context.Background(), in)
}

// EvaluateContext evaluates every rule over in and decides. It never returns an error: a rule
// that is false or fails to evaluate denies and is named in Decision.Failed. The rules share
// one cost budget: the rule that spends the rest of it stops with a cost-limit error, and the
// rules after it deny without running; so do the rules left when ctx is done, and a running
// comprehension checks ctx every 64 iterations. RequireApproval is evaluated, under what is
// left of the budget, only when every rule held.
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
	for i := range p.rules {
		r := &p.rules[i]
		ok, errText := p.eval(ctx, r, act, &d.Cost)
		d.Evaluated++
		if !ok {
			d.Failed = append(d.Failed, Failure{Rule: r.name, Message: r.excerpt, Error: errText})
		}
	}
	if len(d.Failed) > 0 {
		return d
	}
	if p.approval != nil {
		ok, errText := p.eval(ctx, p.approval, act, &d.Cost)
		if errText != "" {
			d.Failed = append(d.Failed, Failure{Rule: ApprovalName, Message: p.approval.excerpt, Error: errText})
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

// eval runs one rule under what is left of the budget (budget minus *spent) and adds its cost
// to *spent; ok is true only for a bool true result. errText is set when evaluation failed or
// did not run.
func (p *Program) eval(ctx context.Context, c *compiled, act interpreter.Activation, spent *uint64) (ok bool, errText string) {
	if err := ctx.Err(); err != nil {
		return false, "not evaluated: " + context.Cause(ctx).Error()
	}
	if *spent >= p.budget {
		return false, fmt.Sprintf("not evaluated: cost limit exceeded: the policy's budget of %s CEL cost units is spent", units(p.budget))
	}
	left := p.budget - *spent
	frame, err := interpreter.NewExecutionFrame(act)
	if err != nil {
		return false, err.Error()
	}
	defer frame.Close()
	if err := frame.SetContext(ctx, interruptEvery); err != nil {
		return false, err.Error()
	}
	tr, err := p.tracker.Clone()
	if err != nil {
		return false, err.Error()
	}
	tr.Limit = &left
	frame.SetCostTracker(tr)
	out, _, err := c.prg.Eval(frame)
	*spent += tr.ActualCost()
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		switch {
		case errors.Is(err, interpreter.InterruptError{}):
			return false, Excerpt(fmt.Sprintf("%v: %v", err, context.Cause(ctx)), MaxExcerpt)
		case errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded:
			return false, fmt.Sprintf("cost limit exceeded: the policy's budget of %s CEL cost units is spent", units(p.budget))
		}
		return false, Excerpt(err.Error(), MaxExcerpt)
	}
	b, isBool := out.(types.Bool)
	if !isBool {
		return false, fmt.Sprintf("the rule produced %s, not a bool", out.Type())
	}
	return bool(b), ""
}
