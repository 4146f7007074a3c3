// Package sqlstore implements the store contract over database/sql in SQL that both SQLite and
// PostgreSQL speak. A dialect supplies what differs: placeholders, how a unique violation
// looks, and the migrations (kept per dialect by the packages that open the databases).
package sqlstore

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
)

// Dialect is what differs between databases.
type Dialect interface {
	// Rebind rewrites '?' placeholders for the database.
	Rebind(query string) string
	// IsUniqueViolation reports whether err is a unique or primary key violation.
	IsUniqueViolation(err error) bool
	// IsRetryable reports whether the transaction may be retried (busy, serialization failure).
	IsRetryable(err error) bool
	// NowMicros is an SQL expression of the database server's current time in unix
	// microseconds (leases are timed by it, not by a replica's clock).
	NowMicros() string
}

// WriteLocker is implemented by dialects whose write transactions must first take a lock
// (before any query, so that the transaction's snapshot is taken after it is granted): its
// statement runs first in every write transaction, batched or not.
type WriteLocker interface {
	WriteLockSQL() string
}

// writeLock runs the dialect's write lock statement, if it has one.
func (s *Store) writeLock(ctx context.Context, stx *sql.Tx) error {
	wl, ok := s.d.(WriteLocker)
	if !ok {
		return nil
	}
	if _, err := stx.ExecContext(ctx, wl.WriteLockSQL()); err != nil {
		return fmt.Errorf("store: taking the write lock: %w", err)
	}
	return nil
}

// Store is a store.Store over a database/sql handle. Writes go through writer, reads through
// reader (they may be the same handle).
type Store struct {
	writer, reader *sql.DB
	d              Dialect
	// BeginWrite, when set, starts a write transaction (SQLite needs BEGIN IMMEDIATE).
	txOpts *sql.TxOptions
	// batch, when set, groups concurrent write transactions (groupcommit.go).
	batch *batcher
	// maint, when set, is the dialect's upkeep of the writer (maintain.go).
	maint *maintenance
	// stmts, when set, caches prepared statements (stmtcache.go).
	stmts *stmtCache
	// caCerts keeps CA certificates parsed (cacerts.go).
	caCerts *caCerts
}

var _ store.Store = (*Store)(nil)

// New wraps open handles; migrations must already have run.
func New(writer, reader *sql.DB, d Dialect, writeOpts *sql.TxOptions) *Store {
	return &Store{writer: writer, reader: reader, d: d, txOpts: writeOpts, caCerts: &caCerts{m: map[string]*x509.Certificate{}}}
}

// Close closes both handles.
func (s *Store) Close() error {
	if s.batch != nil {
		s.batch.stop()
	}
	s.stmts.close()
	err := s.writer.Close()
	if s.reader != s.writer {
		err = errors.Join(err, s.reader.Close())
	}
	return err
}

// Update runs fn in a write transaction, retrying a few times when the database reports a
// conflict it expects to clear (SQLite busy, PostgreSQL serialization failure), or when the
// connection was lost before the commit was sent (a restarted database, a killed backend): the
// transaction then never committed and runs again on another connection. A connection lost
// during the commit itself is not retried, since the outcome is unknown.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if s.batch != nil {
			err = s.batch.do(ctx, fn)
		} else {
			err = s.run(ctx, s.writer, s.txOpts, true, fn)
		}
		lost := s.connectionLost(err)
		if err == nil || !(s.d.IsRetryable(err) || lost) {
			return err
		}
		d := retryDelay(attempt)
		if lost {
			d *= 4
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return err
}

// ConnectionLoss is implemented by dialects that can tell that a connection to the database
// was lost (PostgreSQL restarted, the backend was terminated, the network failed).
type ConnectionLoss interface {
	IsConnectionLost(err error) bool
}

// commitError is a failed COMMIT: when the connection was lost during it, whether the
// transaction committed is unknown, so it is never retried as a lost connection.
type commitError struct{ err error }

func (e *commitError) Error() string { return "store: commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// connectionLost reports whether err is a lost connection outside a COMMIT.
func (s *Store) connectionLost(err error) bool {
	cl, ok := s.d.(ConnectionLoss)
	if err == nil || !ok || !cl.IsConnectionLost(err) {
		return false
	}
	var ce *commitError
	return !errors.As(err, &ce)
}

// Every audited write takes the one audit_head counter row (audittree.go), so on PostgreSQL
// concurrent audited writes conflict and all but one retry: allow enough attempts for a busy
// fleet of replicas, with jitter so that the losers do not retry in step.
const maxAttempts = 30

func retryDelay(attempt int) time.Duration {
	d := time.Duration(min(attempt+1, 10)) * 5 * time.Millisecond
	return d/2 + rand.N(d)
}

// View runs fn in a read-only transaction, again on another connection (a few times) when
// the connection was lost.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.run(ctx, s.reader, &sql.TxOptions{ReadOnly: true}, false, fn)
		if !s.connectionLost(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(4 * retryDelay(attempt)):
		}
	}
	return err
}

func (s *Store) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, write bool, fn func(store.Tx) error) error {
	stx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if write {
		if err := s.writeLock(ctx, stx); err != nil {
			_ = stx.Rollback()
			return err
		}
	}
	t := &tx{tx: stx, ctx: ctx, d: s.d, writable: write, db: db, stmts: s.stmts, caCerts: s.caCerts}
	defer func() { s.stmts.prepare(db, t.unprepared) }() // after the connection is released
	if err := fn(t); err != nil {
		_ = stx.Rollback()
		return err
	}
	if t.changed && !t.audited {
		_ = stx.Rollback()
		return store.ErrUnaudited
	}
	if err := t.flushAuditHead(); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return &commitError{err}
	}
	return nil
}

// TouchPrincipal records use of a principal outside any audited transaction.
func (s *Store) TouchPrincipal(ctx context.Context, id string, at time.Time) error {
	_, err := s.writer.ExecContext(ctx, s.d.Rebind(`UPDATE principals SET last_used_at = ? WHERE id = ?`), micros(at), id)
	return err
}

type tx struct {
	tx    *sql.Tx
	ctx   context.Context
	d     Dialect
	db    *sql.DB    // the handle tx runs on, for the statement cache
	stmts *stmtCache // nil: no cache
	// caCerts is the store's cache of parsed CA certificates.
	caCerts *caCerts
	// unprepared are queries run as text that the cache has not prepared yet.
	unprepared []string
	writable   bool
	changed    bool // an identity-state write happened
	// epochWrite: a write that an epoch trigger may follow happened (epochs.go, Unmoved).
	epochWrite bool
	audited    bool // an audit event was appended

	// txStmts are the cached statements bound to tx, by query (stmtcache.go); the requests of
	// one group-commit batch share them, as they share tx.
	txStmts map[string]*sql.Stmt
	// head is the audit head of a write transaction (audittree.go), shared like txStmts;
	// nil until the first audit append.
	head *auditHead
}

func (t *tx) Parties() store.Parties           { return parties{t} }
func (t *tx) Ownership() store.Ownership       { return owners{t} }
func (t *tx) CAs() store.CAs                   { return cas{t} }
func (t *tx) Catalog() store.Catalog           { return catalog{t} }
func (t *tx) Devices() store.Devices           { return devices{t} }
func (t *tx) Certificates() store.Certificates { return certs{t} }
func (t *tx) BuildRecords() store.BuildRecords { return buildRecords{t} }
func (t *tx) Custody() store.Custody           { return custody{t} }
func (t *tx) Audit() store.AuditLog            { return auditLog{t} }

// exec runs a write and marks the transaction as changing state.
func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if !t.writable {
		return nil, errors.New("store: write in a read-only transaction")
	}
	t.changed, t.epochWrite = true, true
	q := t.d.Rebind(query)
	var res sql.Result
	var err error
	if st := t.stmt(q); st != nil {
		res, err = st.ExecContext(t.ctx, args...)
	} else {
		res, err = t.tx.ExecContext(t.ctx, q, args...)
	}
	if err != nil && t.d.IsUniqueViolation(err) {
		return nil, fmt.Errorf("%w: a record with the same key exists", store.ErrConflict)
	}
	return res, err
}

// execOne is exec that requires exactly one affected row; none is ErrNotFound (or the
// given error).
func (t *tx) execOne(none error, query string, args ...any) error {
	res, err := t.exec(query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return none
	}
	return nil
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	q := t.d.Rebind(query)
	if st := t.stmt(q); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, q, args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	q := t.d.Rebind(query)
	if st := t.stmt(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}

// notFound maps sql.ErrNoRows to store.ErrNotFound with what was looked for.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// QuestionToDollar rewrites '?' placeholders as $1, $2, ... for PostgreSQL. Hallmark's SQL has
// no '?' inside string literals.
func QuestionToDollar(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
