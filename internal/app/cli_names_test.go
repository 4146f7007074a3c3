package app_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/app"
)

// TestInventoryCLIPrincipalNames runs the CLI against the dev server over HTTPS: the audit
// events table, a device's lineage and the break-glass list show principals by name (as the
// approval tables do), and -o json keeps their IDs.
func TestInventoryCLIPrincipalNames(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	s := app.StartDevHarness(t)
	deviceID := s.OnboardedDevice(t, "lot-names", "SN-NAME1")
	s.Must(t, 201, "admin", "POST", "/v1/parties/acme/access", map[string]any{"reason": "ticket 7", "duration": "30m"})

	cliAs := func(who string, args ...string) string {
		t.Helper()
		global := []string{"--server", s.Info.APIURL, "--cacert", s.Info.TLSCAFile, "--token", s.Tokens[who]}
		code, out, stderr := runCLI(t, append(global, args...)...)
		if code != 0 {
			t.Fatalf("%s: hallmark %s: exit %d: %s", who, strings.Join(args, " "), code, stderr)
		}
		return out
	}
	lineage := func(out string) string {
		_, after, ok := strings.Cut(out, "\nLineage\n")
		if !ok {
			t.Fatalf("device show has no lineage:\n%s", out)
		}
		return after
	}
	for _, tc := range []struct {
		name, who string
		args      []string
		section   func(string) string
		want      []string
		// principals is the part of the table that names principals (all of it but audit
		// subjects, which name principals created or changed by ID).
		principals func(string) string
	}{
		{"audit events", "auditco/audrey", []string{"audit", "events"}, nil, []string{" station-1 ", " oscar ", " alice "}, column(3)},
		{"device lineage", "contoso/oscar", []string{"device", "show", deviceID}, lineage, []string{" oscar "}, whole},
		{"access list", "admin", []string{"party", "access", "list", "acme"}, nil, []string{" admin "}, whole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := cliAs(tc.who, tc.args...)
			if tc.section != nil {
				table = tc.section(table)
			}
			for _, want := range tc.want {
				if !strings.Contains(table, want) {
					t.Errorf("table lacks the name %q:\n%s", want, table)
				}
			}
			if strings.Contains(tc.principals(table), "prn_") {
				t.Errorf("table still shows principal IDs:\n%s", table)
			}
			if js := cliAs(tc.who, append(tc.args, "-o", "json")...); !strings.Contains(js, `"prn_`) {
				t.Errorf("-o json lost the principal IDs:\n%s", js)
			}
		})
	}
}

func whole(s string) string { return s }

// column is the i-th whitespace-separated field of every line of a table.
func column(i int) func(string) string {
	return func(s string) string {
		var b strings.Builder
		for _, line := range strings.Split(s, "\n") {
			if f := strings.Fields(line); len(f) > i {
				b.WriteString(f[i] + "\n")
			}
		}
		return b.String()
	}
}
