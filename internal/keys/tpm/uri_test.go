package tpm

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want URI
		err  bool
	}{
		{in: "tpmkms:name=ca-1", want: URI{Name: "ca-1"}},
		{in: "TPMKMS:name=ca-1", want: URI{Name: "ca-1"}},
		{in: "tpmkms:name=acme-issuing-2026;device=/run/swtpm/sock;storage-directory=/var/lib/hallmark/tpm",
			want: URI{Name: "acme-issuing-2026", Device: "/run/swtpm/sock", StorageDirectory: "/var/lib/hallmark/tpm"}},
		{in: "tpmkms:name=a;device=%2Fdev%2Ftpmrm0", want: URI{Name: "a", Device: "/dev/tpmrm0"}},
		{in: "tpmkms:name=a?device=/dev/tpmrm0", want: URI{Name: "a", Device: "/dev/tpmrm0"}},
		{in: "tpmkms:", err: true},
		{in: "tpmkms:name=", err: true},
		{in: "tpmkms:name=a;name=b", err: true},
		{in: "tpmkms:name=A", err: true},
		{in: "tpmkms:name=a;pin-value=1234", err: true},
		{in: "tpmkms:name=a;attest-by=ak1", err: true},
		{in: "tpmkms:name=%zz", err: true},
		{in: "pkcs11:object=a", err: true},
		{in: "ca-1", err: true},
	} {
		got, err := ParseURI(tc.in)
		if tc.err {
			if !failure.Is(err, failure.Invalid) {
				t.Errorf("ParseURI(%q) = %+v, %v; want Invalid", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if again, err := ParseURI(got.String()); err != nil || again != got {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v back", got.String(), again, err, got)
		}
	}
}

// FuzzParseURI: ParseURI never panics, refuses with Invalid, and what it accepts prints as a
// URI that parses to the same value.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"tpmkms:name=ca-1", "tpmkms:name=acme-issuing-2026;device=/run/swtpm/sock;storage-directory=/var/lib/hallmark/tpm",
		"tpmkms:name=a?device=%2Fdev%2Ftpmrm0", "tpmkms:name=a;ak=true", "tpmkms:name=a;device=/x%3By+z&w", "pkcs11:token=hallmark;object=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			if !failure.Is(err, failure.Invalid) {
				t.Fatalf("ParseURI(%q): %v, not Invalid", s, err)
			}
			return
		}
		again, err := ParseURI(u.String())
		if err != nil || again != u {
			t.Fatalf("ParseURI(%q) = %+v printed as %q, which parses to %+v, %v", s, u, u.String(), again, err)
		}
	})
}
