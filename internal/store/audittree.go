package store

import "time"

// TreeNode names a perfect subtree of the audit Merkle tree: level 0 is a leaf (leaf index
// Index, the event with seq Index+1); level L covers leaves [Index<<L, (Index+1)<<L).
type TreeNode struct {
	Level uint8
	Index uint64
}

// TreeHead is the state of the audit Merkle tree.
type TreeHead struct {
	// Size is the number of leaves; leaf i is the event with seq i+1.
	Size uint64
	// Range is the compact range [0, Size): the hashes of the perfect subtrees that make up
	// the tree, largest (leftmost) first.
	Range [][]byte
}

// StoredCheckpoint is a signed checkpoint (a C2SP signed note) as the store keeps it.
type StoredCheckpoint struct {
	Size      uint64
	Root      []byte
	Note      []byte
	CreatedAt time.Time
}

// AuditTree is the RFC 6962 Merkle tree over the audit log. Its leaves are appended by
// AuditLog.Append, in the same transaction as the event, in one total order: the leaf index
// comes from a single counter row that serialises appenders until they commit, so leaf i is
// the i-th event to commit and there are no gaps.
//
// Writes through AuditTree are not identity state and are exempt from the audit rule.
type AuditTree interface {
	// Head returns the tree's size and compact range. In a write transaction it first folds
	// in events that predate the tree (from before migration 0004), if any.
	Head() (TreeHead, error)
	// Nodes returns the hashes of the given perfect subtrees, in order; ErrNotFound when one
	// is not (yet) complete.
	Nodes(ids []TreeNode) ([][]byte, error)
	// LeafHashes returns the recorded leaf hashes of leaves [start, start+n) that exist.
	LeafHashes(start uint64, n int) ([][]byte, error)
	// PutCheckpoint stores a signed checkpoint; when one of that size is stored already it
	// is kept and returned instead.
	PutCheckpoint(c StoredCheckpoint) (StoredCheckpoint, error)
	// LatestCheckpoint returns the stored checkpoint of the largest size; ErrNotFound if none.
	LatestCheckpoint() (StoredCheckpoint, error)
}
