package config

import (
	"strings"
	"testing"
)

// TestMemoryLimitDefaults: the memory limit follows the OCSP cache budget unless set, the GC
// percent takes its default, and out-of-range values are refused naming the key.
func TestMemoryLimitDefaults(t *testing.T) {
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MemoryLimit != 192<<20 || c.Limits.GCPercent != DefaultGCPercent {
		t.Errorf("memory limit %d, GC percent %d; want 192 MiB and %d", c.Limits.MemoryLimit, c.Limits.GCPercent, DefaultGCPercent)
	}
	for _, tc := range []struct {
		limits  string
		want    string
		limit   int64
		percent int
	}{
		{`{"ocsp_cache_bytes": 1073741824}`, "", 1<<30 + 128<<20, DefaultGCPercent},
		{`{"memory_limit": 536870912, "gc_percent": 150}`, "", 512 << 20, 150},
		{`{"memory_limit": 67108864, "gc_percent": -1, "ocsp_cache_bytes": 1048576}`, "", 64 << 20, -1},
		{`{"memory_limit": 1048576}`, "limits.memory_limit: must be between 100663296 bytes", 0, 0},
		{`{"memory_limit": 134217728, "ocsp_cache_bytes": 134217728}`, "limits.memory_limit: must be between 167772160 bytes", 0, 0},
		{`{"memory_limit": 2199023255552}`, "limits.memory_limit: must be between", 0, 0},
		{`{"gc_percent": 5}`, "limits.gc_percent: must be between 10 and 10000", 0, 0},
		{`{"gc_percent": -2}`, "limits.gc_percent: must be between", 0, 0},
		{`{"gc_percent": 20000}`, "limits.gc_percent: must be between", 0, 0},
	} {
		in := strings.Replace(good, `"listen": "127.0.0.1:8443",`, `"listen": "127.0.0.1:8443", "limits": `+tc.limits+`,`, 1)
		c, err := Parse([]byte(in))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("limits %s: %v, want %q", tc.limits, err, tc.want)
			continue
		}
		if err == nil && (c.Limits.MemoryLimit != tc.limit || c.Limits.GCPercent != tc.percent) {
			t.Errorf("limits %s: memory limit %d, GC percent %d; want %d and %d", tc.limits, c.Limits.MemoryLimit, c.Limits.GCPercent, tc.limit, tc.percent)
		}
	}
}
