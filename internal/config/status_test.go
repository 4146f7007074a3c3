package config

import (
	"strings"
	"testing"
	"time"
)

// withStatus is the good configuration with a status section.
func withStatus(section string) []byte {
	return []byte(strings.Replace(good, "{\n", "{\n  \"status\": "+section+",\n", 1))
}

// TestStatusSection: the plain-HTTP status listener's base URL defaults to its own address
// when that names a host, the root CRL timings take their defaults, and without a status
// section nothing changes.
func TestStatusSection(t *testing.T) {
	tests := []struct {
		name, section string
		base          string
		interval      time.Duration
		lifetime      time.Duration
	}{
		{"absent", `{}`, "", 24 * time.Hour, 7 * 24 * time.Hour},
		{"listen on a host", `{"http_listen": "10.0.0.5:8080"}`, "http://10.0.0.5:8080", 24 * time.Hour, 7 * 24 * time.Hour},
		{"listen everywhere behind a name", `{"http_listen": ":8080", "base_url": "http://status.example.com"}`, "http://status.example.com", 24 * time.Hour, 7 * 24 * time.Hour},
		{"base URL alone (a proxy in front of the HTTPS listener)", `{"base_url": "http://status.example.com/pki"}`, "http://status.example.com/pki", 24 * time.Hour, 7 * 24 * time.Hour},
		{"root CRL timings", `{"root_crl_interval": "6h", "root_crl_lifetime": "72h"}`, "", 6 * time.Hour, 72 * time.Hour},
		{"long interval lifts the default lifetime", `{"root_crl_interval": "240h"}`, "", 240 * time.Hour, 240 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(withStatus(tc.section))
			if err != nil {
				t.Fatal(err)
			}
			if c.Status.BaseURL != tc.base || c.Status.RootCRLInterval.Duration != tc.interval || c.Status.RootCRLLifetime.Duration != tc.lifetime {
				t.Errorf("status %+v, want base %q interval %s lifetime %s", c.Status, tc.base, tc.interval, tc.lifetime)
			}
		})
	}
}

func TestStatusSectionRefuses(t *testing.T) {
	tests := []struct{ name, section, want string }{
		{"https base URL", `{"http_listen": "10.0.0.5:8080", "base_url": "https://status.example.com"}`, "status.base_url: must be a plain http:// URL"},
		{"base URL without a host", `{"base_url": "http:///x"}`, "status.base_url: must be http://host"},
		{"base URL with a query", `{"base_url": "http://status.example.com/?a=b"}`, "status.base_url: must be http://host"},
		{"every address without a base URL", `{"http_listen": "0.0.0.0:8080"}`, "status.base_url: is required when status.http_listen \"0.0.0.0:8080\" binds every address"},
		{"empty host without a base URL", `{"http_listen": ":8080"}`, "status.base_url: is required"},
		{"no port", `{"http_listen": "10.0.0.5"}`, "status.http_listen: must be HOST:PORT"},
		{"port zero", `{"http_listen": "10.0.0.5:0"}`, `status.http_listen: the port "0"`},
		{"on the API listener", `{"http_listen": "127.0.0.1:8443"}`, "status.http_listen: must differ from listen"},
		{"root CRL interval too short", `{"root_crl_interval": "10s"}`, "status.root_crl_interval: must be between 1m and 720h"},
		{"root CRL lifetime under its interval", `{"root_crl_interval": "48h", "root_crl_lifetime": "24h"}`, "status.root_crl_lifetime: must be between status.root_crl_interval (48h0m0s)"},
		{"unknown key", `{"listen": ":80"}`, `unknown field "listen"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(withStatus(tc.section))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
