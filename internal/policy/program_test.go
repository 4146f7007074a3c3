package policy

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

func rule(name, expr string) Rule { return Rule{Name: name, Expr: expr} }

func TestCompileErrors(t *testing.T) {
	many := make([]Rule, MaxRules+1)
	for i := range many {
		many[i] = rule(fmt.Sprintf("r%d", i), "true")
	}
	tests := []struct {
		name string
		spec *Spec
		want []string // all in the error
	}{
		{"nil spec", nil, []string{"no policy"}},
		{"no rules", &Spec{}, []string{"at least one rule"}},
		{"syntax", &Spec{Rules: []Rule{rule("ok", "true"), rule("broken", `device.state == "active" &&`)}}, []string{`rule "broken"`, "Syntax error"}},
		{"non-bool int", &Spec{Rules: []Rule{rule("sum", "1 + 1")}}, []string{`rule "sum"`, "type int", "must have type bool"}},
		{"non-bool string", &Spec{Rules: []Rule{rule("state", "device.state")}}, []string{`rule "state"`, "type string"}},
		{"non-bool duration", &Spec{Rules: []Rule{rule("age", "operational.age")}}, []string{"type google.protobuf.Duration"}},
		{"dyn is not bool", &Spec{Rules: []Rule{rule("dyn", "dyn(true)")}}, []string{"type dyn"}},
		{"unknown variable", &Spec{Rules: []Rule{rule("tenant", `tenant.id == "x"`)}}, []string{`rule "tenant"`, "undeclared reference to 'tenant'"}},
		{"unknown field", &Spec{Rules: []Rule{rule("typo", "!factory.revokd")}}, []string{`rule "typo"`, "undefined field 'revokd'"}},
		{"wrong field type", &Spec{Rules: []Rule{rule("types", `factory.revoked == "no"`)}}, []string{`rule "types"`, "no matching overload"}},
		{"unknown function", &Spec{Rules: []Rule{rule("fn", `lookup(device.id)`)}}, []string{"undeclared reference to 'lookup'"}},
		{"duplicate name", &Spec{Rules: []Rule{rule("a", "true"), rule("a", "false")}}, []string{`rule "a": the name is used twice`}},
		{"bad name", &Spec{Rules: []Rule{rule("No Spaces", "true")}}, []string{"must match"}},
		{"too many rules", &Spec{Rules: many}, []string{"65 rules; the limit is 64"}},
		{"oversized expr", &Spec{Rules: []Rule{rule("big", strings.Repeat("true && ", 600)+"true")}}, []string{`rule "big"`, "the limit is 4096"}},
		{"deep nesting", &Spec{Rules: []Rule{rule("deep", strings.Repeat("(", 200)+"true"+strings.Repeat(")", 200))}}, []string{`rule "deep"`}},
		{"approval syntax", &Spec{Rules: []Rule{rule("a", "true")}, RequireApproval: "device.state =="}, []string{"require_approval", "Syntax error"}},
		{"approval non-bool", &Spec{Rules: []Rule{rule("a", "true")}, RequireApproval: "device.lot"}, []string{"require_approval", "type string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.spec, 1)
			if err == nil {
				t.Fatalf("Compile accepted the policy: %v", p)
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
}

func TestEvaluate(t *testing.T) {
	spec := &Spec{Rules: []Rule{
		{Name: "factory-young", Expr: `now - factory.not_before < duration("87600h")`},
		{Name: "firmware-matches", Expr: `facts.firmware_digest == build_record.firmware_digest`, Message: "firmware drifted"},
		{Name: "test-passed", Expr: `build_record.test_result == "pass"`},
		{Name: "revision", Expr: `facts.hardware_revision in ["B", "C"]`},
		{Name: "secure-boot", Expr: `facts.extra["secure_boot"] == "on"`},
		{Name: "has-tpm", Expr: `build_record.components.exists(c, c.name == "tpm")`},
		{Name: "mqtt", Expr: `"mqtt" in environment.services`},
		{Name: "lifetime", Expr: `environment.max_lifetime <= duration("24h")`},
	}}
	p := mustCompile(t, spec, 7)
	tests := []struct {
		name   string
		modify func(*Input)
		failed []string
	}{
		{"healthy device", func(*Input) {}, nil},
		{"old factory certificate", func(in *Input) { in.Now = in.Factory.NotBefore.Add(10*365*24*time.Hour + time.Second) }, []string{"factory-young"}},
		{"firmware drift", func(in *Input) { in.Facts.FirmwareDigest = strings.Repeat("0", 64) }, []string{"firmware-matches"}},
		{"failed test", func(in *Input) { in.BuildRecord.TestResult = "fail" }, []string{"test-passed"}},
		{"revision A", func(in *Input) { in.Facts.HardwareRevision = "A" }, []string{"revision"}},
		{"no tpm", func(in *Input) { in.BuildRecord.Components = in.BuildRecord.Components[1:] }, []string{"has-tpm"}},
		{"no services", func(in *Input) { in.Environment.Services = nil }, []string{"mqtt"}},
		{"long lifetime", func(in *Input) { in.Environment.MaxLifetime = 48 * time.Hour }, []string{"lifetime"}},
		{"several failures, policy order", func(in *Input) {
			in.Facts.HardwareRevision = "D"
			in.BuildRecord.TestResult = "fail"
			in.Facts.FirmwareDigest = "00"
		}, []string{"firmware-matches", "test-passed", "revision"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := onboardingInput()
			tt.modify(&in)
			d := p.Evaluate(in)
			if d.Version != 7 || d.Evaluated != len(spec.Rules) {
				t.Errorf("version %d evaluated %d, want 7 and %d", d.Version, d.Evaluated, len(spec.Rules))
			}
			if got := failedNames(d); !reflect.DeepEqual(got, tt.failed) {
				t.Fatalf("failed %v, want %v (%+v)", got, tt.failed, d)
			}
			if d.Allowed != (len(tt.failed) == 0) {
				t.Errorf("allowed = %v with failures %v", d.Allowed, tt.failed)
			}
			if d.Allowed != (d.Err() == nil) || d.Allowed != (d.Outcome() == "allow") {
				t.Errorf("Err %v / Outcome %q disagree with allowed %v", d.Err(), d.Outcome(), d.Allowed)
			}
			for _, f := range d.Failed {
				if f.Error != "" {
					t.Errorf("rule %s: unexpected evaluation error %q", f.Rule, f.Error)
				}
				if !failure.Is(d.Err(), failure.Denied) || !strings.Contains(d.Err().Error(), f.Rule) {
					t.Errorf("Err() = %v; want denied naming %s", d.Err(), f.Rule)
				}
			}
		})
	}
	t.Run("message or expression reported", func(t *testing.T) {
		in := onboardingInput()
		in.Facts.FirmwareDigest = "00"
		in.BuildRecord.TestResult = "fail"
		d := p.Evaluate(in)
		want := []Failure{
			{Rule: "firmware-matches", Message: "firmware drifted"},
			{Rule: "test-passed", Message: `build_record.test_result == "pass"`},
		}
		if !reflect.DeepEqual(d.Failed, want) {
			t.Errorf("failed %+v, want %+v", d.Failed, want)
		}
		if got, w := d.Err().Error(), `policy v7 denied: rule firmware-matches (firmware drifted); rule test-passed (build_record.test_result == "pass")`; got != w {
			t.Errorf("Err() = %q, want %q", got, w)
		}
	})
}

func TestEvaluationErrorsDeny(t *testing.T) {
	tests := []struct {
		name, expr, errText string
		modify              func(*Input)
	}{
		{"missing map key", `facts.extra["attestation"] == "ok"`, "no such key: attestation", nil},
		{"bad conversion", `int(facts.extra["secure_boot"]) > 0`, "", nil},
		{"division by zero", `1 / (size(device.lot) - size(device.lot)) == 0`, "division by zero", nil},
		{"timestamp overflow", `factory.not_after + duration("87600h") > now`, "", nil},
		{"bad regex", `device.serial.matches(device.lot + "(")`, "", nil},
		{"error not absorbed by negation", `!(facts.extra["missing"] == "x")`, "no such key", nil},
		{"index out of range", `build_record.components[5].name == "tpm"`, "index", nil},
		{"operational absent at onboarding", `operational.serial.startsWith("7e")`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(&Spec{Rules: []Rule{rule("ok", "true"), rule("broken", tt.expr)}}, 3)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			d := p.Evaluate(onboardingInput())
			if d.Allowed {
				t.Fatalf("an evaluation error allowed: %+v", d)
			}
			if got := failedNames(d); !reflect.DeepEqual(got, []string{"broken"}) {
				t.Fatalf("failed %v, want [broken]", got)
			}
			f := d.Failed[0]
			if tt.name == "operational absent at onboarding" {
				return // evaluates to false (zero serial), which denies without an error
			}
			if f.Error == "" || !strings.Contains(f.Error, tt.errText) {
				t.Errorf("error text %q, want one containing %q", f.Error, tt.errText)
			}
			if !strings.Contains(d.Err().Error(), f.Error) {
				t.Errorf("Err() = %q does not carry the evaluation error", d.Err())
			}
		})
	}
}

func TestRequireApproval(t *testing.T) {
	spec := &Spec{
		Rules:           []Rule{rule("test-passed", `build_record.test_result == "pass"`)},
		RequireApproval: `device.state == "released" || facts.extra["secure_boot"] != "on"`,
	}
	p := mustCompile(t, spec, 4)
	tests := []struct {
		name     string
		modify   func(*Input)
		spec     *Spec
		outcome  string
		failed   []string
		errorSet bool
	}{
		{"no approval needed", func(*Input) {}, spec, "allow", nil, false},
		{"released device needs approval", func(in *Input) { in.Device.State = "released" }, spec, "approval-required", nil, false},
		{"denial wins over approval", func(in *Input) {
			in.Device.State = "released"
			in.BuildRecord.TestResult = "fail"
		}, spec, "deny", []string{"test-passed"}, false},
		{"approval expression error denies", func(*Input) {}, &Spec{Rules: spec.Rules, RequireApproval: `facts.extra["ticket"] == ""`}, "deny", []string{ApprovalName}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pp := p
			if tt.spec != spec {
				pp = mustCompile(t, tt.spec, 4)
			}
			in := onboardingInput()
			tt.modify(&in)
			d := pp.Evaluate(in)
			if d.Outcome() != tt.outcome || !reflect.DeepEqual(failedNames(d), tt.failed) {
				t.Fatalf("decision %+v (%s), want %s with failures %v", d, d.Outcome(), tt.outcome, tt.failed)
			}
			if d.ApprovalRequired && d.Allowed {
				t.Error("approval required and allowed at once")
			}
			if tt.errorSet && d.Failed[0].Error == "" {
				t.Error("no error text")
			}
			if d.Outcome() == "approval-required" && !failure.Is(d.Err(), failure.Denied) {
				t.Errorf("Err() = %v, want denied", d.Err())
			}
		})
	}
}

func TestDefaultOnboarding(t *testing.T) {
	p := mustCompile(t, DefaultOnboarding(), 1)
	tests := []struct {
		name   string
		modify func(*Input)
		failed []string
	}{
		{"registered device", func(*Input) {}, nil},
		{"released device returns", func(in *Input) { in.Device.State = "released" }, nil},
		{"no facts reported", func(in *Input) { in.Facts = Facts{} }, nil},
		{"upper-case digest matches", func(in *Input) { in.Facts.FirmwareDigest = strings.ToUpper(in.BuildRecord.FirmwareDigest) }, nil},
		{"factory revoked", func(in *Input) { in.Factory.Revoked = true }, []string{"factory-not-revoked"}},
		{"factory not yet valid", func(in *Input) { in.Now = in.Factory.NotBefore.Add(-time.Minute) }, []string{"factory-current"}},
		{"factory expired", func(in *Input) { in.Factory.NotAfter = in.Now }, []string{"factory-current"}},
		{"test failed", func(in *Input) { in.BuildRecord.TestResult = "fail" }, []string{"build-test-passed"}},
		{"build record of another device", func(in *Input) { in.BuildRecord.Serial = "SN-0002" }, []string{"build-record-names-device"}},
		{"firmware drift", func(in *Input) { in.Facts.FirmwareDigest = strings.Repeat("ab", 32) }, []string{"firmware-matches-build"}},
		{"hardware swapped", func(in *Input) { in.Facts.HardwareRevision = "C" }, []string{"hardware-matches-build"}},
		{"already active", func(in *Input) { in.Device.State = "active" }, []string{"device-onboardable"}},
		{"active with a current certificate", func(in *Input) {
			in.Device.State = "active"
			in.Operational = &Operational{Serial: "ab", IssuedAt: in.Now.Add(-time.Hour), NotAfter: in.Now.Add(time.Hour)}
		}, []string{"device-onboardable"}},
		{"active with a lapsed certificate", func(in *Input) {
			in.Device.State = "active"
			in.Operational = &Operational{Serial: "ab", IssuedAt: in.Now.Add(-2 * time.Hour), NotAfter: in.Now.Add(-time.Hour)}
		}, nil},
		{"quarantined", func(in *Input) { in.Device.State = "quarantined" }, []string{"device-onboardable"}},
		{"suspended and revoked", func(in *Input) {
			in.Device.State = "suspended"
			in.Factory.Revoked = true
		}, []string{"factory-not-revoked", "device-onboardable"}},
		{"an external device has no build record", func(in *Input) {
			in.Device.Origin, in.Device.Maker, in.BuildRecord = "external", "acme-sensors", BuildRecord{}
			in.Facts.HardwareRevision = "C"
		}, nil},
		{"an external device with a revoked factory identity", func(in *Input) {
			in.Device.Origin, in.BuildRecord, in.Factory.Revoked = "external", BuildRecord{}, true
		}, []string{"factory-not-revoked"}},
		{"a device of this deployment without a build record", func(in *Input) {
			in.BuildRecord = BuildRecord{}
			in.Facts = Facts{}
		}, []string{"build-test-passed", "build-record-names-device"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := onboardingInput()
			tt.modify(&in)
			d := p.Evaluate(in)
			if got := failedNames(d); !reflect.DeepEqual(got, tt.failed) || d.Allowed != (len(tt.failed) == 0) {
				t.Errorf("allowed %v failed %v, want failed %v", d.Allowed, got, tt.failed)
			}
		})
	}
}

func TestDefaultRenewal(t *testing.T) {
	p := mustCompile(t, DefaultRenewal(), 2)
	tests := []struct {
		name   string
		modify func(*Input)
		failed []string
	}{
		{"active device", func(*Input) {}, nil},
		{"firmware updated since build", func(in *Input) { in.Facts.FirmwareDigest = strings.Repeat("ab", 32) }, nil},
		{"at max age", func(in *Input) { in.Operational.IssuedAt = in.Now.Add(-in.Environment.MaxAge) }, []string{"within-max-age"}},
		{"caller's age ignored", func(in *Input) {
			in.Operational.Age = time.Hour
			in.Operational.IssuedAt = in.Now.Add(-100 * time.Hour)
		}, []string{"within-max-age"}},
		{"no operational identity", func(in *Input) { in.Operational = nil }, []string{"within-max-age"}},
		{"quarantined", func(in *Input) { in.Device.State = "quarantined" }, []string{"device-active"}},
		{"suspended by a lot revocation", func(in *Input) {
			in.Device.State = "suspended"
			in.Factory.Revoked = true
		}, []string{"device-active", "factory-not-revoked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := renewalInput()
			tt.modify(&in)
			d := p.Evaluate(in)
			if got := failedNames(d); !reflect.DeepEqual(got, tt.failed) || d.Allowed != (len(tt.failed) == 0) || d.Version != 2 {
				t.Errorf("decision %+v, want failed %v", d, tt.failed)
			}
		})
	}
}

func TestStrictPolicies(t *testing.T) {
	load := func(name string) *Program {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseSpec(data)
		if err != nil {
			t.Fatal(err)
		}
		return mustCompile(t, s, 5)
	}
	on := load("onboarding-strict.json")
	if d := on.Evaluate(onboardingInput()); !d.Allowed {
		t.Errorf("strict onboarding denied a healthy device: %v", d.Err())
	}
	in := onboardingInput()
	in.Device.State = "released"
	if d := on.Evaluate(in); d.Outcome() != "approval-required" {
		t.Errorf("strict onboarding of a released device: %s, want approval-required", d.Outcome())
	}
	in = onboardingInput()
	in.Device.Custodian = "dist-ship-co"
	in.Facts.Extra = nil
	if d := on.Evaluate(in); !reflect.DeepEqual(failedNames(d), []string{"secure-boot-on", "held-by-operator"}) {
		t.Errorf("failed %v", failedNames(d))
	}
	rn := load("renewal-strict.json")
	if d := rn.Evaluate(renewalInput()); !d.Allowed {
		t.Errorf("strict renewal denied: %v", d.Err())
	}
	in = renewalInput()
	in.Operational.NotAfter = in.Now.Add(-time.Minute)
	in.Operational.Renewals = 90
	if d := rn.Evaluate(in); !reflect.DeepEqual(failedNames(d), []string{"not-lapsed", "renewal-budget"}) {
		t.Errorf("failed %v", failedNames(d))
	}
}

func TestEvaluateLeavesInputAlone(t *testing.T) {
	p := mustCompile(t, DefaultRenewal(), 1)
	in := renewalInput()
	before := renewalInput()
	p.Evaluate(in)
	if !reflect.DeepEqual(in, before) {
		t.Error("Evaluate changed its input")
	}
}

// TestConcurrentEvaluate runs one Program from 16 goroutines; run it with -race.
func TestConcurrentEvaluate(t *testing.T) {
	p := mustCompile(t, DefaultRenewal(), 9)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				in := renewalInput()
				deny := (g+i)%3 == 0
				if deny {
					in.Device.State = "suspended"
				}
				d := p.Evaluate(in)
				if d.Allowed == deny || d.Version != 9 {
					errs <- fmt.Sprintf("goroutine %d iteration %d: %+v", g, i, d)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p := mustCompile(b, DefaultRenewal(), 1)
	in := renewalInput()
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Evaluate(in); !d.Allowed {
			b.Fatal(d.Err())
		}
	}
}
