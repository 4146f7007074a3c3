package config

import (
	"strings"
	"testing"
)

// TestHostileLoadLimits: the defaults of the limits against hostile load, exempt prefixes
// read as written (masked), and every bad value refused with its key.
func TestHostileLoadLimits(t *testing.T) {
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.TLSHelloTimeout.Seconds() != 5 || l.PerSourceConnections != 128 || len(l.PerSourceExempt) != 0 || l.BodyTimeout.Seconds() != 5 || l.BodyMemory != 64<<20 || c.StatusListen != "" {
		t.Errorf("defaults: %+v, status_listen %q", l, c.StatusListen)
	}
	with := func(extra string) string {
		return strings.Replace(good, `"listen": "127.0.0.1:8443",`, `"listen": "127.0.0.1:8443", `+extra+`,`, 1)
	}
	in := with(`"status_listen": "127.0.0.1:8445",
  "limits": {"tls_hello_timeout": "2s", "per_source_connections": 16, "per_source_exempt": ["10.1.2.3/8", "::1/128"], "body_timeout": "1s", "body_memory": 2097152}`)
	if c, err = Parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if p := c.Limits.ExemptPrefixes(); len(p) != 2 || p[0].String() != "10.0.0.0/8" || p[1].String() != "::1/128" {
		t.Errorf("exempt prefixes %v", p)
	}
	if c.StatusListen != "127.0.0.1:8445" || c.Limits.PerSourceConnections != 16 || c.Limits.BodyMemory != 2<<20 || c.Limits.TLSHelloTimeout.Seconds() != 2 {
		t.Errorf("as written: %+v", c)
	}
	for _, tc := range []struct{ extra, want string }{
		{`"limits": {"tls_hello_timeout": "1ms"}`, "limits.tls_hello_timeout: must be between 100ms and 1m"},
		{`"limits": {"per_source_connections": -5}`, "limits.per_source_connections: must be between 1"},
		{`"limits": {"per_source_exempt": ["10.0.0.1"]}`, `limits.per_source_exempt: "10.0.0.1" is not a CIDR prefix`},
		{`"limits": {"body_timeout": "2m"}`, "limits.body_timeout: must be between 100ms and 1m"},
		{`"limits": {"body_memory": 1000}`, "limits.body_memory: must be between 1048576"},
		{`"limits": {"per_source": 3}`, "unknown field"},
		{`"status_listen": "127.0.0.1:8443"`, "status_listen: must differ"},
		{`"status_listen": "127.0.0.1"`, "status_listen: must be HOST:PORT"},
	} {
		if _, err := Parse([]byte(with(tc.extra))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.extra, err, tc.want)
		}
	}
}
