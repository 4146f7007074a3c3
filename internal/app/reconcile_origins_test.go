package app

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/makerstatus/makertest"
	"github.com/hallmark-id/hallmark/internal/operational"
)

// TestReconcileCatchesEditedOrigins, on SQLite and on PostgreSQL: the origin of a maker's
// device (a maker that does not run Hallmark, plain openssl) is compared with the events that
// wrote it. Untouched, audit reconcile finds nothing. Its row edited in the database to hold
// another certificate of the maker (which would let that certificate's key onboard the
// device), another serial, another registered maker or another factory state is reported as an
// "origin" disagreement naming what the row and the log say; put back, it reconciles again.
// While a full reconciliation holds its origin disputed, the device neither renews nor onboards
// (rule origin:disputed, recorded as a refusal).
func TestReconcileCatchesEditedOrigins(t *testing.T) {
	requireTool(t, "openssl")
	t.Run("sqlite", func(t *testing.T) {
		var skew atomic.Int64
		s := startDevOpts(t, Options{DataDir: t.TempDir(), Now: skewed(&skew)})
		reconcileOrigins(t, s, &skew, func() (*sql.DB, error) {
			return sql.Open("sqlite", "file:"+s.info.Database+"?_pragma=busy_timeout(10000)")
		})
	})
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("HALLMARK_TEST_POSTGRES") == "" {
			t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES (.ci/run starts a server)")
		}
		dsn := pgSchema(t)
		t.Setenv("HALLMARK_TEST_DEV_DATABASE_URL", dsn)
		var skew atomic.Int64
		s := startDevOpts(t, Options{DataDir: t.TempDir(), DevPostgresEnv: "HALLMARK_TEST_DEV_DATABASE_URL", Now: skewed(&skew)})
		reconcileOrigins(t, s, &skew, func() (*sql.DB, error) { return sql.Open("pgx", dsn) })
	})
}

// skewed is a clock skew ahead of the wall clock.
func skewed(skew *atomic.Int64) func() time.Time {
	return func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }
}

func reconcileOrigins(t *testing.T, s *devServer, skew *atomic.Int64, open func() (*sql.DB, error)) {
	mk := makertest.New(t)
	dir := t.TempDir()
	makerID := registerMaker(t, s, mk, "acme-sensors", nil)
	otherMaker := registerMaker(t, s, makertest.New(t), "other-sensors", nil)
	envID := demoEnvID(t, s)
	r := onboardExternal(t, s, dir, mk, envID, 1, "ext1")
	if r.Status != 201 {
		t.Fatalf("onboarding device 1: %d %s", r.Status, r.Body)
	}
	var onboarded identity
	r.json(t, &onboarded)
	writeFile(t, dir, "ext1.pem", onboarded.CertificatePEM)
	devID := operational.ExternalDeviceID(makerID, mk.Serials[0])
	db, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	edit := func(stmt string, args ...any) {
		t.Helper()
		if strings.HasPrefix(s.info.Database, "postgres") {
			stmt = pgPlaceholders(stmt)
		}
		res, err := db.Exec(stmt, append(args, devID)...)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s changed %d rows, want 1", stmt, n)
		}
	}
	reconcile := func() reconcileResult {
		t.Helper()
		var r reconcileResult
		s.must(t, 200, audrey, "POST", "/v1/audit/reconcile", nil).json(t, &r)
		return r
	}
	clean := func(when string) {
		t.Helper()
		r := reconcile()
		if len(r.Disagreements) != 0 || r.Origins != 1 {
			t.Fatalf("reconcile %s = %+v, want 1 origin and no disagreement", when, r)
		}
	}
	first := mk.Devices[0]
	sum := sha256.Sum256(first.Raw)
	serial, sha := fmt.Sprintf("%x", first.SerialNumber), hex.EncodeToString(sum[:])
	clean("of the untouched origin")

	other := mk.Devices[1] // another device's certificate of the same maker
	otherSum := sha256.Sum256(other.Raw)
	for _, tc := range []struct {
		name, set, undo string
		arg, back       any
		row             string // what the disagreement must say of the row
	}{
		{"another certificate", "factory_der = ?", "factory_der = ?", other.Raw, first.Raw, hex.EncodeToString(otherSum[:])},
		{"another serial", "factory_serial = ?", "factory_serial = ?", "ff01", serial, "factory certificate ff01"},
		{"another maker", "maker_id = ?", "maker_id = ?", otherMaker, makerID, "maker " + otherMaker},
		{"revoked", "state = ?", "state = ?", "revoked", "good", ", revoked"},
	} {
		edit(`UPDATE device_origins SET `+tc.set+` WHERE device_id = ?`, tc.arg)
		r := reconcile()
		if len(r.Disagreements) != 1 {
			t.Fatalf("%s: reconcile = %+v, want one disagreement", tc.name, r)
		}
		d := r.Disagreements[0]
		if d.Kind != "origin" || d.ID != devID || !strings.Contains(d.Row, tc.row) || !strings.Contains(d.Log, "factory certificate "+serial+" (sha256 "+sha+"), good") || d.Seq == 0 {
			t.Errorf("%s: disagreement %+v, want an origin of %s whose row says %q and whose log names the onboarded certificate", tc.name, d, devID, tc.row)
		}
		edit(`UPDATE device_origins SET `+tc.undo+` WHERE device_id = ?`, tc.back)
		clean("after putting back " + tc.name)
	}

	// A disputed origin does not renew: the renewal policy reads the origin's certificate and
	// factory state. The dispute stands from a full reconciliation that found the row edited
	// until the next that finds it in agreement: refused naming the rule and the device in
	// between (here once the row is put back, before a reconciliation), it renews after.
	edit(`UPDATE device_origins SET state = ? WHERE device_id = ?`, "revoked")
	if r := reconcile(); len(r.Disagreements) != 1 {
		t.Fatalf("reconcile of the edited state = %+v, want one disagreement", r)
	}
	edit(`UPDATE device_origins SET state = ? WHERE device_id = ?`, "good")
	_, rr := renew(t, s, dir, "ext1", "ext1-disputed-renewal", nil, 409)
	if !strings.Contains(string(rr.Body), operational.RuleOriginDisputed) || !strings.Contains(string(rr.Body), devID) {
		t.Fatalf("renewing a device whose origin is disputed: %d %s, want 409 naming %s and the device", rr.Status, rr.Body, operational.RuleOriginDisputed)
	}
	skew.Add(int64(61 * time.Second)) // past the refusal recorder's window, which then writes its event
	if f := refusalOf(t, s, operational.RuleOriginDisputed, "POST /v1/renewals"); f.Count != 1 || f.Via != "api" || !strings.Contains(f.Message, devID) {
		t.Errorf("refusal of the disputed origin's renewal = %+v, want one renewal of device %s", f, devID)
	}
	clean("after putting back the state")
	renew(t, s, dir, "ext1", "ext1-renewed", nil, 201)

	// A disputed origin does not onboard: the device, decommissioned so that it may onboard
	// again, is refused while its row (here only its serial column, which onboarding does not
	// compare) disagrees with the log, naming the rule and recorded as a refusal; once put back
	// and reconciled, it onboards.
	s.must(t, 200, oscar, "POST", "/v1/devices/"+devID+"/decommission", map[string]any{"note": "back to the maker"})
	edit(`UPDATE device_origins SET factory_serial = ? WHERE device_id = ?`, "ff01")
	if r := reconcile(); len(r.Disagreements) != 1 {
		t.Fatalf("reconcile of the edited serial = %+v, want one disagreement", r)
	}
	r = onboardExternal(t, s, dir, mk, envID, 1, "ext1-disputed")
	if r.Status != 409 || !strings.Contains(string(r.Body), operational.RuleOriginDisputed) || !strings.Contains(string(r.Body), devID) {
		t.Fatalf("onboarding a device whose origin is disputed: %d %s, want 409 naming %s and the device", r.Status, r.Body, operational.RuleOriginDisputed)
	}
	skew.Add(int64(61 * time.Second)) // past the refusal recorder's window, which then writes its event
	if f := refusalOf(t, s, operational.RuleOriginDisputed, "POST /v1/environments/{id}/onboard"); f.Count != 1 || f.Via != "api" || !strings.Contains(f.Message, devID) {
		t.Errorf("refusal of the disputed origin's onboarding = %+v, want one onboarding", f)
	}
	edit(`UPDATE device_origins SET factory_serial = ? WHERE device_id = ?`, serial)
	if r := onboardExternal(t, s, dir, mk, envID, 1, "ext1-still"); r.Status != 409 || !strings.Contains(string(r.Body), operational.RuleOriginDisputed) {
		t.Fatalf("onboarding after the row was put back, before a reconciliation: %d %s, want the dispute to stand", r.Status, r.Body)
	}
	clean("after putting back the serial")
	if r := onboardExternal(t, s, dir, mk, envID, 1, "ext1-again"); r.Status != 201 {
		t.Fatalf("onboarding once the origin reconciles: %d %s, want 201", r.Status, r.Body)
	}
}

// refusalOf waits for the refusal event of rule and operation in the refusals report.
func refusalOf(t *testing.T, s *devServer, rule, operation string) api.Refusal {
	t.Helper()
	var out api.Refusal
	waitFor(t, "the refusal event of rule "+rule+" at "+operation, func() bool {
		var rep api.RefusalReport
		s.must(t, 200, audrey, "GET", "/v1/reports/refusals", nil).json(t, &rep)
		for _, f := range rep.Items {
			if f.Rule == rule && f.Operation == operation {
				out = f
				return true
			}
		}
		return false
	})
	return out
}
