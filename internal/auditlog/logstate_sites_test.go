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
		if n := len(stateChanges.FindAll(b, -1)); n > 0 {
			got[rel] = n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, n := range got {
		if knownSites[f] != n {
			t.Errorf("internal/%s changes certificate state at %d places, logstate.go knows %d: name the certificates in the event, read them in LogState.Apply, and update knownSites", f, n, knownSites[f])
		}
	}
	for f, n := range knownSites {
		if got[f] == 0 {
			t.Errorf("internal/%s no longer changes certificate state (knownSites says %d): update knownSites and LogState.Apply", f, n)
		}
	}
}
