package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// FuzzParseAndCompile checks that no document makes ParseSpec, Compile or CheckBudget panic,
// that every refusal is classified, and that whatever compiles evaluates, on the largest
// inputs too, within its budget to a decision that records its version, never allows while
// naming failures, and carries only excerpts of the policy's text.
func FuzzParseAndCompile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"rules":[{"name":"a","expr":"facts.extra[\"k\"] == \"v\""}],"require_approval":"device.state == \"released\""}`))
	f.Add([]byte(`{"rules":[{"name":"a","expr":"environment.services.all(a, environment.services.all(b, a != b))"}]}`))
	f.Add([]byte(`{"rules":[{"name":"a","expr":"build_record.components.all(a, build_record.components.all(b, a.name != b.name))"},{"name":"b","expr":"true"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data)
		if err != nil {
			if k := failure.KindOf(err); k != failure.Invalid && k != failure.TooLarge {
				t.Fatalf("ParseSpec error of kind %v: %v", k, err)
			}
			return
		}
		p, err := Compile(s, 11)
		if err != nil {
			if !failure.Is(err, failure.Invalid) {
				t.Fatalf("Compile error of kind %v: %v", failure.KindOf(err), err)
			}
			return
		}
		if err := p.CheckBudget(); err != nil && !failure.Is(err, failure.Invalid) {
			t.Fatalf("CheckBudget error of kind %v: %v", failure.KindOf(err), err)
		}
		for _, in := range []Input{onboardingInput(), renewalInput(), largestInput()} {
			d := p.Evaluate(in)
			if d.Cost > p.Budget()+maxStep {
				t.Fatalf("decision %+v spent more than the budget %d", d, p.Budget())
			}
			for _, f := range d.Failed {
				if len(f.Message) > MaxExcerpt || len(f.Error) > MaxExcerpt {
					t.Fatalf("failure %+v is longer than an excerpt", f)
				}
			}
			if d.Version != 11 || d.Evaluated != len(s.Rules) {
				t.Fatalf("decision %+v: wrong version or count", d)
			}
			if d.Allowed && (len(d.Failed) > 0 || d.ApprovalRequired) {
				t.Fatalf("decision %+v allows with failures or pending approval", d)
			}
			if !d.Allowed && !d.ApprovalRequired && len(d.Failed) == 0 {
				t.Fatalf("decision %+v denies without naming a rule", d)
			}
		}
	})
}
