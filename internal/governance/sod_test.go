package governance

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
)

func TestParseDutyLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ownership.Pair
		ok   bool
	}{
		{"operational/issue", ownership.Pair{Stage: ownership.Operational, Duty: ownership.Issue}, true},
		{"custody/transfer", CustodyTransfer, true},
		{"custody/issue", ownership.Pair{}, false},
		{"support/transfer", ownership.Pair{}, false},
		{"Custody/Transfer", ownership.Pair{}, false},
		{"", ownership.Pair{}, false},
	} {
		got, err := ParseDutyLimit(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseDutyLimit(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !failure.Is(err, failure.Invalid) {
			t.Errorf("ParseDutyLimit(%q): kind %v", tc.in, failure.KindOf(err))
		}
	}
}

// FuzzParseDutyLimit: a duty from a request parses to a limit that prints back as itself, or
// is refused as invalid; custody/transfer never parses as a matrix pair.
func FuzzParseDutyLimit(f *testing.F) {
	for _, s := range []string{"operational/issue", "manufacturing/approve", "support/audit", "custody/transfer", "custody/issue", "operational/", "/", "a/b/c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseDutyLimit(s)
		if err != nil {
			if !failure.Is(err, failure.Invalid) {
				t.Fatalf("%q: error of kind %v: %v", s, failure.KindOf(err), err)
			}
			return
		}
		if p.String() != s {
			t.Fatalf("%q parsed as %v", s, p)
		}
		if _, err := ownership.ParsePair(s); (err == nil) == (p == CustodyTransfer) {
			t.Fatalf("%q: the matrix and the limits disagree on it: %v", s, err)
		}
	})
}
