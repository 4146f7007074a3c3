package app

import (
	"bytes"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/config"
)

// TestTuneGC: the configured memory limit and GC percent take effect and are logged, unless
// GOMEMLIMIT or GOGC is in the environment, which then wins. The test restores the
// collector's settings it found.
func TestTuneGC(t *testing.T) {
	oldLimit, oldPercent := debug.SetMemoryLimit(-1), debug.SetGCPercent(100)
	debug.SetGCPercent(oldPercent)
	t.Cleanup(func() { debug.SetMemoryLimit(oldLimit); debug.SetGCPercent(oldPercent) })

	for _, tc := range []struct {
		name, gomemlimit, gogc string
		wantLimit              int64
		wantPercent            int
		wantLog                string
	}{
		{"config", "", "", 300 << 20, 250, "memory_limit_bytes=314572800 memory_limit_from=limits.memory_limit gc_percent=250 gc_percent_from=limits.gc_percent"},
		{"environment wins", "1GiB", "150", 1 << 30, 150, "memory_limit_bytes=1073741824 memory_limit_from=GOMEMLIMIT gc_percent=150 gc_percent_from=GOGC"},
		{"GOGC off", "", "off", 300 << 20, -1, "gc_percent=off gc_percent_from=GOGC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The runtime reads GOGC and GOMEMLIMIT at start only: set what the
			// environment would have given it, as the process would start with.
			t.Setenv("GOMEMLIMIT", tc.gomemlimit)
			t.Setenv("GOGC", tc.gogc)
			debug.SetMemoryLimit(1 << 30)
			debug.SetGCPercent(150)
			if tc.gogc == "off" {
				debug.SetGCPercent(-1)
			}
			var buf bytes.Buffer
			tuneGC(slog.New(slog.NewTextHandler(&buf, nil)), 300<<20, 250)
			if got := debug.SetMemoryLimit(-1); tc.gomemlimit == "" && got != tc.wantLimit || tc.gomemlimit != "" && got != 1<<30 {
				t.Errorf("memory limit %d, want %d", got, tc.wantLimit)
			}
			if got := debug.SetGCPercent(100); got != tc.wantPercent {
				t.Errorf("GC percent %d, want %d", got, tc.wantPercent)
			}
			if !strings.Contains(buf.String(), tc.wantLog) {
				t.Errorf("log %q, want it to hold %q", buf.String(), tc.wantLog)
			}
		})
	}
}

// TestDevMemory: the dev server takes the configuration defaults, or what Options.Limits set.
func TestDevMemory(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  *config.Limits
		limit   int64
		percent int
	}{
		{"defaults", nil, 192 << 20, config.DefaultGCPercent},
		{"other limits only", &config.Limits{Slots: 8}, 192 << 20, config.DefaultGCPercent},
		{"bigger OCSP cache", &config.Limits{OCSPCacheBytes: 1 << 30}, 1<<30 + 128<<20, config.DefaultGCPercent},
		{"set", &config.Limits{MemoryLimit: 512 << 20, GCPercent: 100}, 512 << 20, 100},
	} {
		if l, p := devMemory(tc.limits); l != tc.limit || p != tc.percent {
			t.Errorf("%s: %d bytes, GC percent %d; want %d and %d", tc.name, l, p, tc.limit, tc.percent)
		}
	}
}
