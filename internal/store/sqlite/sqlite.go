// Package sqlite opens Hallmark's embedded store: SQLite through modernc.org/sqlite (pure Go,
// no cgo) in WAL mode with full synchronous commits, so that an acknowledged write survives a
// crash of the process or the machine.
//
// One connection writes (SQLite has one writer anyway; BEGIN IMMEDIATE takes the lock at the
// start so a transaction never fails half way on an upgrade from read to write); a pool reads.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

type dialect struct{}

func (dialect) Rebind(q string) string { return q }

func (dialect) NowMicros() string { return "CAST(unixepoch('subsec') * 1000000 AS INTEGER)" }

func (dialect) IsUniqueViolation(err error) bool {
	var e *msqlite.Error
	if errors.As(err, &e) {
		c := e.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func (dialect) IsRetryable(err error) bool {
	var e *msqlite.Error
	if errors.As(err, &e) {
		c := e.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// GroupCommitMax bounds how many write transactions share one commit.
const GroupCommitMax = 64

// DSN is the connection string of the writer (immediate: it also gets writerPragmas) or of a
// reader. Open uses it; tools/floor opens its own database with it, so that the floor measures
// the same SQLite settings.
func DSN(path string, immediate bool) string {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "busy_timeout(10000)"} {
		q.Add("_pragma", p)
	}
	if immediate {
		q.Set("_txlock", "immediate")
		for _, p := range writerPragmas {
			q.Add("_pragma", p)
		}
	}
	return "file:" + path + "?" + q.Encode()
}

// writerPragmas size the writer for issuance (issue 21), where every certificate lands on
// random leaf pages of a dozen indexes (its key hash; and, before issue 21's seventh round, its
// serial and its device's and records' IDs, which now grow with time: issuance.NewSerial,
// party.NewID):
//
//   - cache_size(-16384): a 16 MiB page cache instead of SQLite's 2 MiB. The writer's cache
//     is never dropped (no other connection writes), so the index pages it touches stay in
//     memory instead of being read again with pread; it is filled only as pages are used.
//     16 MiB, not the 32 it was, trades a little CPU for memory (issue 21 wants both; h58,
//     BENCHMARKS.md). Interleaved in one run, against 8 MiB: BenchIssuanceWrites at 100,000
//     issuances, bytes read per issuance 0.79x at 16 MiB and 0.58x at 32, CPU 0.97x and
//     0.94x (paired medians, within the rounds' spread); at 30,000 no CPU difference. The
//     memory run (300,000 factory issuances over HTTPS): peak RSS 159, 155 and 190 MiB, mean
//     RSS over its second half 120, 135 and 157 MiB, for 8, 16 and 32 MiB. 16 MiB saves about
//     half the reads 32 MiB saves over 8, and about 20 MiB less memory than 32 MiB.
//   - temp_store(MEMORY) keeps the statement and savepoint sub-journals in memory: by
//     default SQLite spills one to a temporary file past 64 KiB and keeps writing it there
//     (two write system calls per page), which a group-commit batch of savepoints passes. A
//     sub-journal only undoes a statement or savepoint inside an open transaction; durability
//     is the WAL's, unchanged. The readers keep SQLite's default, temporary files: on them it
//     also held in memory, without a bound, what a report query sorts, groups or windows over
//     the whole fleet in a snapshot round. Through a million factory issuances the server's
//     peak RSS was 259 MiB with it on the readers and 159 MiB without, at the same CPU per
//     certificate (BENCHMARKS.md, issue 21's eighth round).
//   - wal_autocheckpoint(10000): SQLite's passive checkpoint after a commit runs once the log
//     holds 10,000 pages (about 40 MiB) instead of 1,000. A page written again between two
//     checkpoints (an index page, the audit head, a table's last page) is copied into the
//     database once, not once per checkpoint, and read back from the log once. resetWAL
//     still truncates the log past WALResetBytes (64 MiB), above this.
//
// Measured with BenchIssuanceWrites (20,000 issuances, two rounds, same run; the cache then
// 32 MiB) against SQLite's defaults: per issuance 0.70x the bytes written, 0.13x the bytes
// read, 0.84x the CPU. synchronous(FULL) and the WAL are unchanged: what a commit makes
// durable is the same.
var writerPragmas = []string{"cache_size(-16384)", "temp_store(MEMORY)", "wal_autocheckpoint(10000)"}

// Readers is the size of the reader pool Open keeps, every connection open.
func Readers() int { return max(4, runtime.GOMAXPROCS(0)*2) }

// Open opens (creating if needed) the database at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	w, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	if err := sqlstore.Migrate(ctx, w, dialect{}, migrations, "migrations"); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if _, err := sqlstore.BackfillKeys(ctx, w, dialect{}); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: opening %s for reading: %w", path, err)
	}
	// Keep every reader open: with database/sql's default of 2 idle connections the pool
	// closed and reopened the rest (a new SQLite connection each time) under load.
	readers := Readers()
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	st := sqlstore.New(w, r, dialect{}, nil)
	// One writer: batch concurrent write transactions into one commit (sqlstore/groupcommit.go).
	st.EnableGroupCommit(GroupCommitMax)
	st.SetMaintenance(time.Second, func(ctx context.Context, w *sql.DB) error { return resetWAL(ctx, w, path+"-wal", WALResetBytes) })
	st.EnableStmtCache()
	return st, nil
}

// WALResetBytes is the size of the write-ahead log past which the writer resets it (resetWAL).
var WALResetBytes int64 = 64 << 20

// resetWAL checkpoints the write-ahead log at walPath and truncates it to nothing once it is
// larger than limit. SQLite's own checkpoint after a commit (PASSIVE, every 1,000 pages) copies
// what it can into the database but can start the log over only when no reader still uses
// it; under a steady stream of read transactions that moment never comes, and the log grew to
// about 4 GB over a million issuances, every read searching its index. TRUNCATE waits (busy
// timeout) until readers have moved to the latest snapshot, which takes the length of a read
// transaction, and blocks writers meanwhile: it runs on the writer's own connection between
// batches (sqlstore.SetMaintenance), so it holds back at most the next batch.
func resetWAL(ctx context.Context, w *sql.DB, walPath string, limit int64) error {
	fi, err := os.Stat(walPath)
	if err != nil || fi.Size() <= limit {
		return nil // no log yet, or small enough
	}
	var busy, logPages, done int
	if err := w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("sqlite: checkpoint of a %d-byte write-ahead log: %w", fi.Size(), err)
	}
	if busy != 0 {
		return fmt.Errorf("sqlite: checkpoint of a %d-byte write-ahead log did not finish (readers held it; %d of %d pages copied)", fi.Size(), done, logPages)
	}
	return nil
}
