package sqlstore

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// maintenance is upkeep of the writer's database that a dialect needs between write
// transactions (SQLite: resetting the write-ahead log, sqlite.Open). The group-commit writer
// runs it after a batch has been answered, at most once per interval, on its own connection:
// no write transaction is open then, and the next batch waits for it.
type maintenance struct {
	every time.Duration
	fn    func(ctx context.Context, writer *sql.DB) error
	last  time.Time
	runs  atomic.Int64 // calls of fn that returned nil
	fails atomic.Int64
}

// SetMaintenance makes the group-commit writer call fn after a batch, at most once per
// every. Call it once, before use. fn must be quick when there is nothing to do, and bound
// its own time when there is.
func (s *Store) SetMaintenance(every time.Duration, fn func(ctx context.Context, writer *sql.DB) error) {
	s.maint = &maintenance{every: every, fn: fn}
}

// MaintenanceStats returns how many maintenance calls succeeded and failed so far.
func (s *Store) MaintenanceStats() (runs, fails int64) {
	if s.maint == nil {
		return 0, 0
	}
	return s.maint.runs.Load(), s.maint.fails.Load()
}

// maintain runs the maintenance when it is due; only the writer's goroutine calls it.
func (s *Store) maintain() {
	m := s.maint
	if m == nil || time.Since(m.last) < m.every {
		return
	}
	m.last = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.fn(ctx, s.writer); err != nil {
		m.fails.Add(1)
		return
	}
	m.runs.Add(1)
}
