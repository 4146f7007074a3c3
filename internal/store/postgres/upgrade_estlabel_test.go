package postgres

import (
	"context"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeClaimsESTNames: environments from before migration 0012 keep the EST labels they
// answered to; a name several operators shared goes to the environment created first.
func TestUpgradeClaimsESTNames(t *testing.T) {
	ctx := context.Background()
	db, dsn := migratedBefore(t, "0012")
	for _, st := range storetest.UpgradeESTNamesSeed(t) {
		if _, err := db.Exec(sqlstore.QuestionToDollar(st.Query), st.Args...); err != nil {
			t.Fatalf("%s: %v", st.Query, err)
		}
	}
	db.Close()

	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.View(ctx, func(tx store.Tx) error {
		storetest.CheckUpgradedESTNames(t, tx)
		return nil
	})
}
