package config

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/policy"
)

const good = `{
  "listen": "127.0.0.1:8443",
  "public_url": "https://hallmark.example.com",
  "store": {"driver": "sqlite", "path": "/var/lib/hallmark/hallmark.db"},
  "keys": {"dir": "/var/lib/hallmark/keys"},
  "tls": {"cert_file": "/etc/hallmark/tls.pem", "key_file": "/etc/hallmark/tls.key"}
}`

func TestParse(t *testing.T) {
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Keys.PassphraseEnv != "HALLMARK_KEY_PASSPHRASE" || c.Log.Format != "json" || c.Log.AuditLevel != "debug" || c.Manufacturing.RootLifetime.Hours() != 30*365*24 || c.Leader.LeaseTTL.Seconds() != 15 {
		t.Errorf("defaults not applied: %+v", c)
	}
	if p := c.Principals; p.TokenLifetime.Hours() != 90*24 || p.MaxOverlap.Hours() != 7*24 || p.UpgradeTokenLifetime.Hours() != 30*24 {
		t.Errorf("principals defaults: %+v", p)
	}
	c, err = Parse([]byte(strings.Replace(good, `"listen"`, `"principals": {"token_lifetime": "720h", "max_overlap": "24h", "upgrade_token_lifetime": "48h"}, "listen"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Principals; p.TokenLifetime.Hours() != 720 || p.MaxOverlap.Hours() != 24 || p.UpgradeTokenLifetime.Hours() != 48 {
		t.Errorf("principals as configured: %+v", p)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, edit, want string
	}{
		{"unknown key", `"listen": "127.0.0.1:8443", "lisen": "x",`, `unknown field "lisen"`},
		{"audit level warn", `"log": {"audit_level": "warn"},`, `log.audit_level: "warn" is not debug or info`},
		{"bad listen", `"listen": "nowhere",`, "listen: must be HOST:PORT"},
		{"http public url", `"public_url": "http://x",`, "public_url: must be an https:// URL"},
		{"bad driver", `"store": {"driver": "mysql", "path": "x"},`, `store.driver: "mysql" is not supported`},
		{"cache staleness over 10s", `"store": {"driver": "sqlite", "path": "x", "cache_staleness": "1m"},`, "store.cache_staleness: must be at most 10s"},
		{"bad duration", `"manufacturing": {"root_lifetime": "forever"},`, "duration"},
		{"short lease", `"leader": {"lease_ttl": "100ms"},`, "leader.lease_ttl: must be between 1s and 10m"},
		{"no slots", `"limits": {"slots": -1},`, "limits.slots: must be between 1 and 4096"},
		{"retry after under a second", `"limits": {"retry_after": "10ms"},`, "limits.retry_after: must be between 1s and 1h"},
		{"unknown limit", `"limits": {"slot": 3},`, "unknown field"},
		{"max retry after below retry after", `"limits": {"retry_after": "30s", "max_retry_after": "10s"},`, "limits.max_retry_after: must be between limits.retry_after (30s) and 24h"},
		{"negative handshakes", `"limits": {"tls_handshakes": -1},`, "limits.tls_handshakes: must be between 0"},
		{"negative challenges", `"limits": {"challenges": -1},`, "limits.challenges: must be between 0"},
		{"metrics without port", `"metrics": {"listen": "127.0.0.1"},`, "metrics.listen: must be HOST:PORT"},
		{"metrics port not a number", `"metrics": {"listen": "127.0.0.1:prom"},`, `metrics.listen: the port "prom" must be a number`},
		{"metrics port zero", `"metrics": {"listen": "127.0.0.1:0"},`, "metrics.listen: the port \"0\""},
		{"metrics port too large", `"metrics": {"listen": "127.0.0.1:70000"},`, "between 1 and 65535"},
		{"metrics on the API listener", `"metrics": {"listen": "127.0.0.1:8443"},`, "metrics.listen: must differ from listen"},
		{"unknown metrics key", `"metrics": {"path": "/m"},`, "unknown field"},
		{"pprof on every interface", `"metrics": {"listen": ":9464", "pprof": true},`, "metrics.pprof: serves Go's profiles without authentication"},
		{"pprof on a public address", `"metrics": {"listen": "192.0.2.10:9464", "pprof": true},`, "set metrics.pprof_remote to true"},
		{"pprof on a host name", `"metrics": {"listen": "metrics.example.com:9464", "pprof": true},`, "is not a loopback address"},
		{"policy budget too small", `"policy": {"cost_budget": 10},`, "policy.cost_budget: must be between 1000 and 1000000"},
		{"policy budget too large", `"policy": {"cost_budget": 50000000},`, "policy.cost_budget: must be between"},
		{"policy cache negative", `"policy": {"cache_entries": -1},`, "policy.cache_entries: must be between 1 and 65536"},
		{"maker watch too often", `"makers": {"watch_interval": "500ms"},`, "makers.watch_interval: must be between 1s and 24h"},
		{"maker CRL timeout too long", `"makers": {"crl_timeout": "1h"},`, "makers.crl_timeout: must be between 1s and 5m"},
		{"maker CRL limit too small", `"makers": {"max_crl_bytes": 100},`, "makers.max_crl_bytes: must be between"},
		{"maker unknown key", `"makers": {"watch_every": "1h"},`, "watch_every"},
		{"unknown policy key", `"policy": {"budget": 5},`, "unknown field"},
		{"unknown key backend", `"keys": {"backend": "vault", "dir": "/k"},`, `keys.backend: "vault" is not supported`},
		{"pkcs11 without its section", `"keys": {"backend": "pkcs11"},`, "keys.pkcs11: backend \"pkcs11\" needs module_path and token"},
		{"pkcs11 without module", `"keys": {"backend": "pkcs11", "pkcs11": {"token": "hallmark"}},`, "keys.pkcs11.module_path"},
		{"pkcs11 without token", `"keys": {"backend": "pkcs11", "pkcs11": {"module_path": "/m.so"}},`, "keys.pkcs11.token"},
		{"pkcs11 with a key folder", `"keys": {"backend": "pkcs11", "dir": "/k", "pkcs11": {"module_path": "/m.so", "token": "t"}},`, "are for backend \"file\""},
		{"pkcs11 with two PINs", `"keys": {"backend": "pkcs11", "pkcs11": {"module_path": "/m.so", "token": "t", "pin_env": "P", "pin_file": "/p"}},`, "set pin_env or pin_file, not both"},
		{"pkcs11 sessions", `"keys": {"backend": "pkcs11", "pkcs11": {"module_path": "/m.so", "token": "t", "max_sessions": 5000}},`, "keys.pkcs11.max_sessions"},
		{"pkcs11 PIN in the file", `"keys": {"backend": "pkcs11", "pkcs11": {"module_path": "/m.so", "token": "t", "pin": "1234"}},`, "unknown field \"pin\""},
		{"pkcs11 section with files", `"keys": {"dir": "/k", "pkcs11": {"module_path": "/m.so", "token": "t"}},`, "keys.pkcs11: is for backend \"pkcs11\""},
		{"token lifetime too short", `"principals": {"token_lifetime": "10m"},`, "principals.token_lifetime: must be between 1h and 8784h"},
		{"token lifetime over a year", `"principals": {"token_lifetime": "9000h"},`, "principals.token_lifetime: must be between"},
		{"overlap too long", `"principals": {"max_overlap": "1000h"},`, "principals.max_overlap: must be between 1m and 720h"},
		{"negative overlap", `"principals": {"max_overlap": "-1h"},`, "principals.max_overlap: must be between"},
		{"upgrade lifetime too short", `"principals": {"upgrade_token_lifetime": "1m"},`, "principals.upgrade_token_lifetime: must be between 1h"},
		{"unknown principals key", `"principals": {"lifetime": "1h"},`, "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.SplitN(strings.TrimSpace(tc.edit), ":", 2)[0]
			lines := strings.Split(good, "\n")
			out := []string{}
			replaced := false
			for _, l := range lines {
				if strings.HasPrefix(strings.TrimSpace(l), key+":") && !replaced {
					out = append(out, "  "+tc.edit)
					replaced = true
					continue
				}
				out = append(out, l)
			}
			if !replaced {
				out = append([]string{"{", "  " + tc.edit}, lines[1:]...)
			}
			_, err := Parse([]byte(strings.Join(out, "\n")))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPassphraseFromEnv(t *testing.T) {
	c, _ := Parse([]byte(good))
	t.Setenv("HALLMARK_KEY_PASSPHRASE", "")
	if _, err := c.Passphrase(); err == nil || !strings.Contains(err.Error(), "HALLMARK_KEY_PASSPHRASE") {
		t.Errorf("empty passphrase: %v", err)
	}
	t.Setenv("HALLMARK_KEY_PASSPHRASE", "s3cret")
	if p, err := c.Passphrase(); err != nil || string(p) != "s3cret" {
		t.Errorf("Passphrase = %q, %v", p, err)
	}
}

func TestMetricsListen(t *testing.T) {
	c, err := Parse([]byte(good))
	if err != nil || c.Metrics.Listen != "" {
		t.Fatalf("without a metrics section metrics are off: %+v, %v", c.Metrics, err)
	}
	for _, listen := range []string{"127.0.0.1:9464", "[::1]:9464", ":9464"} {
		in := strings.Replace(good, `"listen": "127.0.0.1:8443",`, `"listen": "127.0.0.1:8443", "metrics": {"listen": "`+listen+`"},`, 1)
		c, err := Parse([]byte(in))
		if err != nil || c.Metrics.Listen != listen {
			t.Errorf("metrics.listen %q: %+v, %v", listen, c, err)
		}
	}
	in := strings.Replace(good, `"listen": "127.0.0.1:8443",`, `"listen": "127.0.0.1:8443", "metrics": {"listen": ""},`, 1)
	if c, err := Parse([]byte(in)); err != nil || c.Metrics.Listen != "" {
		t.Errorf("an empty metrics.listen turns metrics off: %v", err)
	}
	// Every problem at once, each with its key.
	in = strings.Replace(good, `"listen": "127.0.0.1:8443",`, `"listen": "127.0.0.1:8443", "metrics": {"listen": "nowhere"}, "log": {"level": "loud"},`, 1)
	_, err = Parse([]byte(in))
	if err == nil || !strings.Contains(err.Error(), "metrics.listen") || !strings.Contains(err.Error(), "log.level") {
		t.Errorf("Parse = %v, want errors for metrics.listen and log.level", err)
	}
}

// TestPprofListen: pprof is served on a loopback metrics listener, and elsewhere only when
// pprof_remote says so; metrics without pprof may listen anywhere.
func TestPprofListen(t *testing.T) {
	for _, tc := range []struct {
		metrics string
		ok      bool
	}{
		{`{"listen": "127.0.0.1:9464", "pprof": true}`, true},
		{`{"listen": "127.0.0.2:9464", "pprof": true}`, true},
		{`{"listen": "[::1]:9464", "pprof": true}`, true},
		{`{"listen": "localhost:9464", "pprof": true}`, true},
		{`{"listen": "0.0.0.0:9464", "pprof": true}`, false},
		{`{"listen": "[::]:9464", "pprof": true}`, false},
		{`{"listen": ":9464", "pprof": true}`, false},
		{`{"listen": "10.0.0.5:9464", "pprof": true}`, false},
		{`{"listen": "10.0.0.5:9464", "pprof": true, "pprof_remote": true}`, true},
		{`{"listen": "0.0.0.0:9464"}`, true},
		{`{"listen": "", "pprof": true}`, true},
	} {
		in := strings.Replace(good, `"listen": "127.0.0.1:8443",`, `"listen": "127.0.0.1:8443", "metrics": `+tc.metrics+`,`, 1)
		_, err := Parse([]byte(in))
		if (err == nil) != tc.ok {
			t.Errorf("metrics %s: %v, want ok=%v", tc.metrics, err, tc.ok)
		}
	}
}

// TestPolicyDefaults: the policy section's defaults and bounds are internal/policy's.
func TestPolicyDefaults(t *testing.T) {
	c, err := Parse([]byte(good))
	if err != nil || c.Policy.CostBudget != policy.DefaultBudget || c.Policy.CacheEntries != policy.DefaultCacheEntries {
		t.Fatalf("policy defaults: %+v, %v", c.Policy, err)
	}
	for _, tc := range []struct {
		budget  uint64
		entries int
		ok      bool
	}{
		{policy.MinBudget, 1, true}, {policy.MaxBudget, policy.MaxCacheEntries, true},
		{policy.MinBudget - 1, 1, false}, {policy.MaxBudget + 1, 1, false}, {policy.MinBudget, policy.MaxCacheEntries + 1, false},
	} {
		in := strings.Replace(good, `"listen": "127.0.0.1:8443",`, fmt.Sprintf(`"listen": "127.0.0.1:8443", "policy": {"cost_budget": %d, "cache_entries": %d},`, tc.budget, tc.entries), 1)
		if _, err := Parse([]byte(in)); (err == nil) != tc.ok {
			t.Errorf("budget %d, %d entries: %v, want ok=%v", tc.budget, tc.entries, err, tc.ok)
		}
	}
	in := strings.Replace(good, `"listen": "127.0.0.1:8443",`, `"listen": "127.0.0.1:8443", "policy": {"cost_budget": 250000, "cache_entries": 64},`, 1)
	if c, err := Parse([]byte(in)); err != nil || c.Policy.CostBudget != 250_000 || c.Policy.CacheEntries != 64 {
		t.Fatalf("policy section: %+v, %v", c.Policy, err)
	}
}

func TestHSMConfig(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(good, `"keys": {"dir": "/var/lib/hallmark/keys"}`,
		`"keys": {"backend": "pkcs11", "pkcs11": {"module_path": "/usr/lib/softhsm/libsofthsm2.so", "token": "hallmark"}}`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	h := c.Keys.PKCS11
	if h.PINEnv != "HALLMARK_HSM_PIN" || h.MaxSessions != 16 || h.SessionWait.Seconds() != 10 || c.Keys.PassphraseEnv != "" {
		t.Errorf("defaults: %+v, passphrase_env %q", h, c.Keys.PassphraseEnv)
	}
	t.Setenv("HALLMARK_HSM_PIN", "")
	if _, err := c.HSMPIN(); err == nil || !strings.Contains(err.Error(), "HALLMARK_HSM_PIN") {
		t.Errorf("unset PIN: %v", err)
	}
	t.Setenv("HALLMARK_HSM_PIN", "1234")
	if p, err := c.HSMPIN(); err != nil || string(p) != "1234" {
		t.Errorf("PIN from env: %q %v", p, err)
	}
	f := t.TempDir() + "/pin"
	if err := os.WriteFile(f, []byte("5678\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.PINEnv, h.PINFile = "", f
	if p, err := c.HSMPIN(); err != nil || string(p) != "5678" {
		t.Errorf("PIN from file: %q %v", p, err)
	}
}
