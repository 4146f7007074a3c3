package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
)

// BRSKI configures RFC 8995 bootstrapping (docs/brski.md). Either part may be left out.
type BRSKI struct {
	// MASA serves the maker's voucher authority at /.well-known/brski/requestvoucher on the
	// API listener.
	MASA *MASA `json:"masa,omitempty"`
	// Registrar serves /.well-known/brski/{requestvoucher,voucher_status,enrollstatus} on the
	// EST listener (which must be configured).
	Registrar *Registrar `json:"registrar,omitempty"`
}

// MASA is the maker's voucher authority.
type MASA struct {
	// URL, when set, is written into every factory certificate as id-pe-masa-url: this
	// MASA's https URL or bare authority (host[:port][/path]) as registrars reach it.
	URL string `json:"url,omitempty"`
	// CertificateFile is the PEM chain (leaf first) of the voucher signing certificate that
	// pledges trust as the maker's anchor; Key is its key's ID in the key provider.
	CertificateFile string `json:"certificate_file"`
	Key             string `json:"key"`
	// NoncelessLifetime is how long a voucher without nonce is valid, for pledges at
	// air-gapped sites (default 168h; 1h to 8784h).
	NoncelessLifetime Duration `json:"nonceless_lifetime"`
	// Registrars are the registrars this MASA serves: the party each acts for and the PEM
	// file of the domain CA its signing certificate chains to (pinned in its vouchers).
	Registrars []MASARegistrar `json:"registrars"`
}

// MASARegistrar is one registrar a MASA serves.
type MASARegistrar struct {
	Party        string `json:"party"`
	DomainCAFile string `json:"domain_ca_file"`
}

// Registrar is the operator's BRSKI registrar. Its key and certificate are the EST
// listener's TLS certificate (tls.cert_file), which pledges see and name.
type Registrar struct {
	// Party is the operator the registrar acts for (its audit events' party).
	Party string `json:"party"`
	// MASAURLs names the MASA of registered makers (by the name they are registered under,
	// docs/external-makers.md): a pledge whose IDevID chains to that maker's anchors is
	// forwarded there, whatever its IDevID says.
	MASAURLs map[string]string `json:"masa_urls,omitempty"`
	// DefaultMASAURL is the MASA asked for a pledge that no masa_urls entry and no
	// id-pe-masa-url in its IDevID names.
	DefaultMASAURL string `json:"default_masa_url,omitempty"`
	// MASACAFile is the PEM file of the CAs that MASAs' TLS certificates chain to (default:
	// the system roots).
	MASACAFile string `json:"masa_ca_file,omitempty"`
}

// applyBRSKIDefaults fills the defaults of a present BRSKI section.
func (c *Config) applyBRSKIDefaults() {
	if c.BRSKI != nil && c.BRSKI.MASA != nil && c.BRSKI.MASA.NoncelessLifetime.Duration == 0 {
		c.BRSKI.MASA.NoncelessLifetime.Duration = 168 * time.Hour
	}
}

func (c *Config) validateBRSKI(bad func(key, format string, args ...any)) {
	c.applyBRSKIDefaults()
	if c.BRSKI == nil {
		return
	}
	if m := c.BRSKI.MASA; m != nil {
		if m.URL != "" && !validMASAURL(m.URL) {
			bad("brski.masa.url", "must be an https URL or host[:port][/path], got %q", m.URL)
		}
		if m.CertificateFile == "" || m.Key == "" {
			bad("brski.masa", "certificate_file and key (a key ID in the key provider) are required")
		}
		if d := m.NoncelessLifetime.Duration; d < time.Hour || d > 8784*time.Hour {
			bad("brski.masa.nonceless_lifetime", "must be between 1h and 8784h, got %s", d)
		}
		for i, r := range m.Registrars {
			if r.Party == "" || r.DomainCAFile == "" {
				bad("brski.masa.registrars", "entry %d needs party and domain_ca_file", i)
			}
		}
	}
	if r := c.BRSKI.Registrar; r != nil {
		if c.EST == nil {
			bad("brski.registrar", "needs the est listener: the registrar serves in front of it")
		}
		if r.Party == "" {
			bad("brski.registrar.party", "name the operator the registrar acts for")
		}
		for name, u := range r.MASAURLs {
			if name == "" || !validMASAURL(u) {
				bad("brski.registrar.masa_urls", "maker %q: must be an https URL or host[:port][/path], got %q", name, u)
			}
		}
		if r.DefaultMASAURL != "" && !validMASAURL(r.DefaultMASAURL) {
			bad("brski.registrar.default_masa_url", "must be an https URL or host[:port][/path], got %q", r.DefaultMASAURL)
		}
	}
}

func validMASAURL(s string) bool {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

// LoadDevBRSKI reads the brski section a dev server takes from --dev-brski: the same strict
// JSON as the "brski" section of a configuration, except that a MASA may leave out
// certificate_file and key together (the dev server then makes its own MASA certificate).
func LoadDevBRSKI(path string) (*BRSKI, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	b := &BRSKI{}
	if err := dec.Decode(b); err != nil {
		return nil, fmt.Errorf("%s: not valid: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: not valid: data after the JSON object", path)
	}
	c := &Config{BRSKI: b, EST: &EST{}}
	dev := b.MASA != nil && b.MASA.CertificateFile == "" && b.MASA.Key == ""
	if dev {
		b.MASA.CertificateFile, b.MASA.Key = "dev", "dev"
	}
	var errs []error
	c.validateBRSKI(func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	})
	if dev {
		b.MASA.CertificateFile, b.MASA.Key = "", ""
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
