package party

import (
	"strings"
	"testing"
	"time"
)

// FuzzBreakGlassRequest: what a deployment administrator asks for is accepted only within its
// bounds, and then with a window of 1m to 24h.
func FuzzBreakGlassRequest(f *testing.F) {
	for _, s := range []struct {
		reason string
		d      int64
	}{
		{"ticket 42: acme's administrator is away", int64(time.Hour)}, {"", 0}, {"x", int64(25 * time.Hour)},
		{"line\nbreak", int64(time.Minute)}, {strings.Repeat("r", 1025), int64(time.Hour)}, {"ok", -1}, {"  ", int64(time.Hour)},
	} {
		f.Add(s.reason, s.d)
	}
	f.Fuzz(func(t *testing.T, reason string, d int64) {
		got, err := CheckAccessRequest(reason, time.Duration(d))
		if err != nil {
			return
		}
		if got < time.Minute || got > MaxAccess || (d != 0 && got != time.Duration(d)) {
			t.Fatalf("window %s accepted for %d", got, d)
		}
		if strings.TrimSpace(reason) == "" || len(reason) > MaxAccessReason || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("reason %q accepted", reason)
		}
	})
}

// FuzzTokenBounds: a lifetime or overlap outside the deployment's bounds is refused, and one
// inside is kept as asked (zero lifetime: the maximum).
func FuzzTokenBounds(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(90*24*time.Hour), int64(24*time.Hour))
	f.Add(int64(time.Second), int64(-time.Hour))
	f.Add(int64(400*24*time.Hour), int64(8*24*time.Hour))
	f.Fuzz(func(t *testing.T, life, overlap int64) {
		got, err := CheckLifetime(time.Duration(life), DefaultTokenLifetime)
		if err == nil && (got < MinTokenLifetime || got > DefaultTokenLifetime || (life != 0 && got != time.Duration(life))) {
			t.Fatalf("lifetime %d accepted as %s", life, got)
		}
		if err != nil && life == 0 {
			t.Fatalf("no lifetime asked, refused: %v", err)
		}
		if err := CheckOverlap(time.Duration(overlap), DefaultMaxOverlap); (err == nil) != (overlap >= 0 && time.Duration(overlap) <= DefaultMaxOverlap) {
			t.Fatalf("overlap %d: %v", overlap, err)
		}
	})
}
