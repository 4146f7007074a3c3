package app

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/pgtest"
)

// pgSchema makes an empty schema on the HALLMARK_TEST_POSTGRES server and returns a URL that
// uses it; the schema is dropped when tb ends.
func pgSchema(tb testing.TB) string { return pgtest.SchemaDSN(tb, "t") }
