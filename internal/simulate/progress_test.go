package simulate

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestProgressBarOrLines: the bar is redrawn with carriage returns; the plain form writes whole
// lines only, the last one saying the phase is done.
func TestProgressBarOrLines(t *testing.T) {
	var done atomic.Int64
	done.Store(3)
	var bar, lines bytes.Buffer
	progress(&bar, false, "onboarding", 4, &done, time.Now())()
	progress(&lines, true, "onboarding", 4, &done, time.Now())()
	if !strings.Contains(bar.String(), "[######") || !strings.HasSuffix(bar.String(), "\n") {
		t.Errorf("bar: %q", bar.String())
	}
	l := lines.String()
	if strings.ContainsAny(l, "\r[") || !strings.HasPrefix(l, "onboarding: 3/4, ") || !strings.Contains(l, "done in") || !strings.HasSuffix(l, "\n") {
		t.Errorf("plain lines: %q", l)
	}
}
