package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// BenchmarkConsolePages measures each console page's server time on a dev server whose
// database holds a large fleet: HALLMARK_BENCH_DEVICES devices (default 100,000; 1000000 for
// the 1M database), in lots of 10,000 made by acme, handed to contoso and active in
// one of its environments, each with a factory and an operational certificate record.
//
// The database is built once and kept in HALLMARK_BENCH_CACHE (default the user's cache
// folder, hallmark-bench/console-N): a dev server seeds the demo parties and makes the lots
// and the environment through the API, then the devices and certificates are written straight
// through the store (the fastest real path: the store's own inserts, 1,000 devices a
// transaction with an audit event each; the certificates are records only, no page reads
// their bytes). Later runs start the dev server on the cached folder.
//
// Each page is fetched over HTTPS on loopback with a keep-alive connection and the person's
// session cookie, so ns/op is the server's time plus a loopback round trip.
//
//	HALLMARK_BENCH_DEVICES=1000000 go test -run '^$' -bench ConsolePages -benchtime 5x -timeout 60m ./internal/app/
func BenchmarkConsolePages(b *testing.B) {
	n := 100000
	if v := os.Getenv("HALLMARK_BENCH_DEVICES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10000 {
			b.Fatalf("HALLMARK_BENCH_DEVICES=%q: give a number of at least 10000", v)
		}
	}
	cache := os.Getenv("HALLMARK_BENCH_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cache = filepath.Join(base, "hallmark-bench")
	}
	dir := filepath.Join(cache, "console-"+strconv.Itoa(n))
	if _, err := os.Stat(filepath.Join(dir, "seeded")); err != nil {
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		buildConsoleFleet(b, dir, n)
		b.Logf("built the %d-device database in %s (%s)", n, time.Since(start).Round(time.Second), dir)
	}
	// One round of report snapshots at start (snapshots.go) and none while the pages are
	// timed: the overview and the reports pages read the snapshot, as they do once the leader
	// has computed one; overview-live times the same page computed live (?live=1).
	started := time.Now()
	s := startDevOpts(b, Options{DataDir: dir, SnapshotInterval: 24 * time.Hour})
	defer s.stop()
	var fleet struct{ Lot, Env, Device string }
	if raw, err := os.ReadFile(filepath.Join(dir, "seeded")); err != nil || json.Unmarshal(raw, &fleet) != nil {
		b.Fatalf("reading the fleet's marker: %v", err)
	}
	get := func(b *testing.B, who, path string) []byte {
		req, _ := http.NewRequest("GET", s.info.APIURL+path, nil)
		req.AddCookie(&http.Cookie{Name: "__Host-hallmark_session", Value: s.tokens[who]})
		res, err := s.http.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("GET %s as %s: %d %s", path, who, res.StatusCode, body)
		}
		return body
	}
	// Wait for this server's first round of snapshots to be over (by the stored rows: asking for the page would compute it live meanwhile; and the
	// rows of an earlier server, such as the one that built the fleet, do not count).
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "hallmark.db"))
	if err != nil {
		b.Fatal(err)
	}
	var parties []string
	if err := st.View(context.Background(), func(tx store.Tx) error {
		ps, err := tx.Parties().ListParties()
		for _, p := range ps {
			parties = append(parties, p.ID)
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}
	for _, p := range parties { // every party's: the round is over before a page is timed
		deadline := time.Now().Add(60 * time.Minute)
		for {
			snap, ok, err := snapshotReader{st}.LatestSnapshot(context.Background(), p, "standards")
			if err != nil {
				b.Fatal(err)
			}
			if ok && snap.ComputedAt.After(started) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no report snapshot of %s within 60 minutes", p)
			}
			time.Sleep(time.Second)
		}
	}
	b.Logf("the first round of report snapshots (%d parties) was over %s after the server started", len(parties), time.Since(started).Round(time.Second))
	st.Close()
	// A second inventory page, from the middle of the fleet: keyset, so as fast as the first.
	mid := "/ui/devices?after=" + url.QueryEscape(fmt.Sprintf("dev_b%08d", n/2))
	pages := []struct{ name, who, path, want string }{
		{"overview", olivia, "/ui/", `id="as-of">Figures as of`},
		{"overview-live", olivia, "/ui/?live=1", "Computed live just now."},
		{"inventory", olivia, "/ui/devices", "dev_b"},
		{"inventory-middle", olivia, mid, "dev_b"},
		{"inventory-filtered", olivia, "/ui/devices?state=active&lot=" + fleet.Lot, "dev_b"},
		{"device", olivia, "/ui/devices/" + fleet.Device, "timeline"},
		{"approvals", olivia, "/ui/approvals", "Pending"},
		{"revocation", alice, "/ui/revocations", "revoke-form"},
		{"support", olivia, "/ui/support", "grants"},
		{"policies", olivia, "/ui/policies?env=" + fleet.Env + "&kind=renewal", "diff"},
		{"report-rotation", audrey, "/ui/reports/rotation", `id="as-of">Figures as of`},
		{"report-expiring", audrey, "/ui/reports/expiring", `id="as-of">Figures as of`},
		{"report-drift", audrey, "/ui/reports/drift", `id="as-of">Figures as of`},
		{"report-standards", audrey, "/ui/reports/standards", `id="as-of">Figures as of`},
		{"report-gaps", audrey, "/ui/reports/gaps", `id="as-of">Figures as of`},
		{"audit", audrey, "/ui/audit", "events"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			if body := get(b, p.who, p.path); !bytes.Contains(body, []byte(p.want)) {
				b.Fatalf("%s lacks %q", p.path, p.want)
			}
			for b.Loop() {
				get(b, p.who, p.path)
			}
		})
	}
	// The dry run of one lot of 10,000 (a POST with the form's CSRF token): what the
	// revocation page shows before anything is revoked.
	b.Run("revocation-dryrun-10k-lot", func(b *testing.B) {
		form := url.Values{"csrf": {consoleCSRF(s.tokens[alice])}, "maker": {"acme"}, "by": {"lot"}, "value": {fleet.Lot}, "reason": {"keyCompromise"}, "action": {"preview"}}
		for b.Loop() {
			req, _ := http.NewRequest("POST", s.info.APIURL+"/ui/revocations", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: "__Host-hallmark_session", Value: s.tokens[alice]})
			res, err := s.http.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !bytes.Contains(body, []byte("<strong>10000</strong> factory identities would be revoked")) {
				b.Fatalf("dry run: %d %.300s", res.StatusCode, body)
			}
		}
	})
}

// consoleCSRF is the console's form token for a session holding token (as
// internal/console computes it: HMAC-SHA256 keyed by the cookie's secret), so the benchmark
// can post a form as a browser that loaded it would.
func consoleCSRF(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("hallmark-console-csrf/session"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// buildConsoleFleet seeds dir: demo data, lots and an environment through the API, devices
// and certificates through the store; then writes the marker naming a lot, the environment
// and one device.
func buildConsoleFleet(b *testing.B, dir string, n int) {
	s := startDevOpts(b, Options{DataDir: dir, SnapshotInterval: 24 * time.Hour})
	call := func(who, method, path string, body any, out any) {
		var rd io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		}
		req, _ := http.NewRequest(method, s.info.APIURL+path, rd)
		req.Header.Set("Authorization", "Bearer "+s.tokens[who])
		if rd != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := s.http.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			b.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				b.Fatal(err)
			}
		}
	}
	var cas, models items
	call(alice, "GET", "/v1/cas", nil, &cas)
	call(alice, "GET", "/v1/models?manufacturer=acme", nil, &models)
	issuing, opIssuing := "", ""
	for _, c := range cas.Items {
		if c.Role == "issuing" {
			issuing = c.ID
		}
	}
	var cs struct {
		Items []struct{ ID, Role, Stage string }
	}
	call(oscar, "GET", "/v1/cas", nil, &cs)
	for _, c := range cs.Items {
		if c.Role == "issuing" && c.Stage == "operational" {
			opIssuing = c.ID
		}
	}
	var env struct{ ID string }
	call(oscar, "POST", "/v1/environments", map[string]any{"operator_id": "contoso", "name": "bench-plant", "issuing_ca_id": opIssuing,
		"trust_domain": "contoso.example", "lifetime": "24h", "max_age": "72h", "services": []string{"telemetry"}}, &env)
	// A policy change waits for one other principal of contoso (docs/governance.md).
	var change struct{ ID, State string }
	call(oscar, "PUT", "/v1/environments/"+env.ID+"/policies/renewal", map[string]any{"rules": []map[string]string{
		{"name": "device-active", "expr": `device.state == "active"`}, {"name": "not-quarantined", "expr": `device.state != "quarantined"`}}}, &change)
	if change.State == "pending" {
		call(olivia, "POST", "/v1/approvals/"+change.ID+"/decision", map[string]any{"approve": true, "comment": "bench"}, nil)
	}
	var lots []device.Lot
	for i := 0; i < n/10000; i++ {
		var l struct{ ID, ModelID string }
		call(alice, "POST", "/v1/lots", map[string]any{"model_id": models.Items[0].ID, "name": fmt.Sprintf("bench-%03d", i), "line": "line-a", "issuing_ca_id": issuing}, &l)
		lots = append(lots, device.Lot{ID: l.ID, ModelID: models.Items[0].ID, IssuingCAID: issuing})
	}
	s.stop()

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	for done := 0; done < n; {
		batch := min(1000, n-done)
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := done; i < done+batch; i++ {
				lot := lots[i/10000]
				id := fmt.Sprintf("dev_b%08d", i)
				issued := now.Add(-time.Duration(i%48) * time.Hour)
				fs, ops := randSerial(), randSerial()
				// Each certificate's key hash, as issuance records it (else the store's
				// start-up backfill would read every certificate once).
				fk, ok := make([]byte, 32), make([]byte, 32)
				_, _ = rand.Read(fk)
				_, _ = rand.Read(ok)
				for _, c := range []ca.Cert{
					{Serial: fs, CAID: issuing, DeviceID: id, Profile: "factory", TBS: []byte{0}, KeySHA256: fk, NotBefore: now, NotAfter: now.Add(20 * 365 * 24 * time.Hour), CreatedAt: now},
					{Serial: ops, CAID: opIssuing, DeviceID: id, Profile: "operational", TBS: []byte{0}, KeySHA256: ok, NotBefore: issued, NotAfter: issued.Add(24 * time.Hour), CreatedAt: issued},
				} {
					if err := tx.Certificates().Reserve(c); err != nil {
						return err
					}
					if err := tx.Certificates().MarkIssued(c.Serial, []byte{0}, c.CreatedAt); err != nil {
						return err
					}
				}
				d := device.Device{ID: id, ManufacturerID: "acme", ModelID: lot.ModelID, LotID: lot.ID, Serial: fmt.Sprintf("SN-B%08d", i), State: device.Active,
					CustodianID: "contoso", FactoryCert: ca.SerialHex(fs), EnvironmentID: env.ID, OperationalCert: ca.SerialHex(ops), CreatedAt: now, UpdatedAt: now}
				if err := tx.Devices().CreateDevice(d); err != nil {
					return err
				}
			}
			_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "acme", PrincipalID: "bench", Action: "bench.seed"})
			return err
		})
		if err != nil {
			b.Fatalf("seeding devices %d-%d: %v", done, done+batch, err)
		}
		done += batch
	}
	marker, _ := json.Marshal(map[string]string{"lot": lots[0].ID, "env": env.ID, "device": "dev_b00000007"})
	if err := os.WriteFile(filepath.Join(dir, "seeded"), marker, 0o600); err != nil {
		b.Fatal(err)
	}
}
