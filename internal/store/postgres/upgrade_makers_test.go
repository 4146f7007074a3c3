package postgres

import (
	"context"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeMakers: migration 0019 makes a device's manufacturer, model and lot optional
// (devices of makers that do not run Hallmark) and keeps every device and what refers to it.
func TestUpgradeMakers(t *testing.T) {
	ctx := context.Background()
	db, dsn := migratedBefore(t, "0019")
	for _, st := range storetest.UpgradeMakersSeed(t) {
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
	storetest.CheckUpgradedMakers(t, s)
}
