package auditlog

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stateChanges are the calls outside the store that change a certificate's state: issue
// (through the authority), revoke, hold, unhold.
var stateChanges = regexp.MustCompile(`Certificates\(\)\.Revoke\(|\.Unhold\(|\.RevokeMany\(|\.HoldMany\(|Authority\.Issue(Checked)?\(|\ba\.Issue\(ctx`)

// knownSites counts those calls per file, as logstate.go reads their audit events. The CA
// profiles (authority.go, rotate.go) are not covered (CoveredProfile).
var knownSites = map[string]int{
	"authority/authority.go":      1, // issuing CA: ca.create, not covered
	"authority/rotate.go":         2, // issuing CA, cross-certificate: not covered
	"makers/revocation.go":        1, // factory.revoke.external: suspended
	"manufacturing/factory.go":    1, // factory.issue
	"manufacturing/repair.go":     2, // factory.repair: certificate, superseded
	"manufacturing/revocation.go": 3, // factory.revoke: factory_certificates, held; ca.retire: ca_certificate
	"operational/issue.go":        2, // operational.onboard, .renew: serial, superseded
	"operational/lifecycle.go":    2, // operational.revoke, operational.readmit
	"operational/release.go":      1, // operational.release, .decommission
	"status/responder.go":         1, // ocsp.responder.issue
	"support/support.go":          2, // support.issue, support.revoke
}

// TestEveryStateChangeIsRead fails when code outside the store changes certificate state at a
// place logstate.go does not know: its audit event must name the certificates it changes, and
// LogState.Apply must read them, or reconciliation reports the rows it changes as disputed
// (and OCSP answers tryLater for them). Add the event to Apply, then the site here.
func TestEveryStateChangeIsRead(t *testing.T) {
	checkSites(t, stateChanges, knownSites, "changes certificate state", "logstate.go", "LogState.Apply")
}

// originChanges are the calls outside the store that write a maker's device's origin.
var originChanges = regexp.MustCompile(`Makers\(\)\.(CreateOrigin|RevokeOrigin|ReplaceOriginFactory)\(`)

// knownOriginSites counts those calls per file, as originstate.go reads their audit events.
var knownOriginSites = map[string]int{
	"custodyvouchers/import.go": 1, // custody.voucher.import: origins
	"makers/revocation.go":      1, // factory.revoke.external
	"operational/external.go":   1, // operational.onboard.external: first, factory_certificate, factory_sha256
	"operational/reorigin.go":   1, // device.reorigin: new_factory_certificate, new_sha256
}

// TestEveryOriginChangeIsRead is TestEveryStateChangeIsRead for origins: code that writes an
// origin at a place originstate.go does not know makes reconciliation report the row.
func TestEveryOriginChangeIsRead(t *testing.T) {
	checkSites(t, originChanges, knownOriginSites, "writes origins", "originstate.go", "LogState.applyOrigin")
}

// checkSites counts the matches of re in the Go files outside internal/store and its tests,
// per file, and fails where they differ from known.
func checkSites(t *testing.T, re *regexp.Regexp, known map[string]int, what, file, fn string) {
	t.Helper()
	root := filepath.Join("..")
	got := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "store" || strings.HasPrefix(rel, "store/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if n := len(re.FindAll(b, -1)); n > 0 {
			got[rel] = n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, n := range got {
		if known[f] != n {
			t.Errorf("internal/%s %s at %d places, %s knows %d: name what changes in the event, read it in %s, and update the known sites", f, what, n, file, known[f], fn)
		}
	}
	for f, n := range known {
		if got[f] == 0 {
			t.Errorf("internal/%s no longer %s (the known sites say %d): update them and %s", f, what, n, fn)
		}
	}
}
