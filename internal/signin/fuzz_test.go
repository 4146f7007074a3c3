package signin

import (
	"strings"
	"testing"
)

// FuzzOutsideInput feeds the parsers of outside input: the unverified issuer of an ID token
// (read only to explain refusals) and the redirect URI check.
func FuzzOutsideInput(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjgwODAifQ.sig", "http://127.0.0.1:53012/callback")
	f.Add("not.a.jwt", "http://[::1]:1/cb")
	f.Add("", "https://evil.example/cb")
	f.Add("a.b", "http://localhost@evil.example/")
	f.Fuzz(func(t *testing.T, raw, uri string) {
		iss := unverifiedIssuer(raw)
		if strings.Count(raw, ".") != 2 && iss != "" {
			t.Fatalf("issuer %q read from a non-JWT", iss)
		}
		if err := redirectAllowed(uri, nil); err == nil && !isLoopbackHTTP(uri) {
			t.Fatalf("non-loopback %q allowed with nothing registered", uri)
		}
		if isLoopbackHTTP(uri) && !strings.HasPrefix(strings.ToLower(uri), "http://") {
			t.Fatalf("%q counted as loopback http", uri)
		}
	})
}
