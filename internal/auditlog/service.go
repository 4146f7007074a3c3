package auditlog

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/leader"
	"github.com/hallmark-id/hallmark/internal/store"
)

var hasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

// Config holds the Service's collaborators.
type Config struct {
	Store store.Store
	// Signer holds the Ed25519 checkpoint key (see LoadOrCreateKey).
	Signer crypto.Signer
	// Origin names the log: the first line of every checkpoint and the note key name, e.g.
	// "hallmark.example.com/audit". No spaces or '+'.
	Origin string
	// Now defaults to time.Now.
	Now func() time.Time
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Leader, when set, restricts Run's interval checkpoints to the replica that holds the
	// signing lease, fenced by its term. Checkpoint (on demand) signs on any replica.
	Leader Leader
	// KeyID is Signer's key provider ID (default DefaultKeyID). Keys, when set, lets the
	// checkpoint key rotate (keys.go): RotateKey makes new keys there, and every replica
	// loads the current key of the store's key history from there before it signs.
	KeyID string
	Keys  keys.Provider
}

// Leader says whether this replica leads; *leader.Elector implements it.
type Leader interface {
	Current() (leader.Term, bool)
}

// Service signs checkpoints of the audit tree and serves proofs.
type Service struct {
	st     store.Store
	signer *NoteSigner // the first key; its origin names the log
	now    func() time.Time
	log    *slog.Logger
	leader Leader
	keys   keyState // the key that signs now (keys.go)

	disputes Disputes // certificates whose rows disagree with the log (reconcile.go)
}

// New checks c and returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Signer == nil {
		return nil, errors.New("auditlog: Store and Signer are required")
	}
	ns, err := NewNoteSigner(c.Origin, c.Signer)
	if err != nil {
		return nil, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.KeyID == "" {
		c.KeyID = DefaultKeyID
	}
	svc := &Service{st: c.Store, signer: ns, now: c.Now, log: c.Log, leader: c.Leader}
	svc.keys.init(c.Keys, c.KeyID, ns)
	return svc, nil
}

// DefaultKeyID is the key provider ID of the checkpoint key.
const DefaultKeyID = "audit-checkpoint"

// LoadOrCreateKey returns the Ed25519 key under id from p, creating it the first time.
func LoadOrCreateKey(ctx context.Context, p keys.Provider, id string) (crypto.Signer, error) {
	s, err := p.Signer(ctx, id)
	if failure.KindOf(err) == failure.NotFound {
		s, err = p.Create(ctx, id, keys.Ed25519)
		if failure.KindOf(err) == failure.Conflict { // another replica created it meanwhile
			s, err = p.Signer(ctx, id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("auditlog: checkpoint key %s: %w", id, err)
	}
	return s, nil
}

// Origin is the log's origin line.
func (s *Service) Origin() string { return s.signer.Name() }

// VerifierKey is the public note verifier key ("<origin>+<hash>+<key>") of the key this
// replica signed with last; KeyHistory has every key, current first.
func (s *Service) VerifierKey() string { return s.keys.active().ns.VerifierKey() }

// Checkpoint returns a signed checkpoint of the tree as it is now, signing and storing one
// unless the latest stored checkpoint already has the current size.
//
// Any replica may sign on demand: a checkpoint is a pure function of the tree at a size and
// Ed25519 signatures are deterministic, so two replicas signing one size make the same note,
// and the store keeps the first of a size anyway. Interval checkpoints (Run) are the
// leader's alone, to keep N replicas from contending for the tree head every interval.
func (s *Service) Checkpoint(ctx context.Context) ([]byte, error) {
	return s.checkpoint(ctx, nil)
}

// checkpoint is Checkpoint with fence, when not nil, run first in the transaction, and with
// the signers also signing beside the current key.
func (s *Service) checkpoint(ctx context.Context, fence func(store.Tx) error, also ...note.Signer) ([]byte, error) {
	signer, err := s.currentKey(ctx)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = s.st.Update(ctx, func(tx store.Tx) error {
		out = nil // Update may run this again
		if fence != nil {
			if err := fence(tx); err != nil {
				return err
			}
		}
		tr := tx.AuditTree()
		head, err := tr.Head()
		if err != nil {
			return err
		}
		latest, err := tr.LatestCheckpoint()
		if err == nil && latest.Size == head.Size {
			out = latest.Note
			return nil
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		root, err := rootOf(head)
		if err != nil {
			return err
		}
		signed, err := Sign(Checkpoint{Origin: s.Origin(), Size: head.Size, Root: root}, signer.ns, also...)
		if err != nil {
			return fmt.Errorf("auditlog: signing checkpoint: %w", err)
		}
		c, err := tr.PutCheckpoint(store.StoredCheckpoint{Size: head.Size, Root: root, Note: signed, CreatedAt: s.now()})
		out = c.Note
		return err
	})
	return out, err
}

// Latest returns the latest stored checkpoint, making the first one if there is none.
func (s *Service) Latest(ctx context.Context) ([]byte, error) {
	var out []byte
	err := s.st.View(ctx, func(tx store.Tx) error {
		c, err := tx.AuditTree().LatestCheckpoint()
		out = c.Note
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return s.Checkpoint(ctx)
	}
	return out, err
}

// Size is the number of leaves (audit events) in the tree: one read of the tree head.
func (s *Service) Size(ctx context.Context) (uint64, error) {
	var n uint64
	err := s.st.View(ctx, func(tx store.Tx) error {
		h, err := tx.AuditTree().Head()
		n = h.Size
		return err
	})
	return n, err
}

// Run makes a checkpoint every interval (when the tree grew) until ctx ends, then returns
// nil. Failures are logged and retried at the next tick. Start one per replica: with a
// Leader only the leader signs, fenced by its term; the others skip the tick.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return errors.New("auditlog: the checkpoint interval must be positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var err error
		if s.leader == nil {
			_, err = s.Checkpoint(ctx)
		} else if term, ok := s.leader.Current(); ok {
			_, err = s.checkpoint(ctx, term.Fence)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Error("audit checkpoint failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// InclusionProof is an RFC 6962 section 2.1.1 audit path for leaf Index in the tree of Size
// leaves. Leaf index i is the event with seq i+1.
type InclusionProof struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	LeafHash []byte   `json:"leaf_hash"`
	Root     []byte   `json:"root"`
	Hashes   [][]byte `json:"hashes"`
}

// ConsistencyProof is an RFC 6962 section 2.1.2 proof that the tree of size From is a prefix
// of the tree of size To.
type ConsistencyProof struct {
	From     uint64   `json:"from"`
	To       uint64   `json:"to"`
	FromRoot []byte   `json:"from_root"`
	ToRoot   []byte   `json:"to_root"`
	Hashes   [][]byte `json:"hashes"`
}

// InclusionProof proves that leaf index is in the tree of size leaves; size 0 means the
// current size.
func (s *Service) InclusionProof(ctx context.Context, index, size uint64) (InclusionProof, error) {
	var p InclusionProof
	err := s.st.View(ctx, func(tx store.Tx) error {
		tr := tx.AuditTree()
		var err error
		if size, err = checkSize(tr, size); err != nil {
			return err
		}
		if index >= size {
			return failure.New(failure.Invalid, "leaf index %d is not in a tree of %d leaves", index, size)
		}
		nodes, err := proof.Inclusion(index, size)
		if err != nil {
			return failure.Wrap(failure.Invalid, err, "inclusion proof")
		}
		hashes, err := fetch(tr, nodes.IDs)
		if err != nil {
			return err
		}
		if hashes, err = nodes.Rehash(hashes, hasher.HashChildren); err != nil {
			return err
		}
		leaf, err := fetch(tr, []compact.NodeID{compact.NewNodeID(0, index)})
		if err != nil {
			return err
		}
		root, err := rootAt(tr, size)
		p = InclusionProof{Index: index, Size: size, LeafHash: leaf[0], Root: root, Hashes: nonNil(hashes)}
		return err
	})
	return p, err
}

// ConsistencyProof proves that the tree of size from is a prefix of the tree of size to;
// to 0 means the current size.
func (s *Service) ConsistencyProof(ctx context.Context, from, to uint64) (ConsistencyProof, error) {
	var p ConsistencyProof
	err := s.st.View(ctx, func(tx store.Tx) error {
		tr := tx.AuditTree()
		var err error
		if to, err = checkSize(tr, to); err != nil {
			return err
		}
		if from > to {
			return failure.New(failure.Invalid, "from (%d) must not be larger than to (%d)", from, to)
		}
		nodes, err := proof.Consistency(from, to)
		if err != nil {
			return failure.Wrap(failure.Invalid, err, "consistency proof")
		}
		hashes, err := fetch(tr, nodes.IDs)
		if err != nil {
			return err
		}
		if hashes, err = nodes.Rehash(hashes, hasher.HashChildren); err != nil {
			return err
		}
		p = ConsistencyProof{From: from, To: to, Hashes: nonNil(hashes)}
		if p.FromRoot, err = rootAt(tr, from); err != nil {
			return err
		}
		p.ToRoot, err = rootAt(tr, to)
		return err
	})
	return p, err
}

func nonNil(h [][]byte) [][]byte {
	if h == nil {
		return [][]byte{}
	}
	return h
}

// checkSize resolves size 0 to the current size and refuses sizes beyond it.
func checkSize(tr store.AuditTree, size uint64) (uint64, error) {
	head, err := tr.Head()
	if err != nil {
		return 0, err
	}
	if size == 0 {
		size = head.Size
	}
	if size > head.Size {
		return 0, failure.New(failure.Invalid, "the tree has %d leaves, not %d", head.Size, size)
	}
	return size, nil
}

func fetch(tr store.AuditTree, ids []compact.NodeID) ([][]byte, error) {
	want := make([]store.TreeNode, len(ids))
	for i, id := range ids {
		want[i] = store.TreeNode{Level: uint8(id.Level), Index: id.Index}
	}
	return tr.Nodes(want)
}

// rootAt is the root of the first size leaves, folded from the stored perfect subtrees.
func rootAt(tr store.AuditTree, size uint64) ([]byte, error) {
	hashes, err := fetch(tr, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return rootOf(store.TreeHead{Size: size, Range: hashes})
}

// rootOf folds a compact range [0, Size) into the RFC 6962 root; the empty tree's root is
// SHA-256 of nothing.
func rootOf(h store.TreeHead) ([]byte, error) {
	if h.Size == 0 {
		return hasher.EmptyRoot(), nil
	}
	r, err := rangeFactory.NewRange(0, h.Size, h.Range)
	if err != nil {
		return nil, fmt.Errorf("auditlog: tree head: %w", err)
	}
	return r.GetRootHash(nil)
}
