package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// withBRSKI is the good configuration with an EST listener and a brski section.
func withBRSKI(section string) []byte {
	return []byte(strings.Replace(good, "{\n", "{\n  \"est\": {\"listen\": \"127.0.0.1:8444\"},\n  \"brski\": "+section+",\n", 1))
}

// TestBRSKISection: a MASA takes its nonceless lifetime default, a registrar its party.
func TestBRSKISection(t *testing.T) {
	c, err := Parse(withBRSKI(`{"masa": {"url": "masa.example:8443", "certificate_file": "masa.pem", "key": "brski-masa",
		"registrars": [{"party": "contoso", "domain_ca_file": "contoso-ca.pem"}]},
		"registrar": {"party": "contoso", "masa_urls": {"acme": "masa.acme.example"}, "default_masa_url": "https://masa.example", "masa_ca_file": "masa-ca.pem"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.BRSKI.MASA.NoncelessLifetime.Duration != 168*time.Hour || c.BRSKI.Registrar.Party != "contoso" || c.BRSKI.Registrar.MASAURLs["acme"] != "masa.acme.example" || c.BRSKI.MASA.Registrars[0].DomainCAFile != "contoso-ca.pem" {
		t.Errorf("brski %+v %+v", c.BRSKI.MASA, c.BRSKI.Registrar)
	}
}

func TestBRSKISectionRefuses(t *testing.T) {
	masa := `"certificate_file": "m.pem", "key": "k"`
	for _, tc := range []struct{ name, section, want string }{
		{"MASA without key", `{"masa": {"certificate_file": "m.pem"}}`, "brski.masa: certificate_file and key"},
		{"http MASA URL", `{"masa": {"url": "http://masa.example", ` + masa + `}}`, "brski.masa.url: must be an https URL"},
		{"short nonceless lifetime", `{"masa": {"nonceless_lifetime": "1m", ` + masa + `}}`, "brski.masa.nonceless_lifetime"},
		{"registrar without domain CA", `{"masa": {` + masa + `, "registrars": [{"party": "contoso"}]}}`, "needs party and domain_ca_file"},
		{"registrar without party", `{"registrar": {}}`, "brski.registrar.party"},
		{"http MASA of a maker", `{"registrar": {"party": "contoso", "masa_urls": {"acme": "http://masa.example"}}}`, `brski.registrar.masa_urls: maker "acme"`},
		{"unknown key", `{"registrar": {"party": "contoso", "masa": "x"}}`, `unknown field "masa"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(withBRSKI(tc.section))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
	// A registrar needs the EST listener it serves in front of.
	if _, err := Parse([]byte(strings.Replace(good, "{\n", "{\n  \"brski\": {\"registrar\": {\"party\": \"contoso\"}},\n", 1))); err == nil || !strings.Contains(err.Error(), "needs the est listener") {
		t.Fatalf("a registrar without EST: %v", err)
	}
}

// TestLoadDevBRSKI: a dev MASA may leave its certificate to the dev server, but not half of
// it; the rest is checked as in a configuration.
func TestLoadDevBRSKI(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "brski.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b, err := LoadDevBRSKI(write(`{"masa": {"registrars": [{"party": "contoso", "domain_ca_file": "op/tls/ca.pem"}]}, "registrar": {"party": "contoso"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if b.MASA.CertificateFile != "" || b.MASA.NoncelessLifetime.Duration != 168*time.Hour || b.Registrar.Party != "contoso" {
		t.Errorf("dev brski %+v %+v", b.MASA, b.Registrar)
	}
	for name, body := range map[string]string{
		"half a certificate": `{"masa": {"certificate_file": "masa.pem"}}`,
		"unknown key":        `{"masa": {}, "colour": "red"}`,
		"no party":           `{"registrar": {}}`,
		"trailing data":      `{} {}`,
	} {
		if _, err := LoadDevBRSKI(write(body)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
