package app

import (
	"testing"
	"time"
)

// TestSnapshotPause: the pause after a round is the configured interval, or four times the
// round's duration when that is longer, so snapshots take at most a fifth of the leader's time.
func TestSnapshotPause(t *testing.T) {
	for _, c := range []struct{ every, took, want time.Duration }{
		{time.Minute, 2 * time.Second, time.Minute},
		{time.Minute, 15 * time.Second, time.Minute},
		{time.Minute, 64 * time.Second, 256 * time.Second},
		{time.Second, 0, time.Second},
		{24 * time.Hour, time.Hour, 24 * time.Hour},
	} {
		if got := snapshotPause(c.every, c.took); got != c.want {
			t.Errorf("snapshotPause(%s, %s) = %s, want %s", c.every, c.took, got, c.want)
		}
	}
}
