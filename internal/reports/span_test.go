package reports

import (
	"testing"
	"time"
)

func TestParseSpan(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * day, true},
		{"2w", 14 * day, true},
		{"12h", 12 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0d", 0, false},
		{"-1d", 0, false},
		{"-1h", 0, false},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"", 0, false},
	} {
		got, err := ParseSpan(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSpan(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestTrendInstants(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		o     TrendOptions
		n     int
		first time.Time
		ok    bool
	}{
		{"no trend", TrendOptions{}, 0, time.Time{}, true},
		{"30 days daily", TrendOptions{Since: 30 * 24 * time.Hour, Every: 24 * time.Hour}, 31, now.Add(-30 * 24 * time.Hour), true},
		{"step longer than span", TrendOptions{Since: time.Hour, Every: 2 * time.Hour}, 1, now, true},
		{"since alone", TrendOptions{Since: time.Hour}, 0, time.Time{}, false},
		{"too many points", TrendOptions{Since: 1000 * time.Hour, Every: time.Hour}, 0, time.Time{}, false},
	} {
		got, err := tc.o.instants(now)
		if (err == nil) != tc.ok || len(got) != tc.n {
			t.Errorf("%s: %d instants, %v; want %d, ok=%v", tc.name, len(got), err, tc.n, tc.ok)
			continue
		}
		if tc.n > 0 && (!got[0].Equal(tc.first) || !got[tc.n-1].Equal(now)) {
			t.Errorf("%s: instants from %s to %s", tc.name, got[0], got[tc.n-1])
		}
	}
}
