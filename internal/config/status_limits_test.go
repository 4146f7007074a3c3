package config

import (
	"strings"
	"testing"
	"time"
)

// TestStatusLimitDefaults: the OCSP cache budget and the full-CRL interval take their
// defaults, and out-of-range values are refused naming the key.
func TestStatusLimitDefaults(t *testing.T) {
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.OCSPCacheBytes != 64<<20 || c.Limits.FullCRLMinInterval.Duration != time.Minute {
		t.Errorf("OCSP cache %d bytes, full CRL interval %s; want 64 MiB and 1m", c.Limits.OCSPCacheBytes, c.Limits.FullCRLMinInterval)
	}
	for _, tc := range []struct{ limits, want string }{
		{`{"ocsp_cache_bytes": 4096}`, "limits.ocsp_cache_bytes: must be between 1048576"},
		{`{"ocsp_cache_bytes": 137438953472}`, "limits.ocsp_cache_bytes: must be between"},
		{`{"full_crl_min_interval": "10ms"}`, "limits.full_crl_min_interval: must be between 1s and 1h"},
		{`{"full_crl_min_interval": "2h"}`, "limits.full_crl_min_interval: must be between"},
		{`{"ocsp_cache_bytes": 1048576, "full_crl_min_interval": "1s"}`, ""},
	} {
		in := strings.Replace(good, `"listen": "127.0.0.1:8443",`, `"listen": "127.0.0.1:8443", "limits": `+tc.limits+`,`, 1)
		_, err := Parse([]byte(in))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("limits %s: %v, want %q", tc.limits, err, tc.want)
		}
	}
}
