package app

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLapsedDeviceOnboardsAgain moves the server's clock past an operational certificate's end:
// renewal is refused with what to do, the device onboards again with its factory identity
// under policy, and its lineage keeps both identities.
func TestLapsedDeviceOnboardsAgain(t *testing.T) {
	requireTool(t, "openssl")
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }
	s := startDevWith(t, "", clock)
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-lapse")
	envID := opEnv(t, s, "plant-lapse", map[string]any{"lifetime": "1h", "max_age": "2h"})
	fi := deliveredDevice(t, s, dir, lotID, "lot-lapse", "SN-L1")
	first, _ := onboard(t, s, dir, envID, "SN-L1", "lap1", 201)

	skew.Store(int64(90 * time.Minute)) // the device was offline past its certificate's end
	_, r := renew(t, s, dir, "lap1", "lap2", goodFacts, 403)
	if p := r.problem(t); !strings.Contains(p["detail"].(string), "expired") || !strings.Contains(p["detail"].(string), "onboard again") {
		t.Errorf("renewal of a lapsed certificate: %v", p)
	}
	second, _ := onboard(t, s, dir, envID, "SN-L1", "lap3", 201)
	if second.Device.OperationalCert == first.Device.OperationalCert || second.Evidence.BasedOn != fi.Device.FactoryCert {
		t.Errorf("re-onboarding = %+v", second)
	}
	var view struct {
		Lineage []struct {
			Serial string `json:"serial"`
			Kind   string `json:"kind"`
		} `json:"lineage"`
	}
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &view)
	if len(view.Lineage) != 2 || view.Lineage[0].Serial != first.Device.OperationalCert || view.Lineage[1].Serial != second.Device.OperationalCert {
		t.Errorf("lineage = %+v, want both onboardings", view.Lineage)
	}
}

// TestRevocationSelectors dry-runs a manufacturing revocation by each kind of selector.
func TestRevocationSelectors(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotA := demoLot(t, s, "lot-sa")
	lotB := demoLot(t, s, "lot-sb") // same line (line-a)
	a1 := issueFactory(t, s, dir, lotA, "lot-sa", "SN-S1")
	issueFactory(t, s, dir, lotA, "lot-sa", "SN-S2")
	issueFactory(t, s, dir, lotB, "lot-sb", "SN-S3")
	var cas items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	issuing := ""
	for _, c := range cas.Items {
		if c.Role == "issuing" {
			issuing = c.ID
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name string
		sel  map[string]string
		want int
	}{
		{"device", map[string]string{"device_id": a1.Device.ID}, 1},
		{"lot", map[string]string{"lot_id": lotA}, 2},
		{"line", map[string]string{"line": "line-a"}, 3},
		{"other line", map[string]string{"line": "line-z"}, 0},
		{"issuing CA", map[string]string{"issuing_ca_id": issuing}, 3},
		{"window containing now", map[string]string{"issued_from": past, "issued_to": future}, 3},
		{"window in the future", map[string]string{"issued_from": future}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.sel["manufacturer_id"] = "acme"
			var res struct {
				DryRun  bool  `json:"dry_run"`
				Factory []any `json:"factory"`
			}
			s.must(t, 200, alice, "POST", "/v1/manufacturing/revocations", map[string]any{"selector": tc.sel, "reason": "superseded"}).json(t, &res)
			if !res.DryRun || len(res.Factory) != tc.want {
				t.Errorf("selector %v selects %d, want %d", tc.sel, len(res.Factory), tc.want)
			}
		})
	}
	s.must(t, 400, alice, "POST", "/v1/manufacturing/revocations", map[string]any{"selector": map[string]string{"manufacturer_id": "acme"}, "reason": "superseded"})
	s.must(t, 400, alice, "POST", "/v1/manufacturing/revocations", map[string]any{"selector": map[string]string{"manufacturer_id": "acme", "lot_id": lotA}, "reason": "privilegeWithdrawn"})
}
