package postgres

import (
	"context"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeMarksHandoverTokens: migration 0033 marks the tokens a deployment administrator
// minted for a party's principals (one since deleted included) as hand-over tokens, and no
// other; a token stored after it keeps its flag.
func TestUpgradeMarksHandoverTokens(t *testing.T) {
	ctx := context.Background()
	db, dsn := migratedBefore(t, "0033")
	storetest.SeedBeforeHandover(t, db, "$1")
	db.Close()

	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckHandoverUpgrade(t, s)
}
