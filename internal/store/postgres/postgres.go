// Package postgres opens Hallmark's store on PostgreSQL (github.com/jackc/pgx/v5 through
// database/sql), for deployments that run several `hallmark serve` replicas on one database.
//
// Write transactions run SERIALIZABLE and are retried on serialization failures, so the
// conditional updates the services rely on (custody, device state, serial reservation) hold
// across replicas. Every audited write appends to the one audit log, whose head row orders
// all writes; so each write transaction first takes an EXCLUSIVE lock on audit_head (plain
// reads still pass), before its snapshot, and concurrent writers queue instead of failing
// each other. Within one replica, concurrent writes are grouped into one transaction
// (sqlstore/groupcommit.go), so the queue moves a batch at a time. Migrations run under an advisory lock so that replicas starting together
// apply each one once.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

type dialect struct{}

func (dialect) Rebind(q string) string { return sqlstore.QuestionToDollar(q) }

func (dialect) NowMicros() string {
	return "(extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT"
}

func code(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsUniqueViolation: 23505 unique_violation.
func (dialect) IsUniqueViolation(err error) bool { return code(err) == "23505" }

// WriteLockSQL: the one lock every write transaction takes first (see the package comment).
// LOCK TABLE takes no snapshot, so under SERIALIZABLE the transaction sees everything committed
// before the lock was granted, and no earlier writer can make it fail.
func (dialect) WriteLockSQL() string { return `LOCK TABLE audit_head IN EXCLUSIVE MODE` }

var _ sqlstore.WriteLocker = dialect{}

// GroupCommitMax bounds how many write transactions of one replica share one commit.
const GroupCommitMax = 64

// IsRetryable: 40001 serialization_failure, 40P01 deadlock_detected.
func (dialect) IsRetryable(err error) bool {
	c := code(err)
	return c == "40001" || c == "40P01"
}

// IsConnectionLost: the connection failed or could not be made (class 08), the server is
// shutting down, restarting or starting (57P01, 57P02, 57P03), or the driver reports a bad
// connection, a network error or an early EOF.
func (dialect) IsConnectionLost(err error) bool {
	if err == nil {
		return false
	}
	c := code(err)
	if strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" {
		return true
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return pgconn.SafeToRetry(err) || errors.Is(err, driver.ErrBadConn) || errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

var _ sqlstore.ConnectionLoss = dialect{}

// migrationLock is the advisory lock key replicas take while migrating ("hallmark" in ASCII).
const migrationLock = 0x68616c6c6d61726b

// Open connects to the database named by dsn (a libpq URL or key=value string) and brings its
// schema up to date.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connecting: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	st := sqlstore.New(db, db, dialect{}, &sql.TxOptions{Isolation: sql.LevelSerializable})
	st.EnableGroupCommit(GroupCommitMax)
	return st, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: taking the migration lock: %w", err)
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLock)) //nolint:errcheck
	if err := sqlstore.Migrate(ctx, db, dialect{}, migrations, "migrations"); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if _, err := sqlstore.BackfillKeys(ctx, db, dialect{}); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}
