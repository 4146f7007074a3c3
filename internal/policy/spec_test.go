package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

var update = flag.Bool("update", false, "rewrite testdata/*-default.json from the default policies")

func rulesJSON(n int) string {
	var b strings.Builder
	b.WriteString(`{"rules":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"r%d","expr":"true"}`, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestParseSpec(t *testing.T) {
	long := strings.Repeat("true && ", MaxExprBytes/8) + "true"
	tests := []struct {
		name string
		doc  string
		kind failure.Kind // Unclassified: accepted
		want string       // in the error
	}{
		{"minimal", `{"rules":[{"name":"a","expr":"true"}]}`, 0, ""},
		{"with message and approval", `{"rules":[{"name":"a-1","expr":"true","message":"m"}],"require_approval":"false"}`, 0, ""},
		{"64 rules", rulesJSON(64), 0, ""},
		{"not json", `rules: []`, failure.Invalid, "not a valid policy document"},
		{"unknown field", `{"rules":[{"name":"a","expr":"true"}],"mode":"audit"}`, failure.Invalid, `unknown field "mode"`},
		{"unknown rule field", `{"rules":[{"name":"a","expr":"true","severity":1}]}`, failure.Invalid, `unknown field "severity"`},
		{"field in another case", `{"rules":[{"name":"a","Expr":"true"}]}`, failure.Invalid, `unknown field "Expr"`},
		{"field given twice", `{"rules":[{"name":"a","expr":"false","expr":"true"}]}`, failure.Invalid, `duplicate field "expr"`},
		{"rules given twice", `{"rules":[{"name":"a","expr":"false"}],"rules":[{"name":"a","expr":"true"}]}`, failure.Invalid, `duplicate field "rules"`},
		{"nested arrays and approval", `{"require_approval":"true","rules":[{"message":"m","name":"a","expr":"[[1],[2]].size() == 2"}]}`, 0, ""},
		{"trailing data", `{"rules":[{"name":"a","expr":"true"}]} {}`, failure.Invalid, "after the policy document"},
		{"no rules", `{"rules":[]}`, failure.Invalid, "at least one rule"},
		{"null", `null`, failure.Invalid, "at least one rule"},
		{"too many rules", rulesJSON(65), failure.Invalid, "65 rules; the limit is 64"},
		{"oversized document", `{"rules":[{"name":"a","expr":"true"}],"require_approval":"` + strings.Repeat(" ", MaxSpecBytes) + `"}`, failure.TooLarge, "the limit is 65536"},
		{"bad name", `{"rules":[{"name":"Firmware_OK","expr":"true"}]}`, failure.Invalid, `name "Firmware_OK" must match`},
		{"empty name", `{"rules":[{"name":"","expr":"true"}]}`, failure.Invalid, "rule 1: name"},
		{"long name", `{"rules":[{"name":"` + strings.Repeat("a", 64) + `","expr":"true"}]}`, failure.Invalid, "must match"},
		{"duplicate name", `{"rules":[{"name":"a","expr":"true"},{"name":"a","expr":"false"}]}`, failure.Invalid, `rule "a": the name is used twice`},
		{"empty expr", `{"rules":[{"name":"a","expr":""}]}`, failure.Invalid, `rule "a": expression is empty`},
		{"oversized expr", `{"rules":[{"name":"a","expr":"` + long + `"}]}`, failure.Invalid, "the limit is 4096"},
		{"oversized message", `{"rules":[{"name":"a","expr":"true","message":"` + strings.Repeat("m", MaxMessage+1) + `"}]}`, failure.Invalid, "message is 1025 bytes"},
		{"oversized approval", `{"rules":[{"name":"a","expr":"true"}],"require_approval":"` + long + `"}`, failure.Invalid, "require_approval: expression is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSpec([]byte(tt.doc))
			if tt.kind == failure.Unclassified {
				if err != nil {
					t.Fatalf("ParseSpec: %v", err)
				}
				if len(s.Rules) == 0 {
					t.Fatal("no rules decoded")
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSpec accepted %.80s", tt.doc)
			}
			if got := failure.KindOf(err); got != tt.kind {
				t.Errorf("kind %v, want %v (%v)", got, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestTestdataPolicies checks that every policy file parses and compiles, and that the
// *-default.json files are the default policies (go test -update rewrites them).
func TestTestdataPolicies(t *testing.T) {
	defaults := map[string]*Spec{"onboarding-default.json": DefaultOnboarding(), "renewal-default.json": DefaultRenewal()}
	if *update {
		for name, s := range defaults {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("testdata", name), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) < 4 {
		t.Fatalf("policy files: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseSpec(data)
			if err != nil {
				t.Fatalf("ParseSpec: %v", err)
			}
			if _, err := Compile(s, 1); err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if want, ok := defaults[filepath.Base(f)]; ok && !reflect.DeepEqual(s, want) {
				t.Errorf("%s differs from the default policy; run go test -update", f)
			}
		})
	}
}

// TestDefaultsRoundTrip checks that a default policy survives JSON, as the operational
// service stores it.
func TestDefaultsRoundTrip(t *testing.T) {
	for name, s := range map[string]*Spec{"onboarding": DefaultOnboarding(), "renewal": DefaultRenewal()} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseSpec(b)
		if err != nil {
			t.Fatalf("%s: ParseSpec: %v", name, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("%s: round trip changed the policy", name)
		}
		if bytes.Contains(b, []byte("require_approval")) {
			t.Errorf("%s: empty require_approval is serialized", name)
		}
	}
}
