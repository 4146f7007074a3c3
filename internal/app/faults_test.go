package app

import (
	"bytes"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

// Fault tests: real server processes killed with SIGKILL in the middle of work, a lost
// database connection and a restarted database. What must hold afterwards: every
// acknowledged operation is there with its audit event; every certificate handed out is
// the one whose to-be-signed bytes were recorded before signing; no serial repeats; nothing
// half done is visible (a certificate is reserved and unsigned, or signed with its device,
// build record and audit event); an interrupted lot revocation completes when run again.

// faultBudget is the time each kill -9 loop runs: 20 s by default, 6 s with -short, and
// HALLMARK_FAULT_SECONDS when set (e.g. 90 for a long run).
func faultBudget(t *testing.T) time.Duration {
	if v := os.Getenv("HALLMARK_FAULT_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("HALLMARK_FAULT_SECONDS=%q is not a positive number of seconds", v)
		}
		return time.Duration(n) * time.Second
	}
	if testing.Short() {
		return 6 * time.Second
	}
	return 20 * time.Second
}

func TestKillNine(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { killLoop(t, newCluster(t, "sqlite", "")) })
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("HALLMARK_TEST_POSTGRES")
		if base == "" {
			t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES (.ci/run starts a server)")
		}
		killLoop(t, newCluster(t, "postgres", pgSchema(t)))
	})
}

// issued is an acknowledged factory issuance.
type issued struct {
	lot string
	fi  factoryIdentity
}

// faultLot is a lot of the loop and what happened to its revocation.
type faultLot struct {
	id, name            string
	revokeTried, acked  bool
	devicesAtRevocation int
}

// killLoop kills the one server of c with SIGKILL at a random moment while three clients
// issue factory identities into this round's lot and a fourth revokes the previous round's
// lot, again and again for faultBudget, then checks what the database holds.
func killLoop(t *testing.T, c *cluster) {
	r := c.add()
	r.start()
	if _, _, err := r.issueVia(t, mustLot(t, c, r, "lot-warm").id, "lot-warm", "SN-warm"); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		acks     []issued
		tried    int
		lots     []*faultLot
		kills    int
		startDur time.Duration
	)
	budget := faultBudget(t)
	deadline := time.Now().Add(budget)
	for round := 0; time.Now().Before(deadline); round++ {
		if !r.running() {
			s := time.Now()
			r.start()
			startDur += time.Since(s)
		}
		lot := mustLot(t, c, r, fmt.Sprintf("lot-k%d", round))
		lots = append(lots, lot)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 3 {
			wg.Go(func() {
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					sn := fmt.Sprintf("SN-k%d-%d-%d", round, w, k)
					mu.Lock()
					tried++
					mu.Unlock()
					fi, _, err := r.issueVia(t, lot.id, lot.name, sn)
					if err != nil {
						return // killed
					}
					mu.Lock()
					acks = append(acks, issued{lot.id, fi})
					mu.Unlock()
				}
			})
		}
		sent := make(chan struct{})
		if round > 0 {
			prev := lots[round-1]
			wg.Go(func() {
				time.Sleep(time.Duration(rand.N(150)) * time.Millisecond)
				prev.revokeTried = true
				close(sent)
				res, err := r.try(alice, "POST", "/v1/manufacturing/revocations", revokeLot(prev.id))
				prev.acked = err == nil && res.Status == 201
			})
		}
		if round%2 == 1 {
			// Aim at the revocation: a lot's run takes milliseconds.
			<-sent
			time.Sleep(time.Duration(rand.N(15000)) * time.Microsecond)
		} else {
			time.Sleep(time.Duration(80+rand.N(320)) * time.Millisecond)
		}
		r.kill9()
		kills++
		close(stop)
		wg.Wait()
	}
	r.start()
	// An interrupted lot revocation finishes when it is run again.
	rerun := 0
	for _, l := range lots {
		if l.revokeTried && !l.acked {
			r.api.must(t, 201, alice, "POST", "/v1/manufacturing/revocations", revokeLot(l.id))
			rerun++
		}
	}
	r.stop()
	t.Logf("%d kill -9 in %s (%s of it restarting, %s per start); %d of %d issuances acknowledged; %d lot revocations, %d interrupted and run again",
		kills, budget, startDur.Round(time.Millisecond), (startDur / time.Duration(max(kills, 1))).Round(time.Millisecond), len(acks), tried, len(lots)-1, rerun)
	checkAfterFaults(t, c, acks, lots)
}

func mustLot(t *testing.T, c *cluster, r *replica, name string) *faultLot {
	t.Helper()
	id, _ := lotWithCA(t, r.api, name)
	return &faultLot{id: id, name: name}
}

func revokeLot(lotID string) map[string]any {
	return map[string]any{"selector": map[string]any{"manufacturer_id": "acme", "lot_id": lotID}, "reason": "keyCompromise", "dry_run": false}
}

// checkAfterFaults checks the database of c (its servers stopped) against what was
// acknowledged.
func checkAfterFaults(t *testing.T, c *cluster, acks []issued, lots []*faultLot) {
	t.Helper()
	db := c.db()
	q := func(query string) string {
		if c.driver == "postgres" {
			return sqlstore.QuestionToDollar(query)
		}
		return query
	}
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(q(query), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	// Every acknowledged issuance is there: its device, the very certificate handed out
	// (and the to-be-signed bytes recorded before signing are the ones signed), its build
	// record and its one audit event. No serial was handed out twice.
	serials := map[string]bool{}
	for _, a := range acks {
		cert := parsePEM(t, a.fi.CertificatePEM)
		serial := a.fi.Device.FactoryCert
		if serials[serial] {
			t.Errorf("serial %s was handed out twice", serial)
		}
		serials[serial] = true
		var tbs, der []byte
		var state, devCert string
		err := db.QueryRow(q(`SELECT c.tbs, c.der, c.state, d.factory_cert FROM certificates c JOIN devices d ON d.id = c.device_id WHERE c.serial = ?`), serial).Scan(&tbs, &der, &state, &devCert)
		if err != nil {
			t.Errorf("acknowledged certificate %s of device %s: %v", serial, a.fi.Device.ID, err)
			continue
		}
		if !bytes.Equal(tbs, cert.RawTBSCertificate) || !bytes.Equal(der, cert.Raw) || devCert != serial || (state != "issued" && state != "revoked") {
			t.Errorf("certificate %s: recorded TBS matches %v, stored DER matches %v, device's certificate %s, state %s", serial,
				bytes.Equal(tbs, cert.RawTBSCertificate), bytes.Equal(der, cert.Raw), devCert, state)
		}
		if n := count(`SELECT COUNT(*) FROM audit_events WHERE action = 'factory.issue' AND subject = ?`, "device:"+a.fi.Device.ID); n != 1 {
			t.Errorf("device %s has %d factory.issue events, want 1", a.fi.Device.ID, n)
		}
		if n := count(`SELECT COUNT(*) FROM build_records WHERE device_id = ?`, a.fi.Device.ID); n != 1 {
			t.Errorf("device %s has %d build records, want 1", a.fi.Device.ID, n)
		}
	}
	// Nothing half done, acknowledged or not: a factory certificate is reserved and unsigned,
	// or signed with its device, build record and audit event.
	for _, c := range []struct{ what, query string }{
		{"signed factory certificates without their device", `SELECT COUNT(*) FROM certificates c WHERE c.profile = 'factory' AND c.state <> 'reserved' AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.factory_cert = c.serial)`},
		{"signed certificates without DER", `SELECT COUNT(*) FROM certificates WHERE state <> 'reserved' AND der IS NULL`},
		{"reserved certificates with DER", `SELECT COUNT(*) FROM certificates WHERE state = 'reserved' AND der IS NOT NULL`},
		{"devices whose factory certificate is not signed", `SELECT COUNT(*) FROM devices d LEFT JOIN certificates c ON c.serial = d.factory_cert WHERE c.serial IS NULL OR c.state NOT IN ('issued', 'revoked')`},
		{"devices without a build record", `SELECT COUNT(*) FROM devices d WHERE NOT EXISTS (SELECT 1 FROM build_records b WHERE b.device_id = d.id)`},
		{"devices sharing a factory certificate", `SELECT COUNT(*) FROM (SELECT factory_cert FROM devices GROUP BY factory_cert HAVING COUNT(*) > 1) x`},
		{"revoked certificates without their cascade item", `SELECT COUNT(*) FROM certificates c WHERE c.profile = 'factory' AND c.state = 'revoked' AND NOT EXISTS (SELECT 1 FROM cascade_items i WHERE i.serial = c.serial)`},
		{"finished runs without their finish event", `SELECT COUNT(*) FROM revocation_runs r WHERE r.finished_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.action = 'factory.revoke.finish' AND e.subject = 'revocation:' || r.id)`},
	} {
		if n := count(c.query); n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}
	devices := count(`SELECT COUNT(*) FROM devices`)
	if events := count(`SELECT COUNT(*) FROM audit_events WHERE action = 'factory.issue'`); events != devices {
		t.Errorf("%d devices but %d factory.issue events", devices, events)
	}
	// Every lot whose revocation was tried is wholly revoked, by a run that finished.
	for _, l := range lots {
		if !l.revokeTried {
			continue
		}
		if n := count(`SELECT COUNT(*) FROM devices d JOIN certificates c ON c.serial = d.factory_cert WHERE d.lot_id = ? AND (c.state <> 'revoked' OR d.state <> 'factory-revoked')`, l.id); n != 0 {
			t.Errorf("lot %s (revocation acknowledged %v): %d devices not revoked", l.id, l.acked, n)
		}
		if n := count(`SELECT COUNT(*) FROM revocation_runs WHERE finished_at IS NOT NULL AND selector LIKE ?`, "%"+l.id+"%"); n < 1 {
			t.Errorf("lot %s has no finished revocation run", l.id)
		}
	}
	reserved := count(`SELECT COUNT(*) FROM certificates WHERE state = 'reserved'`)
	unfinished := count(`SELECT COUNT(*) FROM revocation_runs WHERE finished_at IS NULL`)
	auditSize(t, db) // size = events = highest seq
	checkStoreTree(t, c)
	t.Logf("database: %d devices, %d acknowledged; %d reserved serials (intents that did not complete); %d revocation runs interrupted (each run again to completion)",
		devices, len(acks), reserved, unfinished)
}

// TestLostConnection terminates the server's PostgreSQL connections (pg_terminate_backend)
// under it, several times: the server recovers without a restart and the operations after
// each termination succeed.
func TestLostConnection(t *testing.T) {
	base := os.Getenv("HALLMARK_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES (.ci/run starts a server)")
	}
	app := fmt.Sprintf("hm-lost-%d", time.Now().UnixNano())
	c := newCluster(t, "postgres", pgURL(pgSchema(t), "application_name", app))
	r := c.add()
	r.start()
	lot := mustLot(t, c, r, "lot-lost")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var acks []issued
	for round := range 3 {
		var n int
		if err := admin.QueryRow(`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("round %d: the server has no connection to terminate", round)
		}
		for k := range 5 {
			fi, _, err := r.issueVia(t, lot.id, lot.name, fmt.Sprintf("SN-lost-%d-%d", round, k))
			if err != nil {
				t.Fatalf("round %d (%d connections terminated), issuance %d: %v", round, n, k, err)
			}
			acks = append(acks, issued{lot.id, fi})
		}
		if role, err := r.health(); err != nil || role != "leader" {
			t.Errorf("round %d: healthz %q, %v", round, role, err)
		}
	}
	if !r.running() {
		t.Fatal("the server exited")
	}
	r.stop()
	checkAfterFaults(t, c, acks, nil)
}

// TestDatabaseRestart restarts a throwaway PostgreSQL cluster (pg_ctl, fast and immediate
// shutdown) under a running server: within a bound the server's operations succeed again,
// without restarting it, and nothing acknowledged is lost.
func TestDatabaseRestart(t *testing.T) {
	pg := startThrowawayPG(t)
	c := newCluster(t, "postgres", pg.url)
	r := c.add()
	r.start()
	lot := mustLot(t, c, r, "lot-restart")
	var acks []issued
	issue := func(sn string) error {
		fi, _, err := r.issueVia(t, lot.id, lot.name, sn)
		if err == nil {
			acks = append(acks, issued{lot.id, fi})
		}
		return err
	}
	for _, mode := range []string{"fast", "immediate"} {
		for k := range 3 {
			if err := issue(fmt.Sprintf("SN-before-%s-%d", mode, k)); err != nil {
				t.Fatal(err)
			}
		}
		pg.ctl(t, "restart", "-m", mode)
		k := 0
		took := eventually(t, "an issuance after the database restarted ("+mode+")", 30*time.Second, func() error {
			k++
			return issue(fmt.Sprintf("SN-after-%s-%d", mode, k))
		})
		for j := range 5 {
			if err := issue(fmt.Sprintf("SN-then-%s-%d", mode, j)); err != nil {
				t.Fatalf("issuance %d after the restart (%s): %v", j, mode, err)
			}
		}
		t.Logf("restart -m %s: operations succeed again %s after pg_ctl returned", mode, took.Round(time.Millisecond))
	}
	if !r.running() {
		t.Fatal("the server exited")
	}
	r.stop()
	checkAfterFaults(t, c, acks, nil)
}

// throwawayPG is a PostgreSQL cluster of one test.
type throwawayPG struct {
	bin, dir, url string
	port          int
}

// startThrowawayPG initialises and starts a cluster on a private port and socket folder (as
// the postgres user, as .ci/run does), stopped when the test ends. It skips when the
// PostgreSQL server binaries or runuser are missing.
func startThrowawayPG(t *testing.T) *throwawayPG {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Strings(bins)
	if len(bins) == 0 {
		t.Skip("database restart skipped: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
	}
	if _, err := exec.LookPath("runuser"); err != nil || os.Geteuid() != 0 {
		t.Skip("database restart skipped: initdb must run as the postgres user through runuser, which needs root")
	}
	pg := &throwawayPG{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "hallmark-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg.dir = dir
	if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
		t.Skipf("database restart skipped: chown postgres: %v %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pg.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if out, err := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pg.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg.ctl(t, "start")
	t.Cleanup(func() { _ = pg.run("stop", "-m", "fast") })
	pg.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
	return pg
}

func (pg *throwawayPG) run(action string, args ...string) error {
	a := []string{"-u", "postgres", "--", filepath.Join(pg.bin, "pg_ctl"), action, "-D", filepath.Join(pg.dir, "data"), "-w", "-t", "60"}
	if action == "start" || action == "restart" {
		a = append(a, "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", pg.port, pg.dir), "-l", filepath.Join(pg.dir, "log"))
	}
	a = append(a, args...)
	out, err := exec.Command("runuser", a...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s", strings.Join(append([]string{action}, args...), " "), err, out)
	}
	return nil
}

func (pg *throwawayPG) ctl(t *testing.T, action string, args ...string) {
	t.Helper()
	if err := pg.run(action, args...); err != nil {
		t.Fatal(err)
	}
}
