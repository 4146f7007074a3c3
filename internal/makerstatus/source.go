package makerstatus

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"slices"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Kind is what a source publishes.
type Kind string

// The kinds.
const (
	KindCRL  Kind = "crl"
	KindOCSP Kind = "ocsp"
)

// Source is one place a maker publishes revocation status: a CRL distribution point or an
// OCSP responder.
type Source struct {
	Kind Kind
	URL  string
}

// maxURLLen bounds a source URL: a certificate may carry anything.
const maxURLLen = 2048

// NewSource checks rawURL and returns the source. Only absolute http and https URLs with a
// host and without user information or a fragment are accepted (failure.Invalid otherwise):
// a certificate may name ldap:, file: or worse, which are never fetched.
func NewSource(kind Kind, rawURL string) (Source, error) {
	if kind != KindCRL && kind != KindOCSP {
		return Source{}, failure.New(failure.Invalid, "status source: kind %q; want %q or %q", kind, KindCRL, KindOCSP)
	}
	if len(rawURL) > maxURLLen {
		return Source{}, failure.New(failure.Invalid, "status source: URL of %d bytes; at most %d are accepted", len(rawURL), maxURLLen)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return Source{}, failure.Wrap(failure.Invalid, err, "status source: malformed URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Source{}, failure.New(failure.Invalid, "status source %q: only http and https URLs are fetched", rawURL)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return Source{}, failure.New(failure.Invalid, "status source %q: must be http(s)://host[:port]/path, without user information or fragment", rawURL)
	}
	return Source{Kind: kind, URL: rawURL}, nil
}

// SourcesOf returns the sources a certificate names: its CRL distribution points and the
// OCSP responders of its authority information access, in that order and without
// duplicates. URLs NewSource refuses are returned as errors, not sources; a certificate
// naming none gives neither.
func SourcesOf(cert *x509.Certificate) ([]Source, []error) {
	if cert == nil {
		return nil, nil
	}
	var out []Source
	var errs []error
	add := func(kind Kind, urls []string) {
		for _, u := range urls {
			s, err := NewSource(kind, u)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	add(KindCRL, cert.CRLDistributionPoints)
	add(KindOCSP, cert.OCSPServer)
	return out, errs
}

func (s Source) String() string { return fmt.Sprintf("%s %s", s.Kind, s.URL) }
