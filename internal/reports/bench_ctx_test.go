package reports_test

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/reports"
)

// snapshotContext is the context a round of the console's snapshots computes under, one per
// round.
func snapshotContext(ctx context.Context, actors []audit.Actor) context.Context {
	return reports.SnapshotRound(ctx, actors)
}
