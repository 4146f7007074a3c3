package status

import (
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
)

// URLs builds the AIA OCSP and CRL distribution point URLs that certificates carry, from a
// public base URL that may be set after the services are built (the dev server learns its
// port only once it listens). Until it is set, certificates carry neither extension.
type URLs struct {
	base atomic.Pointer[string]
}

// SetBase sets the public base URL, such as "http://status.example.net" or
// "https://hallmark.example:8443"; a trailing slash is ignored.
func (u *URLs) SetBase(base string) error {
	p, err := url.Parse(base)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
		return fmt.Errorf("status: public base URL %q must be http(s)://host[:port][/path]", base)
	}
	b := strings.TrimRight(base, "/")
	u.base.Store(&b)
	return nil
}

// Base returns the base URL, "" when unset.
func (u *URLs) Base() string {
	if b := u.base.Load(); b != nil {
		return *b
	}
	return ""
}

// For returns the OCSP and CRL URLs of CA caID, or nils while no base is set. It has the
// signature the manufacturing and operational services take as their StatusURLs.
func (u *URLs) For(caID string) (ocsp, crl []string) {
	b := u.Base()
	if b == "" {
		return nil, nil
	}
	return []string{b + "/ocsp/" + caID}, []string{b + "/crl/" + caID + ".crl"}
}
