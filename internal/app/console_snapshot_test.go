package app

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/console"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

var (
	asOfRE        = regexp.MustCompile(`id="as-of">Figures as of <time class="local" datetime="([^"]+)"`)
	deviceCountRE = regexp.MustCompile(`id="device-count">(\d+)<`)
)

// TestConsoleReportSnapshots: the overview shows the party's latest snapshot (its figures and
// its time), each party sees its own scope in it, a new one appears after the interval, and
// ?live=1 computes live.
func TestConsoleReportSnapshots(t *testing.T) {
	dir := t.TempDir()
	s := startDevOpts(t, Options{DataDir: dir, SnapshotInterval: 2 * time.Second})
	// Devices of acme's that only acme (and the auditor) see, and one handed to contoso.
	lot := demoLot(t, s, "lot-snap")
	for _, sn := range []string{"SN-SNAP1", "SN-SNAP2"} {
		issueFactory(t, s, dir, lot, "lot-snap", sn)
	}
	deliveredDevice(t, s, dir, lot, "lot-snap", "SN-SNAP3")
	changed := time.Now()

	page := func(who, path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", s.info.APIURL+path, nil)
		req.AddCookie(&http.Cookie{Name: "__Host-hallmark_session", Value: s.tokens[who]})
		res, err := s.http.Do(req)
		if err != nil {
			t.Fatalf("GET %s as %s: %v", path, who, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s as %s: %d", path, who, res.StatusCode)
		}
		return string(b)
	}
	asOf := func(body string) (time.Time, bool) {
		m := asOfRE.FindStringSubmatch(body)
		if m == nil {
			return time.Time{}, false
		}
		at, err := time.Parse(time.RFC3339, m[1])
		return at, err == nil
	}
	// newer waits (at most 60 s) for the overview to show a snapshot computed after after.
	newer := func(who string, after time.Time) (string, time.Time) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			body := page(who, "/ui/")
			if at, ok := asOf(body); ok && at.After(after) {
				return body, at
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no snapshot newer than %s on the overview within 60 s", who, after.UTC().Format(time.RFC3339))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	count := func(body string) int {
		t.Helper()
		m := deviceCountRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("the overview shows no device count")
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	snaps := snapshotReader{st}

	seen := map[string]int{}
	for _, c := range []struct{ who, party string }{{olivia, "contoso"}, {alice, "acme"}, {audrey, "auditco"}} {
		// The page and the stored row must be of the same round: a round may replace the row
		// between the two reads, so read the row first and retry (bounded) when they differ.
		for try := 0; ; try++ {
			snap, ok, err := snaps.LatestSnapshot(ctx, c.party, console.SnapshotOverview)
			if err != nil {
				t.Fatal(err)
			}
			body, at := newer(c.who, changed)
			if !ok || !at.Equal(snap.ComputedAt.Truncate(time.Second)) {
				if try == 20 {
					t.Fatalf("%s: the page's snapshot time %s never matched the stored one", c.who, at)
				}
				continue
			}
			var live struct {
				Devices int `json:"devices"`
			}
			s.must(t, 200, c.who, "GET", "/v1/reports/summary", nil).json(t, &live)
			n := count(body)
			if n != snap.Summary.Devices || n != live.Devices {
				t.Fatalf("%s: the overview shows %d devices; the snapshot of %s holds %d and the live report says %d", c.who, n, c.party, snap.Summary.Devices, live.Devices)
			}
			if !strings.Contains(body, `id="compute-live"`) {
				t.Fatalf("%s: no link to compute live", c.who)
			}
			seen[c.party] = n
			break
		}
	}
	// Each party sees its own scope: contoso holds one of the new devices, acme made all three
	// and the auditor sees the whole fleet.
	if !(seen["contoso"] < seen["acme"] && seen["acme"] <= seen["auditco"]) || seen["contoso"] < 1 {
		t.Fatalf("device counts per party in their snapshots: %v", seen)
	}

	// The reports pages read the snapshot too; ?live=1 computes live.
	if body := page(olivia, "/ui/reports/expiring"); !asOfRE.MatchString(body) {
		t.Fatal("the expiring report page does not say which snapshot it shows")
	}
	if body := page(olivia, "/ui/?live=1"); !strings.Contains(body, "Computed live just now.") || count(body) != seen["contoso"] {
		t.Fatal("the live overview does not say it is live or shows other figures")
	}

	// A new snapshot appears after the interval (2 s here).
	_, first := newer(olivia, changed)
	if _, next := newer(olivia, first); !next.After(first) {
		t.Fatalf("snapshot times %s then %s", first, next)
	}
}
