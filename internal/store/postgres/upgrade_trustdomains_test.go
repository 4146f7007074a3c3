package postgres

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeClaimsTrustDomains: migration 0035 gives each trust domain the environments
// already name to the operator of the environment that named it first (by ID on a tie), a
// domain two operators share included, and a claim after it finds those claims.
func TestUpgradeClaimsTrustDomains(t *testing.T) {
	s, _ := upgradedFrom(t, "0035", storetest.SeedBeforeTrustDomains)
	storetest.CheckTrustDomainsUpgrade(t, s)
}
