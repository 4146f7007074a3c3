package app

import (
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestReconcileReachesEveryReplica: a reconciliation through one replica records the disputed
// certificate (with an audit.reconcile event) and the other replica's OCSP responder answers
// tryLater for it within seconds; a reconciliation that finds it put back clears it everywhere.
func TestReconcileReachesEveryReplica(t *testing.T) {
	base := os.Getenv("HALLMARK_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES (.ci/run starts a server)")
	}
	c := newCluster(t, "postgres", pgSchema(t))
	db := c.db()
	for range 2 {
		c.add().start()
	}
	rs := c.replicas
	lotID, _ := lotWithCA(t, rs[0].api, "lot-rr")
	fi, _, err := rs[0].issueVia(t, lotID, "lot-rr", "SN-RR1")
	if err != nil {
		t.Fatal(err)
	}
	cert, issuer := parsePEM(t, fi.CertificatePEM), parsePEM(t, fi.ChainPEM)
	rs[0].api.must(t, 201, alice, "POST", "/v1/manufacturing/revocations", map[string]any{
		"selector": map[string]any{"manufacturer_id": "acme", "device_id": fi.Device.ID}, "reason": "keyCompromise", "dry_run": false})
	status := func(r *replica) string {
		st, err := r.ocspStatus(cert, issuer)
		var re ocsp.ResponseError
		switch {
		case errors.As(err, &re) && re.Status == ocsp.TryLater:
			return "tryLater"
		case err != nil:
			return err.Error()
		case st == ocsp.Revoked:
			return "revoked"
		case st == ocsp.Good:
			return "good"
		}
		return "unknown"
	}
	want := func(r *replica, s string) {
		t.Helper()
		eventually(t, "replica answers "+s, 10*time.Second, func() error {
			if got := status(r); got != s {
				return errors.New("answers " + got)
			}
			return nil
		})
	}
	want(rs[1], "revoked")

	if _, err := db.Exec(`UPDATE certificates SET state = 'issued', revoked_at = NULL, reason = NULL WHERE serial = $1`, fi.Device.FactoryCert); err != nil {
		t.Fatal(err)
	}
	var r reconcileResult
	rs[0].api.must(t, 200, audrey, "POST", "/v1/audit/reconcile", nil).json(t, &r)
	if len(r.Disagreements) != 1 || r.Disagreements[0].ID != fi.Device.FactoryCert {
		t.Fatalf("reconcile = %+v", r)
	}
	want(rs[1], "tryLater") // the other replica reads the recorded dispute
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM audit_events WHERE action = 'audit.reconcile'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d audit.reconcile events (%v), want 1", n, err)
	}

	if _, err := db.Exec(`UPDATE certificates SET state = 'revoked', revoked_at = 1, reason = 1 WHERE serial = $1`, fi.Device.FactoryCert); err != nil {
		t.Fatal(err)
	}
	rs[1].api.must(t, 200, audrey, "POST", "/v1/audit/reconcile", nil).json(t, &r)
	if len(r.Disagreements) != 0 {
		t.Fatalf("reconcile after the repair = %+v", r)
	}
	want(rs[0], "revoked")
	want(rs[1], "revoked")
}
