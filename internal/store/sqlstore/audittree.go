package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
)

// The audit Merkle tree (store.AuditTree). Layout (migration 0004_audit_tree.sql):
//   - audit_events.leaf_hash: level 0, leaf i is the event with seq i+1;
//   - audit_nodes: every complete subtree of level storedNodeLevel or above, written as it
//     completes (one row per 2^(storedNodeLevel-1) appends on average); a node of a lower
//     level is recomputed from its at most 2^(storedNodeLevel-1) leaves when asked for.
//     Databases written before kept every level; those rows are simply not read;
//   - audit_head: the counter that orders appenders, and the compact range [0, tree_size),
//     from which the current root is one fold of at most 64 hashes; a write transaction
//     keeps it in memory and writes it once, at commit (auditHead).
// Any root or proof then reads O(log n) stored hashes, and at most 2^(storedNodeLevel-1)
// leaf hashes (one index range) for each node below storedNodeLevel.

func (t *tx) AuditTree() store.AuditTree { return auditTree{t} }

type auditTree struct{ t *tx }

var _ store.AuditTree = auditTree{}

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// treeExec writes tree rows without marking the transaction as an identity change: the tree
// is part of the audit record, not state the audit rule guards. Its statements go through the
// prepared-statement cache like exec's: an audited write runs three or more of them.
func (t *tx) treeExec(query string, args ...any) error {
	if !t.writable {
		return errors.New("store: audit tree write in a read-only transaction")
	}
	q := t.d.Rebind(query)
	var err error
	if st := t.stmt(q); st != nil {
		_, err = st.ExecContext(t.ctx, args...)
	} else {
		_, err = t.tx.ExecContext(t.ctx, q, args...)
	}
	return err
}

func splitRange(b []byte) ([][]byte, error) {
	if len(b)%32 != 0 {
		return nil, fmt.Errorf("store: audit_head.compact_range has %d bytes, not a multiple of 32", len(b))
	}
	out := make([][]byte, 0, len(b)/32)
	for i := 0; i < len(b); i += 32 {
		out = append(out, b[i:i+32:i+32])
	}
	return out, nil
}

func joinRange(h [][]byte) []byte {
	b := make([]byte, 0, 32*len(h))
	for _, x := range h {
		b = append(b, x...)
	}
	return b
}

// storedNodeLevel is the lowest level of the tree stored in audit_nodes (issue 21). Storing
// every level took one INSERT per audit event, seven eighths of them for levels 1 to 3; a node
// of those levels is the fold of at most 8 leaf hashes, which a proof reads in one range of
// the audit_events primary key instead of one row of audit_nodes.
const storedNodeLevel = 4

// nodeWriter stores the complete subtrees of level storedNodeLevel and above that a compact
// range reports (leaves are stored with their events; lower levels are recomputed: Nodes).
func (t *tx) nodeWriter(errp *error) compact.VisitFn {
	return func(id compact.NodeID, hash []byte) {
		if id.Level < storedNodeLevel || *errp != nil {
			return
		}
		*errp = t.treeExec(`INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)`, int64(id.Level), int64(id.Index), hash)
	}
}

// auditHead is the audit_head row as a write transaction sees it, kept in memory from the
// first audit append (or Head) of the transaction to its commit, which writes it back once
// (flushAuditHead): the requests of one group-commit batch share it, so a batch of n appends
// reads the row once and updates it once instead of twice per append. The order of appends
// is still the order of the writer's one transaction (PostgreSQL: behind the write lock on
// audit_head, WriteLocker), so indexes stay dense and in commit order.
type auditHead struct {
	broken error // a failed append left the range ahead of the stored rows
	loaded bool
	dirty  bool           // differs from the stored row
	size   int64          // events appended, this transaction's included
	r      *compact.Range // the tree over [0, size)
}

// auditHeadMark is an auditHead as it was before a request of a batch ran, to put back when
// that request is rolled back to its savepoint.
type auditHeadMark struct {
	loaded, dirty bool
	size          int64
	hashes        [][]byte
}

func (h *auditHead) mark() auditHeadMark {
	if !h.loaded {
		return auditHeadMark{}
	}
	return auditHeadMark{loaded: true, dirty: h.dirty, size: h.size, hashes: append([][]byte(nil), h.r.Hashes()...)}
}

func (h *auditHead) reset(m auditHeadMark) error {
	if !m.loaded {
		*h = auditHead{}
		return nil
	}
	r, err := rangeFactory.NewRange(0, uint64(m.size), m.hashes)
	if err != nil {
		return fmt.Errorf("store: restoring the audit head: %w", err)
	}
	*h = auditHead{loaded: true, dirty: m.dirty, size: m.size, r: r}
	return nil
}

// loadAuditHead reads audit_head into t.head on first use, folding in any events written
// before the tree existed.
func (t *tx) loadAuditHead() (*auditHead, error) {
	if t.head == nil {
		t.head = &auditHead{}
	}
	h := t.head
	if h.broken != nil {
		return nil, h.broken
	}
	if h.loaded {
		return h, nil
	}
	var size, treeSize int64
	var raw []byte
	if err := t.queryRow(`SELECT size, tree_size, compact_range FROM audit_head WHERE id = 1`).Scan(&size, &treeSize, &raw); err != nil {
		return nil, fmt.Errorf("store: reading the audit tree head: %w", err)
	}
	r, err := t.foldPending(uint64(treeSize), raw, uint64(size))
	if err != nil {
		return nil, err
	}
	*h = auditHead{loaded: true, dirty: treeSize != size, size: size, r: r}
	return h, nil
}

// flushAuditHead writes t.head back to audit_head when it changed; the transaction's owner
// calls it last, before COMMIT.
func (t *tx) flushAuditHead() error {
	h := t.head
	if h == nil {
		return nil
	}
	if h.broken != nil {
		return h.broken
	}
	if !h.dirty {
		return nil
	}
	if err := t.treeExec(`UPDATE audit_head SET size = ?, tree_size = ?, compact_range = ? WHERE id = 1`, h.size, h.size, joinRange(h.r.Hashes())); err != nil {
		return fmt.Errorf("store: updating the audit tree head: %w", err)
	}
	h.dirty = false
	return nil
}

// appendAuditEvent appends e as the next event and leaf, and the tree nodes it completes;
// audit_head is updated at commit (flushAuditHead).
func (t *tx) appendAuditEvent(e audit.Event) (int64, error) {
	if !t.writable {
		return 0, fmt.Errorf("store: audit append in a read-only transaction")
	}
	h, err := t.loadAuditHead()
	if err != nil {
		return 0, fmt.Errorf("store: taking the next audit index: %w", err)
	}
	e.Seq = h.size + 1
	e.At = audit.StoredTime(e.At)
	leaf, err := audit.LeafHash(e)
	if err != nil {
		return 0, fmt.Errorf("store: appending audit event: %w", err)
	}
	if err := t.treeExec(`INSERT INTO audit_events (seq, at, party_id, principal_id, action, stage, scope, subject, detail, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, micros(e.At), e.PartyID, e.PrincipalID, e.Action, e.Stage, e.Scope, e.Subject, string(e.Detail), leaf); err != nil {
		return 0, fmt.Errorf("store: appending audit event: %w", err)
	}
	var werr error
	if err := h.r.Append(leaf, t.nodeWriter(&werr)); err != nil {
		werr = err
	}
	if werr != nil {
		// The range may hold the leaf already: refuse every further use of this head, and a
		// commit, until the caller's failure rolls it back (auditHead.reset, or the rollback).
		h.broken = fmt.Errorf("store: storing audit tree nodes: %w", werr)
		return 0, h.broken
	}
	h.size, h.dirty = e.Seq, true
	return e.Seq, nil
}

// foldPending returns the compact range [0, upTo), folding in the leaves [treeSize, upTo)
// of events written before the tree existed (computing and recording their leaf hashes).
// It is a no-op except on the first write after migration 0004.
func (t *tx) foldPending(treeSize uint64, raw []byte, upTo uint64) (*compact.Range, error) {
	hashes, err := splitRange(raw)
	if err != nil {
		return nil, err
	}
	r, err := rangeFactory.NewRange(0, treeSize, hashes)
	if err != nil {
		return nil, fmt.Errorf("store: audit_head: %w", err)
	}
	for r.End() < upTo {
		evs, err := auditLog{t}.List(int64(r.End()), 1000)
		if err != nil {
			return nil, fmt.Errorf("store: reading events to fold into the audit tree: %w", err)
		}
		if len(evs) == 0 {
			return nil, fmt.Errorf("store: audit event %d is missing", r.End()+1)
		}
		for _, e := range evs {
			if r.End() >= upTo {
				break
			}
			if uint64(e.Seq) != r.End()+1 {
				return nil, fmt.Errorf("store: audit event %d is missing (found %d)", r.End()+1, e.Seq)
			}
			leaf, err := audit.LeafHash(e)
			if err != nil {
				return nil, err
			}
			if err := t.treeExec(`UPDATE audit_events SET leaf_hash = ? WHERE seq = ?`, leaf, e.Seq); err != nil {
				return nil, err
			}
			var werr error
			if err := r.Append(leaf, t.nodeWriter(&werr)); err != nil {
				return nil, err
			}
			if werr != nil {
				return nil, werr
			}
		}
	}
	return r, nil
}

func (a auditTree) Head() (store.TreeHead, error) {
	if a.t.writable {
		h, err := a.t.loadAuditHead()
		if err != nil {
			return store.TreeHead{}, err
		}
		return store.TreeHead{Size: uint64(h.size), Range: append([][]byte(nil), h.r.Hashes()...)}, nil
	}
	var treeSize int64
	var raw []byte
	if err := a.t.queryRow(`SELECT tree_size, compact_range FROM audit_head WHERE id = 1`).Scan(&treeSize, &raw); err != nil {
		return store.TreeHead{}, fmt.Errorf("store: reading the audit tree head: %w", err)
	}
	hashes, err := splitRange(raw)
	if err != nil {
		return store.TreeHead{}, err
	}
	return store.TreeHead{Size: uint64(treeSize), Range: hashes}, nil
}

func (a auditTree) Nodes(ids []store.TreeNode) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		var h []byte
		var err error
		if id.Level == 0 {
			err = a.t.queryRow(`SELECT leaf_hash FROM audit_events WHERE seq = ? AND leaf_hash IS NOT NULL`, int64(id.Index)+1).Scan(&h)
		} else if id.Level < storedNodeLevel {
			h, err = a.foldLeaves(id.Level, id.Index)
		} else {
			err = a.t.queryRow(`SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?`, int64(id.Level), int64(id.Index)).Scan(&h)
		}
		if err != nil {
			return nil, notFound(err, fmt.Sprintf("audit tree node %d.%d", id.Level, id.Index))
		}
		out[i] = h
	}
	return out, nil
}

// foldLeaves computes the node (level, index) of a level below storedNodeLevel from its
// 2^level leaves; sql.ErrNoRows when the subtree is not complete.
func (a auditTree) foldLeaves(level uint8, index uint64) ([]byte, error) {
	n := 1 << level
	hs, err := a.LeafHashes(index<<level, n)
	if err != nil {
		return nil, err
	}
	if len(hs) < n {
		return nil, sql.ErrNoRows
	}
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = rfc6962.DefaultHasher.HashChildren(hs[2*i], hs[2*i+1])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0], nil
}

func (a auditTree) LeafHashes(start uint64, n int) ([][]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := a.t.query(`SELECT seq, leaf_hash FROM audit_events WHERE seq > ? AND seq <= ? AND leaf_hash IS NOT NULL ORDER BY seq`, int64(start), int64(start)+int64(n))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	next := int64(start) + 1
	for rows.Next() {
		var seq int64
		var h []byte
		if err := rows.Scan(&seq, &h); err != nil {
			return nil, err
		}
		if seq != next {
			break // a hole (an event not yet folded in): return the run before it
		}
		next++
		out = append(out, h)
	}
	return out, rows.Err()
}

func (a auditTree) PutCheckpoint(c store.StoredCheckpoint) (store.StoredCheckpoint, error) {
	if err := a.t.treeExec(`INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (size) DO NOTHING`,
		int64(c.Size), c.Root, c.Note, micros(c.CreatedAt)); err != nil {
		return c, fmt.Errorf("store: storing checkpoint: %w", err)
	}
	return a.checkpoint(`WHERE size = ?`, int64(c.Size))
}

func (a auditTree) LatestCheckpoint() (store.StoredCheckpoint, error) {
	return a.checkpoint(`ORDER BY size DESC LIMIT 1`)
}

func (a auditTree) checkpoint(where string, args ...any) (store.StoredCheckpoint, error) {
	var c store.StoredCheckpoint
	var size, at int64
	err := a.t.queryRow(`SELECT size, root, note, created_at FROM audit_checkpoints `+strings.TrimSpace(where), args...).Scan(&size, &c.Root, &c.Note, &at)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return c, fmt.Errorf("audit checkpoint: %w", store.ErrNotFound)
		}
		return c, err
	}
	c.Size, c.CreatedAt = uint64(size), fromMicros(at)
	return c, nil
}
