package console

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A checkpoint as the dev server signs it (docs/console/audit-proof.png shows one).
const seedCheckpoint = "hallmark-dev/audit\n23\nJqscZ/NYfqEDD0A1S3inGIF/8J4piWsf14ovH/PRomg=\n\n— hallmark-dev/audit A3YaNf95S+ESPtZm95ggxk5WCti2Apukv2GUcq58nMa24VE6PExuoBlv/LcE3R3va4n+NmR5fTf91/BOAmGGa5O91Qc=\n"

func TestParseCheckpoint(t *testing.T) {
	size, root, err := parseCheckpoint([]byte(seedCheckpoint))
	if err != nil || size != 23 || len(root) != 32 {
		t.Fatalf("parse: %d %x %v", size, root, err)
	}
	for _, bad := range []string{"", "origin\n23\n", "o\nx\nJqscZ/NYfqEDD0A1S3inGIF/8J4piWsf14ovH/PRomg=\n\n— s\n", "o\n1\nAAAA\n\n— s\n"} {
		if _, _, err := parseCheckpoint([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte(seedCheckpoint))
	f.Add([]byte("o\n0\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, root, err := parseCheckpoint(b); err == nil && len(root) != 32 {
			t.Fatalf("a root of %d bytes", len(root))
		}
	})
}

// TestCSRF checks that a form token binds to its secret and purpose.
func TestCSRF(t *testing.T) {
	tok := csrfToken("secret-a", "session")
	if tok == csrfToken("secret-b", "session") || tok == csrfToken("secret-a", "signin") {
		t.Fatal("the CSRF token does not depend on its secret and purpose")
	}
}

// TestCrossSite checks the Origin and Sec-Fetch-Site refusal of POSTs.
func TestCrossSite(t *testing.T) {
	for _, tc := range []struct {
		origin, site string
		want         bool
	}{
		{"", "", false},
		{"https://console.example", "same-origin", false},
		{"https://evil.example", "", true},
		{"", "cross-site", true},
		{"", "same-site", true},
	} {
		r := httptest.NewRequest(http.MethodPost, "https://console.example/ui/signin", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if got := crossSite(r); got != tc.want {
			t.Errorf("origin %q site %q: cross-site %v, want %v", tc.origin, tc.site, got, tc.want)
		}
	}
}
