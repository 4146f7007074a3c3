package app

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/makerstatus/makertest"
	"github.com/hallmark-id/hallmark/internal/operational"
)

// TestExternalMakerSourceGaps (issue 15, point 3): a registered maker's CRL, served by a real
// static file server on loopback, turns stale and then goes away; each time the governance
// gaps report (GET /v1/reports/gaps) lists the source as a gap, naming the maker, the URL, the
// outcome and since when (the first failed fetch in a row, which the second failure keeps),
// to the operator and to an auditor and not to another party. The device it covers stays
// active. Once the maker serves a good CRL again, the gap is gone.
func TestExternalMakerSourceGaps(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	mk := makertest.New(t)
	s := startDevOpts(t, Options{MakerWatch: watchEvery})
	dir := t.TempDir()
	makerID := registerMaker(t, s, mk, "acme-sensors", nil)
	estEnroll(t, s, dir, s.info.ESTURL, "simpleenroll", mk.Path("dev1.pem"), mk.Path("dev1.key"), "gap1")
	good := time.Now()
	gaps := func(who string) []api.MakerSourceGap {
		var r api.GapsReport
		s.must(t, 200, who, "GET", "/v1/reports/gaps", nil).json(t, &r)
		var out []api.MakerSourceGap
		for _, g := range r.MakerSources {
			if g.MakerID == makerID {
				out = append(out, g)
			}
		}
		return out
	}
	// waitGap polls the report (at most 20 intervals and 20 s) until the CRL source is a gap
	// with outcome.
	waitGap := func(outcome string) api.MakerSourceGap {
		t.Helper()
		deadline := time.Now().Add(20*watchEvery + 20*time.Second)
		for {
			for _, g := range gaps(oscar) {
				if g.Kind == "crl" && g.URL == mk.CRLURL && g.Outcome == outcome {
					return g
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the gaps report shows no %s gap for %s: %+v", outcome, mk.CRLURL, gaps(oscar))
			}
			time.Sleep(watchEvery / 4)
		}
	}
	// A round with the good CRL keeps nothing to report.
	time.Sleep(2 * watchEvery)
	if g := gaps(oscar); len(g) != 0 {
		t.Fatalf("gaps while the maker's CRL is good: %+v", g)
	}

	// The maker publishes a stale CRL (its nextUpdate has passed).
	mk.Publish("inter.crl", mk.MakeCRL("-crl_lastupdate", "20250101000000Z", "-crl_nextupdate", "20250108000000Z"))
	stale := waitGap("stale")
	if stale.MakerName != "acme-sensors" || stale.OperatorID != "contoso" || stale.Since.Before(good) || stale.Since.After(time.Now()) ||
		!strings.Contains(stale.Error, "nextUpdate 2025-01-08") || stale.HeldUntil == nil || !stale.HeldUntil.After(time.Now().Add(6*24*time.Hour)) ||
		stale.LastOK == nil || !strings.Contains(stale.Why, "last good one is used") {
		t.Fatalf("the stale CRL's gap = %+v", stale)
	}
	var audited api.GapsReport
	s.must(t, 200, audrey, "GET", "/v1/reports/gaps", nil).json(t, &audited)
	seen := false
	for _, g := range audited.MakerSources {
		seen = seen || (g.MakerID == makerID && g.URL == mk.CRLURL)
	}
	if !seen || audited.Total < len(audited.MakerSources) {
		t.Errorf("the auditor's gaps report lacks the maker's source: %+v", audited.MakerSources)
	}
	if g := gaps(alice); len(g) != 0 {
		t.Errorf("another party sees the operator's maker sources: %+v", g)
	}

	// The CRL goes away (404): still a gap, now unreachable, since the same first failure.
	if err := os.Remove(mk.Served + "/inter.crl"); err != nil {
		t.Fatal(err)
	}
	gone := waitGap("unreachable")
	if !gone.Since.Equal(stale.Since) || !strings.Contains(gone.Error, "404") {
		t.Errorf("the vanished CRL's gap = %+v, want it since %v (the first failure in a row) naming HTTP 404", gone, stale.Since)
	}
	if v := externalDevice(t, s, oscar, operational.ExternalDeviceID(makerID, mk.Serials[0])); v.State != "active" || v.External == nil || v.External.State != "good" {
		t.Errorf("the device while its maker's CRL fails: %+v", v)
	}

	// A good CRL again: the gap is gone.
	mk.PublishCRL("inter.crl")
	deadline := time.Now().Add(20*watchEvery + 20*time.Second)
	for g := gaps(oscar); len(g) != 0; g = gaps(oscar) {
		if time.Now().After(deadline) {
			t.Fatalf("gaps after the maker serves a good CRL again: %+v", g)
		}
		time.Sleep(watchEvery / 4)
	}
}
