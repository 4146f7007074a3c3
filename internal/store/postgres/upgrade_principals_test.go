package postgres

import (
	"context"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradePrincipalTokens: a database from before migration 0020 keeps its principals and
// their tokens; its administrators become deployment administrators.
func TestUpgradePrincipalTokens(t *testing.T) {
	ctx := context.Background()
	db, dsn := migratedBefore(t, "0020")
	storetest.SeedBeforePrincipalTokens(t, db, "$1")
	db.Close()

	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckPrincipalTokensUpgrade(t, s)
}
