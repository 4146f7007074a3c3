package app

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

// openStore opens the store a configuration names.
func openStore(ctx context.Context, c config.Store) (*sqlstore.Store, error) {
	if c.Driver == "postgres" {
		dsn, err := c.DSN()
		if err != nil {
			return nil, err
		}
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, c.Path)
}
