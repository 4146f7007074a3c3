package app

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/hallmark-id/hallmark/internal/config"
)

// tuneGC sets the Go runtime's soft memory limit (limit bytes) and its GC percent for a
// serving process, each unless the environment already set it: GOMEMLIMIT and GOGC win, as
// an operator's override. It logs the values in effect and where each came from. It changes
// the whole process, so only `hallmark serve` calls it (Options.TuneGC), never a test that
// runs a server inside its own process.
func tuneGC(log *slog.Logger, limit int64, percent int) {
	limitFrom, percentFrom := "limits.memory_limit", "limits.gc_percent"
	if os.Getenv("GOMEMLIMIT") != "" {
		limitFrom = "GOMEMLIMIT"
	} else {
		debug.SetMemoryLimit(limit)
	}
	if os.Getenv("GOGC") != "" {
		percentFrom = "GOGC"
	} else {
		debug.SetGCPercent(percent)
	}
	effLimit := debug.SetMemoryLimit(-1) // a negative limit only reads it
	effPercent := debug.SetGCPercent(100)
	debug.SetGCPercent(effPercent)
	limitAttr := slog.Int64("memory_limit_bytes", effLimit)
	if effLimit == math.MaxInt64 {
		limitAttr = slog.String("memory_limit_bytes", "off")
	}
	percentAttr := slog.Int("gc_percent", effPercent)
	if effPercent < 0 {
		percentAttr = slog.String("gc_percent", "off")
	}
	log.Info("memory", limitAttr, "memory_limit_from", limitFrom, percentAttr, "gc_percent_from", percentFrom)
}

// devMemory is the memory limit and GC percent of the dev server: those of limits where set,
// else the defaults a configuration file gets.
func devMemory(limits *config.Limits) (int64, int) {
	limit, percent := config.DefaultMemoryLimit(config.DefaultOCSPCacheBytes), config.DefaultGCPercent
	if limits != nil {
		if limits.MemoryLimit != 0 {
			limit = limits.MemoryLimit
		} else if limits.OCSPCacheBytes != 0 {
			limit = config.DefaultMemoryLimit(limits.OCSPCacheBytes)
		}
		if limits.GCPercent != 0 {
			percent = limits.GCPercent
		}
	}
	return limit, percent
}
