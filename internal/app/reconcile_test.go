package app

import (
	"context"
	"database/sql"
	"encoding/base64"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/simulate"
)

// reconcileResult is the body of POST /v1/audit/reconcile.
type reconcileResult struct {
	Events        int `json:"events"`
	Certificates  int `json:"certificates"`
	Devices       int `json:"devices"`
	Origins       int `json:"origins"`
	Disagreements []struct {
		Kind, ID, Row, Log string
		Seq                int64
	} `json:"disagreements"`
}

// TestReconcileCatchesEditedRows (issue 17, point 6): a revoked certificate's row edited in
// the database to read "issued" is reported by audit reconcile (through the API), OCSP then
// answers tryLater (real openssl ocsp) and the metrics count it; put back, it answers
// revoked again. An edit made while the server is down is caught by the reconciliation the
// server runs at start. A manufacturing revocation's holds reconcile (its event names them).
func TestReconcileCatchesEditedRows(t *testing.T) {
	requireTool(t, "openssl")
	t.Run("sqlite", func(t *testing.T) {
		reconcileEdits(t, Options{DataDir: t.TempDir()}, func(t *testing.T, s *devServer) *sql.DB {
			db, err := sql.Open("sqlite", "file:"+s.info.Database+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("HALLMARK_TEST_POSTGRES")
		if base == "" {
			t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES (.ci/run starts a server)")
		}
		dsn := pgSchema(t)
		t.Setenv("HALLMARK_TEST_DEV_DATABASE_URL", dsn)
		reconcileEdits(t, Options{DataDir: t.TempDir(), DevPostgresEnv: "HALLMARK_TEST_DEV_DATABASE_URL"}, func(t *testing.T, _ *devServer) *sql.DB {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
	})
}

func reconcileEdits(t *testing.T, o Options, open func(*testing.T, *devServer) *sql.DB) {
	s := startDevOpts(t, o)
	dir := t.TempDir()
	edit := func(s *devServer, stmt string, args ...any) {
		t.Helper()
		db := open(t, s)
		defer db.Close()
		if strings.HasPrefix(s.info.Database, "postgres") {
			stmt = pgPlaceholders(stmt)
		}
		res, err := db.Exec(stmt, args...)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s changed %d rows, want 1", stmt, n)
		}
	}
	reconcile := func(s *devServer) reconcileResult {
		t.Helper()
		var r reconcileResult
		s.must(t, 200, audrey, "POST", "/v1/audit/reconcile", nil).json(t, &r)
		return r
	}
	ocsp := func(s *devServer, name, want string) {
		t.Helper()
		// The certificate's AIA names the status listener of the server that issued it; a
		// restarted dev server listens on another port, so ask this one at the same path.
		aia, err := url.Parse(strings.TrimSpace(run(t, dir, "openssl", "x509", "-in", name+".pem", "-noout", "-ocsp_uri")))
		if err != nil {
			t.Fatal(err)
		}
		here, err := url.Parse(s.info.StatusURL)
		if err != nil {
			t.Fatal(err)
		}
		aia.Scheme, aia.Host = here.Scheme, here.Host
		out, _ := runErr(dir, "openssl", "ocsp", "-issuer", "op-issuing.pem", "-cert", name+".pem", "-url", aia.String(), "-CAfile", "op-root.pem")
		if !strings.Contains(out, want) {
			t.Fatalf("openssl ocsp for %s: %s, want %q", name, out, want)
		}
	}
	disputed := func(s *devServer) (answers, gauge float64) {
		fams := scrapeMetrics(t, s.info.MetricsURL)
		answers, _ = metricValue(fams, "hallmark_ocsp_answers_total", map[string]string{"source": "disputed"})
		gauge, _ = metricValue(fams, "hallmark_audit_disputed_certificates", nil)
		return answers, gauge
	}

	lotID := demoLot(t, s, "lot-rec")
	envID := opEnv(t, s, "plant-rec", nil)
	deliveredDevice(t, s, dir, lotID, "lot-rec", "SN-R1")
	id, _ := onboard(t, s, dir, envID, "SN-R1", "r1", 201)
	chain := splitPEM(t, id.ChainPEM)
	writeFile(t, dir, "op-issuing.pem", chain[0])
	writeFile(t, dir, "op-root.pem", chain[1])
	s.must(t, 200, oscar, "POST", "/v1/devices/"+id.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	ocsp(s, "r1", "r1.pem: revoked")

	// A second device, suspended by a manufacturing revocation of its lot: the hold is named
	// by the factory.revoke event, so it reconciles.
	lot2 := demoLot(t, s, "lot-rec2")
	deliveredDevice(t, s, dir, lot2, "lot-rec2", "SN-R2")
	id2, _ := onboard(t, s, dir, envID, "SN-R2", "r2", 201)
	s.must(t, 201, alice, "POST", "/v1/manufacturing/revocations",
		map[string]any{"selector": map[string]string{"manufacturer_id": "acme", "lot_id": lot2}, "reason": "keyCompromise", "dry_run": false})

	// Only auditors reconcile.
	s.must(t, 403, oscar, "POST", "/v1/audit/reconcile", nil)
	s.must(t, 403, "admin", "POST", "/v1/audit/reconcile", nil)
	if r := reconcile(s); len(r.Disagreements) != 0 || r.Certificates < 4 || r.Devices < 2 {
		t.Fatalf("reconcile of untouched rows = %+v", r)
	}

	// Un-revoke r1's row behind Hallmark's back.
	serial := id.Device.OperationalCert
	edit(s, `UPDATE certificates SET state = 'issued', revoked_at = NULL, reason = NULL WHERE serial = ?`, serial)
	r := reconcile(s)
	if len(r.Disagreements) != 1 {
		t.Fatalf("reconcile after the edit = %+v, want one disagreement", r)
	}
	if d := r.Disagreements[0]; d.Kind != "certificate" || d.ID != serial || d.Row != "issued" || d.Log != "revoked (keyCompromise)" || d.Seq == 0 {
		t.Errorf("disagreement = %+v", d)
	}
	before, _ := disputed(s)
	ocsp(s, "r1", "trylater")
	if after, gauge := disputed(s); after < before+1 || gauge != 1 {
		t.Errorf("metrics: disputed answers %v → %v, disputed certificates %v; want one more answer and 1 certificate", before, after, gauge)
	}
	ocsp(s, "r2", "r2.pem: revoked") // the other certificates are answered as before

	// Put back, it reconciles and is answered revoked again.
	edit(s, `UPDATE certificates SET state = 'revoked', revoked_at = 1, reason = 1 WHERE serial = ?`, serial)
	if r := reconcile(s); len(r.Disagreements) != 0 {
		t.Fatalf("reconcile after the repair = %+v", r)
	}
	ocsp(s, "r1", "r1.pem: revoked")

	// An edit while the server is down: the reconciliation at start (events since the last
	// checkpoint) finds it before OCSP answers. A restart signs a checkpoint at once when the
	// log grew since the last one, and the next a minute later, so a revocation made after
	// the restart's first checkpoint is after the last checkpoint. The log grows here (one
	// audited principal) after a checkpoint of size signed, and the revocation waits until
	// the restarted server has signed a larger one: made before it, that checkpoint could
	// cover the revocation and the reconciliation at start would not look at it.
	signed := noteSize(t, s.must(t, 200, audrey, "POST", "/v1/audit/checkpoint", nil).Body)
	s.must(t, 201, "admin", "POST", "/v1/principals", map[string]any{"party_id": "*", "name": "rec-grow"})
	s.stop()
	o.DataDir = s.dir
	s = startDevOpts(t, o)
	for deadline := time.Now().Add(90 * time.Second); noteSize(t, s.must(t, 200, audrey, "GET", "/v1/audit/checkpoint", nil).Body) <= signed; {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted server signed no checkpoint past size %d within 90 s", signed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.must(t, 200, oscar, "POST", "/v1/devices/"+id2.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	s.stop()
	edit(s, `UPDATE certificates SET state = 'issued', revoked_at = NULL, reason = NULL WHERE serial = ?`, id2.Device.OperationalCert)
	s = startDevOpts(t, o)
	ocsp(s, "r2", "trylater")
	if _, gauge := disputed(s); gauge != 1 {
		t.Errorf("after a restart %v certificates are disputed, want 1", gauge)
	}
	r = reconcile(s)
	if len(r.Disagreements) != 1 || r.Disagreements[0].ID != id2.Device.OperationalCert || r.Disagreements[0].Log != "revoked (keyCompromise)" {
		t.Errorf("reconcile after the restart = %+v", r)
	}
}

// pgPlaceholders turns ? into $1, $2, ….
func pgPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + string(rune('0'+n)))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// TestSignedReportThroughAPI (issue 17, point 7): ?signed=1 answers a DSSE envelope that
// auditlog.VerifyReport checks with the public checkpoint key; a tampered one is refused; a
// report the caller may not read is not signed for it; a bad value of signed is a 400.
func TestSignedReportThroughAPI(t *testing.T) {
	s := startDev(t, "")
	demoLot(t, s, "lot-signed")
	vs, err := auditlog.ParseVerifierKeys(s.call(t, "", "GET", "/v1/audit/keys", nil).Body)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	r := s.must(t, 200, audrey, "GET", "/v1/reports/inventory?limit=5&signed=1", nil)
	r.json(t, &env)
	if env.PayloadType != auditlog.ReportPayloadType || len(env.Signatures) != 1 || !strings.HasPrefix(env.Signatures[0].KeyID, "hallmark-dev/audit+") {
		t.Fatalf("signed inventory = %s", r.Body)
	}
	st, cp, err := auditlog.VerifyReport(r.Body, vs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Report != "inventory" || st.Query != "limit=5" || cp.Size == 0 || !strings.Contains(string(st.Body), `"items"`) {
		t.Errorf("statement %+v at %+v", st, cp)
	}
	tampered := strings.Replace(string(r.Body), env.Payload, base64.StdEncoding.EncodeToString([]byte(strings.Replace(mustB64(t, env.Payload), `"limit=5"`, `"limit=6"`, 1))), 1)
	if _, _, err := auditlog.VerifyReport([]byte(tampered), vs); err == nil {
		t.Error("a tampered signed report verified")
	}
	s.must(t, 400, audrey, "GET", "/v1/reports/summary?signed=yes", nil)
	s.must(t, 403, alice, "GET", "/v1/reports/standards?signed=1", nil) // standards: auditors and deployment administrators only
	s.must(t, 401, "", "GET", "/v1/reports/summary?signed=1", nil)
}

func mustB64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReconcileAgreesAfterAFleet: after a small fleet's manufacture, lot transfer, EST
// onboarding and renewal (superseding every first certificate), a lot revocation with its
// cascade, a runtime revocation and a re-admission lifting a hold, every row agrees with the
// log: reconciliation reports nothing where nothing was edited.
func TestReconcileAgreesAfterAFleet(t *testing.T) {
	s := startDev(t, "")
	ca, err := os.ReadFile(s.info.TLSCAFile)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := simulate.Run(context.Background(), simulate.Config{APIURL: s.info.APIURL, ESTURL: s.info.ESTURL, CAPEM: ca, Tokens: s.tokens,
		Devices: 6, Concurrency: 2, Renewals: 1, Deadline: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Refusals) != 0 {
		t.Fatalf("refusals: %v", sum.Refusals)
	}
	var r reconcileResult
	s.must(t, 200, audrey, "POST", "/v1/audit/reconcile", nil).json(t, &r)
	if len(r.Disagreements) != 0 || r.Certificates < 12 || r.Devices < 6 {
		t.Fatalf("after the fleet: %+v", r)
	}

	// Runtime revocation, a lot revocation's holds, and a re-admission lifting one.
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-agree")
	envID := opEnv(t, s, "plant-agree", nil)
	deliveredDevice(t, s, dir, lotID, "lot-agree", "SN-A1")
	deliveredDevice(t, s, dir, lotID, "lot-agree", "SN-A2")
	a1, _ := onboard(t, s, dir, envID, "SN-A1", "a1", 201)
	onboard(t, s, dir, envID, "SN-A2", "a2", 201)
	s.must(t, 201, alice, "POST", "/v1/manufacturing/revocations",
		map[string]any{"selector": map[string]string{"manufacturer_id": "acme", "lot_id": lotID}, "reason": "keyCompromise", "dry_run": false})
	var rd struct{ Approval struct{ ID string } }
	s.must(t, 202, oscar, "POST", "/v1/devices/"+a1.Device.ID+"/readmit", map[string]string{"reason": "re-attested"}).json(t, &rd)
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+rd.Approval.ID+"/decision", map[string]any{"approve": true})
	s.must(t, 200, oscar, "POST", "/v1/devices/"+a1.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	s.must(t, 200, audrey, "POST", "/v1/audit/reconcile", nil).json(t, &r)
	if len(r.Disagreements) != 0 {
		t.Fatalf("after revocations and a re-admission: %+v", r.Disagreements)
	}
}

// noteSize is the tree size a signed checkpoint note states (its second line).
func noteSize(t *testing.T, note []byte) uint64 {
	t.Helper()
	lines := strings.SplitN(string(note), "\n", 3)
	if len(lines) < 3 {
		t.Fatalf("checkpoint %q has no size line", note)
	}
	n, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		t.Fatalf("checkpoint size %q: %v", lines[1], err)
	}
	return n
}
