package party

import (
	"strings"
	"testing"
	"time"
)

// TestNewIDSortsByTime checks what NewID promises: the prefix, 26 characters of base32
// (lower case) after it, no repeats, and IDs made in a later millisecond sort after earlier
// ones, as the indexes keyed by them rely on.
func TestNewIDSortsByTime(t *testing.T) {
	const n = 5000
	seen := make(map[string]bool, n)
	var prev string
	for i := range n {
		id := NewID("dev")
		rest, ok := strings.CutPrefix(id, "dev_")
		if !ok || len(rest) != 26 || strings.Trim(rest, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("NewID = %q, want dev_ and 26 characters of [0-9a-z]", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		if i%500 == 0 {
			if prev != "" && id[:14] <= prev[:14] {
				t.Fatalf("%q made after %q does not sort after it", id, prev)
			}
			prev = id
			time.Sleep(2 * time.Millisecond)
		}
	}
}
