package policy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// nestedComponents visits every pair of components: 256² elements at the largest build record.
const nestedComponents = `build_record.components.all(a, build_record.components.all(b, a.name != b.name || a.sha256 == b.sha256))`

// maxStep bounds what one CEL operation on the largest inputs costs: the tracker stops a rule
// at the first operation that takes it over the budget, so an evaluation may spend this much
// more (a string operation on a 4 KiB string costs about 400 units).
const maxStep = 1024

// hostileSpec is the worst case: 64 rules, each as expensive as a rule can be made
// over the largest inputs, then a cheap rule.
func hostileSpec() *Spec {
	rules := make([]Rule, 0, MaxRules)
	for i := range MaxRules - 1 {
		rules = append(rules, rule(fmt.Sprintf("pairs-%d", i), nestedComponents))
	}
	return &Spec{Rules: append(rules, rule("cheap", "true"))}
}

// largestInput carries the largest inputs Hallmark accepts: 256 components, 32 extra facts,
// 64 services.
func largestInput() Input {
	in := onboardingInput()
	in.BuildRecord.Components = make([]Component, 256)
	for i := range in.BuildRecord.Components {
		in.BuildRecord.Components[i] = Component{Name: fmt.Sprintf("part-%03d", i), Version: "1.0." + fmt.Sprint(i), SHA256: strings.Repeat("ab", 32)}
	}
	in.Facts.Extra = map[string]string{}
	for i := range 32 {
		in.Facts.Extra[fmt.Sprintf("fact-%02d", i)] = strings.Repeat("v", 256)
	}
	in.Environment.Services = make([]string, 64)
	for i := range in.Environment.Services {
		in.Environment.Services[i] = fmt.Sprintf("svc-%02d", i)
	}
	return in
}

// TestBudgetCheckedWhenSet: a policy whose worst case exceeds the budget is refused when it is
// set, with an error naming the rule to fix; so is one whose rules are each cheap enough but
// together are not. The default and example policies fit the default budget many times over.
func TestBudgetCheckedWhenSet(t *testing.T) {
	tests := []struct {
		name string
		spec *Spec
		want []string
	}{
		{"the issue's worst case", hostileSpec(), []string{`rule "pairs-0"`, "policy.cost_budget", "100,000"}},
		{"one expensive rule among cheap ones", &Spec{Rules: []Rule{rule("cheap", "true"), rule("pairs", nestedComponents)}}, []string{`rule "pairs"`}},
		{"an unbounded regular expression loop", &Spec{Rules: []Rule{rule("regex", `facts.extra.all(k, build_record.components.all(c, facts.extra[k].matches("^(a|b)*c$")))`)}}, []string{`rule "regex"`}},
		{"each rule fits, the sum does not", sumOver(), []string{"the whole policy up to"}},
		{"require_approval counts too", &Spec{Rules: []Rule{rule("cheap", "true")}, RequireApproval: nestedComponents}, []string{`rule "require_approval"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, tt.spec, 1) // it compiles: a stored policy still loads
			err := p.CheckBudget()
			if err == nil {
				t.Fatalf("worst case %d under a budget of %d was accepted", p.WorstCase(), p.Budget())
			}
			if !failure.Is(err, failure.Invalid) {
				t.Errorf("kind %v, want invalid: %v", failure.KindOf(err), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	for name, s := range map[string]*Spec{"default onboarding": DefaultOnboarding(), "default renewal": DefaultRenewal(), "strict onboarding": loadSpec(t, "onboarding-strict.json"), "strict renewal": loadSpec(t, "renewal-strict.json")} {
		p := mustCompile(t, s, 1)
		if err := p.CheckBudget(); err != nil || p.WorstCase() > DefaultBudget/10 {
			t.Errorf("%s: worst case %d: %v", name, p.WorstCase(), err)
		}
	}
}

// sumOver is 40 rules of about 2,800 units each: every one fits, together they do not.
func sumOver() *Spec {
	var rules []Rule
	for i := range 40 {
		rules = append(rules, rule(fmt.Sprintf("tpm-%d", i), `build_record.components.exists(c, c.name == "tpm" && size(c.sha256) == 64)`))
	}
	return &Spec{Rules: rules}
}

// TestBudgetNearTheLimit: a policy that passes the check with a worst case close to the budget
// evaluates, on the largest inputs, within the budget and allows.
func TestBudgetNearTheLimit(t *testing.T) {
	var rules []Rule
	for i := range 20 {
		rules = append(rules, rule(fmt.Sprintf("parts-%d", i), `build_record.components.all(c, size(c.name) > 0 && c.sha256 != "" && c.version != "x")`))
	}
	p := mustCompile(t, &Spec{Rules: rules}, 1)
	if err := p.CheckBudget(); err != nil {
		t.Fatal(err)
	}
	if w := p.WorstCase(); w < DefaultBudget/2 {
		t.Fatalf("worst case %d is not near the budget of %d", w, DefaultBudget)
	}
	d := p.Evaluate(largestInput())
	if !d.Allowed || d.Evaluated != 20 || d.Cost == 0 || d.Cost > p.WorstCase() {
		t.Fatalf("decision %+v, want allowed at a cost within the worst case %d", d, p.WorstCase())
	}
}

// TestBudgetSharedAtRuntime: a stored policy that was never checked (set before the check
// existed) spends at most one budget per evaluation across all its rules: the rule that
// spends it stops, the rules after it deny without running, and a legitimate policy still
// allows.
func TestBudgetSharedAtRuntime(t *testing.T) {
	p := mustCompile(t, hostileSpec(), 1)
	in := largestInput()
	d := p.Evaluate(in)
	if d.Allowed || len(d.Failed) != MaxRules {
		t.Fatalf("decision allowed or did not deny every rule: %d failed", len(d.Failed))
	}
	// The tracker stops the rule at the first operation over the budget.
	if d.Cost > DefaultBudget+maxStep {
		t.Errorf("one evaluation spent %d, more than the budget of %d", d.Cost, DefaultBudget)
	}
	if !strings.Contains(d.Failed[0].Error, "cost limit exceeded") || !strings.Contains(d.Failed[MaxRules-1].Error, "not evaluated") {
		t.Errorf("failures %q / %q do not say the budget was spent", d.Failed[0].Error, d.Failed[MaxRules-1].Error)
	}
	if d := mustCompile(t, DefaultOnboarding(), 2).Evaluate(in); !d.Allowed {
		t.Errorf("the default policy after the hostile one: %v", d.Err())
	}

	// A smaller budget is one budget too.
	small, err := CompileBudget(hostileSpec(), 1, MinBudget)
	if err != nil {
		t.Fatal(err)
	}
	if d := small.Evaluate(in); d.Cost > MinBudget+maxStep {
		t.Errorf("budget %d: spent %d", MinBudget, d.Cost)
	}
	for _, b := range []uint64{MinBudget - 1, MaxBudget + 1} {
		if _, err := CompileBudget(DefaultRenewal(), 1, b); !failure.Is(err, failure.Invalid) {
			t.Errorf("budget %d: %v, want invalid", b, err)
		}
	}
}

// startingContext is cancelled the moment a rule starts watching it (its first Done call),
// after the check before the rule passed: the evaluation must notice the cancellation inside
// the rule's comprehension.
type startingContext struct {
	context.Context
	once sync.Once
	done chan struct{}
	err  atomic.Pointer[error]
}

func newStartingContext() *startingContext {
	return &startingContext{Context: context.Background(), done: make(chan struct{})}
}

func (c *startingContext) Done() <-chan struct{} {
	c.once.Do(func() {
		err := context.Canceled
		c.err.Store(&err)
		close(c.done)
	})
	return c.done
}

func (c *startingContext) Err() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

// TestCancelledContextStopsEvaluation: the request's context reaches the evaluation. A
// cancelled context denies every rule without running it; one cancelled while a rule runs
// stops the rule's comprehension within 64 iterations.
func TestCancelledContextStopsEvaluation(t *testing.T) {
	p := mustCompile(t, &Spec{Rules: []Rule{rule("loop", `build_record.components.all(c, size(c.name) > 0)`), rule("after", "true")}}, 1)
	in := largestInput()
	full := p.Evaluate(in)
	if !full.Allowed {
		t.Fatalf("uncancelled: %v", full.Err())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := p.EvaluateContext(ctx, in)
	if d.Allowed || len(d.Failed) != 2 || d.Cost != 0 || !strings.Contains(d.Failed[0].Error, "context canceled") {
		t.Errorf("pre-cancelled: %+v, want both rules denied unrun", d)
	}

	d = p.EvaluateContext(newStartingContext(), in)
	if d.Allowed || len(d.Failed) != 2 || !strings.Contains(d.Failed[0].Error, "interrupted") || !strings.Contains(d.Failed[1].Error, "not evaluated") {
		t.Fatalf("cancelled while running: %+v", d)
	}
	if d.Cost >= full.Cost {
		t.Errorf("the interrupted evaluation cost %d, as much as a full one (%d)", d.Cost, full.Cost)
	}
}

// TestDenialsAreBounded: a denial names the rules that failed with a short excerpt of each; a
// policy of 64 failing rules with 4 KiB expressions gives a message of a few KiB, not 256.
func TestDenialsAreBounded(t *testing.T) {
	long := "device.serial == \"" + strings.Repeat("x", MaxExprBytes-40) + "\""
	var rules []Rule
	for i := range MaxRules {
		rules = append(rules, Rule{Name: fmt.Sprintf("rule-%02d", i), Expr: long, Message: strings.Repeat("é", MaxMessage/2)})
	}
	p := mustCompile(t, &Spec{Rules: rules}, 4)
	d := p.Evaluate(onboardingInput())
	if len(d.Failed) != MaxRules {
		t.Fatalf("%d failed, want %d", len(d.Failed), MaxRules)
	}
	for _, f := range d.Failed {
		if len(f.Message) > MaxExcerpt || len(f.Error) > MaxExcerpt || !strings.HasSuffix(f.Message, "…") || !strings.HasPrefix(f.Message, "éé") {
			t.Fatalf("failure %s carries %d bytes of message: %q", f.Rule, len(f.Message), f.Message)
		}
	}
	msg := d.Err().Error()
	if len(msg) > 2048 {
		t.Errorf("the denial is %d bytes", len(msg))
	}
	for _, w := range []string{"policy v4 denied", "rule rule-00 (éé", "rule rule-03", "and 60 more failed rules"} {
		if !strings.Contains(msg, w) {
			t.Errorf("denial %q does not contain %q", msg, w)
		}
	}
	if strings.Contains(msg, "rule-04") {
		t.Errorf("denial lists more than %d rules: %q", maxListed, msg)
	}
	// Expressions are cut the same way when they stand in for a message.
	p = mustCompile(t, &Spec{Rules: []Rule{rule("long", long)}}, 1)
	if f := p.Evaluate(onboardingInput()).Failed[0]; len(f.Message) > MaxExcerpt || !strings.HasPrefix(f.Message, `device.serial == "xxx`) {
		t.Errorf("expression excerpt %q", f.Message)
	}
}

func TestExcerpt(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly-10", 10, "exactly-10"},
		{"0123456789abc", 10, "0123456…"},
		{"ééééé", 6, "é…"}, // never splits a rune
	} {
		if got := Excerpt(tt.in, tt.max); got != tt.want || len(got) > tt.max {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// BenchmarkWorstCase measures the CPU of one evaluation that spends the whole default budget:
// ns/op divided by the budget is the cost of one CEL cost unit (docs/policies.md).
func BenchmarkWorstCase(b *testing.B) {
	p := mustCompile(b, hostileSpec(), 1)
	in := largestInput()
	start := time.Now()
	var spent uint64
	for b.Loop() {
		spent += p.Evaluate(in).Cost
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(spent), "ns/unit")
}
