package app

import (
	"net/url"
	"testing"
	"time"
)

// TestInventoryFilters lists devices by state, lot, environment, manufacturer and expiry, and
// pages through them, as each party is allowed to see them.
func TestInventoryFilters(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotA := demoLot(t, s, "lot-a")
	lotB := demoLot(t, s, "lot-b")
	envID := opEnv(t, s, "plant-inv", nil)
	for _, sn := range []string{"SN-A1", "SN-A2", "SN-A3"} {
		deliveredDevice(t, s, dir, lotA, "lot-a", sn)
	}
	issueFactory(t, s, dir, lotB, "lot-b", "SN-B1") // stays at the factory
	onboard(t, s, dir, envID, "SN-A1", "opa1", 201)

	type page struct {
		Items []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"items"`
		NextAfter string `json:"next_after"`
	}
	count := func(who, query string) int {
		t.Helper()
		var p page
		s.must(t, 200, who, "GET", "/v1/devices?"+query, nil).json(t, &p)
		return len(p.Items)
	}
	soon := url.QueryEscape(time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339))
	cases := []struct {
		name, who, query string
		want             int
	}{
		{"operator sees what it holds", oscar, "", 3},
		{"maker sees all it made", alice, "", 4},
		{"auditor sees everything", audrey, "", 4},
		{"distributor sees nothing", dana, "", 0},
		{"by lot", alice, "lot=" + lotB, 1},
		{"by state", oscar, "state=active", 1},
		{"by environment", oscar, "environment=" + envID, 1},
		{"by manufacturer", audrey, "manufacturer=acme", 4},
		{"expiring within two days", oscar, "expiring_before=" + soon, 1},
		{"expiring within an hour", oscar, "expiring_before=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(tc.who, tc.query); got != tc.want {
				t.Errorf("%s sees %d devices for %q, want %d", tc.who, got, tc.query, tc.want)
			}
		})
	}
	// Pagination: two pages of two.
	var p1, p2 page
	s.must(t, 200, alice, "GET", "/v1/devices?limit=2", nil).json(t, &p1)
	if len(p1.Items) != 2 || p1.NextAfter == "" {
		t.Fatalf("first page = %+v", p1)
	}
	s.must(t, 200, alice, "GET", "/v1/devices?limit=2&after="+p1.NextAfter, nil).json(t, &p2)
	if len(p2.Items) != 2 || p2.Items[0].ID <= p1.Items[1].ID {
		t.Errorf("second page = %+v after %+v", p2, p1)
	}
	s.must(t, 400, alice, "GET", "/v1/devices?limit=0", nil)
	s.must(t, 400, alice, "GET", "/v1/devices?expiring_before=tomorrow", nil)
}
