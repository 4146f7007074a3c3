package postgres

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeMarksHandoverTokens: migration 0033 marks the tokens a deployment administrator
// minted for a party's principals (one since deleted included) as hand-over tokens, and no
// other; a token stored after it keeps its flag.
func TestUpgradeMarksHandoverTokens(t *testing.T) {
	s, _ := upgradedFrom(t, "0033", storetest.SeedBeforeHandover)
	storetest.CheckHandoverUpgrade(t, s)
}
