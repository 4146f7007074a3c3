package reports_test

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/reports"
)

// snapshotContext is the context the console's snapshot rounds compute under.
func snapshotContext(ctx context.Context) context.Context { return reports.ReuseUnchanged(ctx) }
