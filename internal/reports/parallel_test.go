package reports

import (
	"sync/atomic"
	"testing"
)

// TestInParallel: every index is handed out exactly once, whatever the number of workers.
func TestInParallel(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		seen := make([]atomic.Int32, n)
		inParallel(n, func(i int) { seen[i].Add(1) })
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n=%d: index %d ran %d times", n, i, c)
			}
		}
	}
}
