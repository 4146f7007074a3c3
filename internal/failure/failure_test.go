package failure

import (
	"fmt"
	"testing"
)

type named string

func (n named) Error() string    { return string(n) }
func (n named) KindName() string { return string(n) }

func TestKindOfByName(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want Kind
	}{
		{"typed", New(NotFound, "x"), NotFound},
		{"named", named("conflict"), Conflict},
		{"named wrapped", fmt.Errorf("step: %w", named("unavailable")), Unavailable},
		{"unknown name", named("not-owner"), Unclassified},
		{"internal", named("internal"), Unclassified},
		{"typed outside named", Wrap(Invalid, named("conflict"), "checking"), Invalid},
		{"plain", fmt.Errorf("plain"), Unclassified},
		{"nil", nil, Unclassified},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestParseKindRoundTrips(t *testing.T) {
	for k := Unclassified; k <= Pending; k++ {
		if got := ParseKind(k.String()); got != k {
			t.Errorf("ParseKind(%q) = %v, want %v", k.String(), got, k)
		}
	}
}
