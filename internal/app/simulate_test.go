package app

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/simulate"
)

// TestSimulateSmallFleet drives 24 virtual devices through manufacture, custody, EST
// onboarding and a renewal against a real dev server, on each store.
func TestSimulateSmallFleet(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { simulateSmallFleet(t, startDev(t, "")) })
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("HALLMARK_TEST_POSTGRES")
		if base == "" {
			t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES (.ci/run starts a server)")
		}
		t.Setenv("HALLMARK_TEST_DEV_DATABASE_URL", pgSchema(t))
		s := startDevOpts(t, Options{DevPostgresEnv: "HALLMARK_TEST_DEV_DATABASE_URL"})
		if !strings.HasPrefix(s.info.Database, "postgres") {
			t.Fatalf("dev.json names database %q, want the PostgreSQL store", s.info.Database)
		}
		simulateSmallFleet(t, s)
	})
}

func simulateSmallFleet(t *testing.T, s *devServer) {
	ca, err := os.ReadFile(s.info.TLSCAFile)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := simulate.Run(context.Background(), simulate.Config{APIURL: s.info.APIURL, ESTURL: s.info.ESTURL, CAPEM: ca, Tokens: s.tokens,
		Devices: 24, Concurrency: 4, Renewals: 1, Deadline: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Refusals) != 0 {
		t.Errorf("refusals: %v", sum.Refusals)
	}
	want := map[string]int{"factory issuance (REST)": 24, "custody transfer (lot)": 1, "onboarding (EST simpleenroll)": 24, "renewal 1 (EST simplereenroll)": 24}
	for _, p := range sum.Phases {
		if p.OK != want[p.Name] || p.Failed != 0 {
			t.Errorf("phase %s: %d ok, %d failed; want %d ok", p.Name, p.OK, p.Failed, want[p.Name])
		}
	}
	if err := simulate.Loopback("https://example.com:8443"); err == nil {
		t.Error("the simulator accepted a server that is not on loopback")
	}
}
