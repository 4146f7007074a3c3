package auditlog

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// The log as its readers see it through the API. Events and ReaderFor act for an actor and
// first check that the actor may read the audit log: a principal of the party holding an
// audit cell at deployment scope (governance.IsAuditor). Anyone else, deployment
// administrators included (the log names every party's devices, and a deployment
// administrator reads none), gets failure.Denied, and nothing is read or signed for them.

// MaxEvents bounds one page of Events.
const MaxEvents = 1000

// Events returns, for a, the audit events with sequence numbers after after, in order, at most
// limit of them (a limit outside 1..MaxEvents means MaxEvents). The check and the read share
// one transaction.
func (s *Service) Events(ctx context.Context, a audit.Actor, after int64, limit int) ([]audit.Event, error) {
	if limit < 1 || limit > MaxEvents {
		limit = MaxEvents
	}
	var out []audit.Event
	err := s.st.View(ctx, func(tx store.Tx) error {
		if err := requireAuditor(tx, a, "reading the audit log needs an audit cell"); err != nil {
			return err
		}
		var err error
		out, err = tx.Audit().List(after, limit)
		return err
	})
	return out, err
}

// Reader is the log's checkpoints, proofs and leaf hashes for an actor that ReaderFor has let
// in. It lets a caller check first and read after (the API refuses a non-auditor before it
// looks at the request's parameters). The zero Reader refuses every read.
type Reader struct{ s *Service }

// ReaderFor returns the Reader for a, or Denied when a may not read the audit log.
func (s *Service) ReaderFor(ctx context.Context, a audit.Actor) (Reader, error) {
	err := s.st.View(ctx, func(tx store.Tx) error {
		return requireAuditor(tx, a, "the audit log's checkpoints and proofs need an audit cell")
	})
	if err != nil {
		return Reader{}, err
	}
	return Reader{s}, nil
}

func (r Reader) service() (*Service, error) {
	if r.s == nil {
		return nil, failure.New(failure.Denied, "this audit log reader was not handed out by ReaderFor")
	}
	return r.s, nil
}

// Checkpoint returns a newly signed checkpoint (Service.Checkpoint) when fresh, else the
// latest stored one (Service.Latest).
func (r Reader) Checkpoint(ctx context.Context, fresh bool) ([]byte, error) {
	s, err := r.service()
	if err != nil {
		return nil, err
	}
	if fresh {
		return s.Checkpoint(ctx)
	}
	return s.Latest(ctx)
}

// InclusionProof is Service.InclusionProof.
func (r Reader) InclusionProof(ctx context.Context, index, size uint64) (InclusionProof, error) {
	s, err := r.service()
	if err != nil {
		return InclusionProof{}, err
	}
	return s.InclusionProof(ctx, index, size)
}

// ConsistencyProof is Service.ConsistencyProof.
func (r Reader) ConsistencyProof(ctx context.Context, from, to uint64) (ConsistencyProof, error) {
	s, err := r.service()
	if err != nil {
		return ConsistencyProof{}, err
	}
	return s.ConsistencyProof(ctx, from, to)
}

// LeafHashes is Service.LeafHashes.
func (r Reader) LeafHashes(ctx context.Context, start uint64, n int) ([][]byte, error) {
	s, err := r.service()
	if err != nil {
		return nil, err
	}
	return s.LeafHashes(ctx, start, n)
}

// requireAuditor refuses a, with denied as the message, unless a may read the audit log.
func requireAuditor(tx store.Tx, a audit.Actor, denied string) error {
	ok, err := governance.IsAuditor(tx, a)
	if err != nil {
		return err
	}
	if !ok {
		return failure.New(failure.Denied, "%s", denied)
	}
	return nil
}
