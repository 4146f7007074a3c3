package status

import (
	"testing"
	"time"
)

// TestCRLPause: building CRLs takes at most a fifth of a CPU, and the rest is bounded.
func TestCRLPause(t *testing.T) {
	for _, c := range []struct{ spent, interval, want time.Duration }{
		{0, time.Hour, 0},
		{5 * time.Millisecond, time.Hour, 20 * time.Millisecond},
		{2 * time.Second, time.Hour, 8 * time.Second},
		{2 * time.Second, 20 * time.Second, 5 * time.Second}, // a quarter of the interval at most
	} {
		if got := crlPause(c.spent, c.interval); got != c.want {
			t.Errorf("crlPause(%v, %v) = %v, want %v", c.spent, c.interval, got, c.want)
		}
	}
}
