package postgres

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradePrincipalTokens: a database from before migration 0020 keeps its principals and
// their tokens; its administrators become deployment administrators.
func TestUpgradePrincipalTokens(t *testing.T) {
	s, _ := upgradedFrom(t, "0020", storetest.SeedBeforePrincipalTokens)
	storetest.CheckPrincipalTokensUpgrade(t, s)
}
