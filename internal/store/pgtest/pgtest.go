// Package pgtest gives tests and benchmarks an empty PostgreSQL schema on the server that
// HALLMARK_TEST_POSTGRES names. It is imported by tests only.
package pgtest

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env names the variable holding the server's URL (postgres://...).
const Env = "HALLMARK_TEST_POSTGRES"

var seq atomic.Int64

// SchemaDSN creates an empty schema named prefix_<time>_<n> and returns the server's URL with
// that schema as its search_path. The schema is dropped when tb ends. Without Env, tb is
// skipped; a URL that is not postgres:// or a server that refuses the schema fails tb.
func SchemaDSN(tb testing.TB, prefix string) string {
	tb.Helper()
	base := os.Getenv(Env)
	if base == "" {
		tb.Skip("PostgreSQL side skipped: set " + Env + " to a server URL")
	}
	u, err := url.Parse(base)
	if err != nil || !strings.HasPrefix(base, "postgres") {
		tb.Fatalf("%s must be a postgres:// URL", Env)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	schema := fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano(), seq.Add(1))
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		tb.Fatalf("creating schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
