package auditlog

import (
	"context"
	"log/slog"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
)

// LogMessage is the message of every audit log record.
const LogMessage = "audit_event"

// LogCommitted wraps st so that every audit event appended in an Update that commits is
// also written to log, after the commit, as one record (with a slog.JSONHandler, one JSON
// line a SIEM can take). Events of a transaction that rolls back or is retried are not
// logged; each committed event is logged once, in append order. The record keys:
//
//	msg           "audit_event"
//	log           "audit"
//	seq           event sequence number (leaf index + 1)
//	leaf_index    index of the event's leaf in the audit Merkle tree
//	at            RFC 3339 time of the event (UTC, microseconds)
//	party_id, principal_id, action, stage, scope, subject
//	detail        the event's detail, as a JSON value (omitted when empty)
//
// The database is the record; the log is a copy for monitoring and may miss events if the
// process dies between commit and logging.
func LogCommitted(st store.Store, log *slog.Logger) store.Store {
	return LogCommittedAt(st, log, slog.LevelInfo)
}

// LogCommittedAt is LogCommitted with the records at level: serve --dev logs them at DEBUG,
// so the demo's console shows its banner and ready line, not its seed's events.
func LogCommittedAt(st store.Store, log *slog.Logger, level slog.Level) store.Store {
	return ObserveCommitted(st, func(ctx context.Context, e audit.Event) {
		if log.Enabled(ctx, level) { // the attributes cost allocations even when nothing is written
			log.LogAttrs(ctx, level, LogMessage, LogAttrs(e)...)
		}
	})
}

// ObserveCommitted wraps st so that every observer is called, after the commit, with each
// audit event appended in an Update that commits, once and in append order (as
// LogCommitted). Events of a transaction that rolls back or is retried are not observed.
// Observers run on the committing goroutine and must be quick.
func ObserveCommitted(st store.Store, observers ...func(context.Context, audit.Event)) store.Store {
	return &observingStore{Store: st, observers: observers}
}

type observingStore struct {
	store.Store
	observers []func(context.Context, audit.Event)
}

func (s *observingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	var rec []audit.Event
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		rec = rec[:0] // a retried attempt starts over
		return fn(recordingTx{Tx: tx, rec: &rec})
	})
	if err != nil {
		return err
	}
	for _, e := range rec {
		for _, o := range s.observers {
			o(ctx, e)
		}
	}
	return nil
}

// LogAttrs are the attributes of e's log record (see LogCommitted).
func LogAttrs(e audit.Event) []slog.Attr {
	a := []slog.Attr{
		slog.String("log", "audit"),
		slog.Int64("seq", e.Seq),
		slog.Int64("leaf_index", e.Seq-1),
		slog.Time("at", e.At),
		slog.String("party_id", e.PartyID),
		slog.String("principal_id", e.PrincipalID),
		slog.String("action", e.Action),
		slog.String("stage", e.Stage),
		slog.String("scope", e.Scope),
		slog.String("subject", e.Subject),
	}
	if len(e.Detail) > 0 {
		a = append(a, slog.Any("detail", e.Detail))
	}
	return a
}

type recordingTx struct {
	store.Tx
	rec *[]audit.Event
}

func (t recordingTx) Audit() store.AuditLog { return recordingLog{AuditLog: t.Tx.Audit(), rec: t.rec} }

type recordingLog struct {
	store.AuditLog
	rec *[]audit.Event
}

func (l recordingLog) Append(e audit.Event) (int64, error) {
	seq, err := l.AuditLog.Append(e)
	if err == nil {
		e.Seq, e.At = seq, audit.StoredTime(e.At)
		*l.rec = append(*l.rec, e)
	}
	return seq, err
}
