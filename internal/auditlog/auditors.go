package auditlog

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// The log as its readers see it through the API. Each method here acts for an actor and first
// checks that the actor may read the audit log: a deployment administrator, or a principal of
// the party holding an audit cell at deployment scope (governance.IsAuditor). Anyone else gets
// failure.Denied, and nothing is read or signed for them.

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
		if err := requireAuditor(tx, a, "reading the audit log needs an audit cell or a deployment administrator"); err != nil {
			return err
		}
		var err error
		out, err = tx.Audit().List(after, limit)
		return err
	})
	return out, err
}

// CheckpointFor returns, for a, a checkpoint: a newly signed one (Checkpoint) when fresh,
// else the latest stored one (Latest).
func (s *Service) CheckpointFor(ctx context.Context, a audit.Actor, fresh bool) ([]byte, error) {
	if err := s.requireProofReader(ctx, a); err != nil {
		return nil, err
	}
	if fresh {
		return s.Checkpoint(ctx)
	}
	return s.Latest(ctx)
}

// InclusionProofFor is InclusionProof for a.
func (s *Service) InclusionProofFor(ctx context.Context, a audit.Actor, index, size uint64) (InclusionProof, error) {
	if err := s.requireProofReader(ctx, a); err != nil {
		return InclusionProof{}, err
	}
	return s.InclusionProof(ctx, index, size)
}

// ConsistencyProofFor is ConsistencyProof for a.
func (s *Service) ConsistencyProofFor(ctx context.Context, a audit.Actor, from, to uint64) (ConsistencyProof, error) {
	if err := s.requireProofReader(ctx, a); err != nil {
		return ConsistencyProof{}, err
	}
	return s.ConsistencyProof(ctx, from, to)
}

// LeafHashesFor is LeafHashes for a.
func (s *Service) LeafHashesFor(ctx context.Context, a audit.Actor, start uint64, n int) ([][]byte, error) {
	if err := s.requireProofReader(ctx, a); err != nil {
		return nil, err
	}
	return s.LeafHashes(ctx, start, n)
}

// requireProofReader checks a for the checkpoints, proofs and leaf hashes.
func (s *Service) requireProofReader(ctx context.Context, a audit.Actor) error {
	return s.st.View(ctx, func(tx store.Tx) error {
		return requireAuditor(tx, a, "the audit log's checkpoints and proofs need an audit cell or a deployment administrator")
	})
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
