package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
)

var auditTreeTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"AuditTreeMatchesEvents", testAuditTree},
	{"AuditAppendsAreGapFreeUnderConcurrency", testAuditConcurrent},
	{"AuditCheckpointsKeepTheFirstOfASize", testAuditCheckpoints},
}

// CheckAuditTree recomputes every leaf from the listed events and compares the tree the store
// keeps (head, compact range, stored nodes) with it.
func CheckAuditTree(t *testing.T, s store.Store, want int) {
	t.Helper()
	f := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	ref := f.NewEmptyRange(0)
	nodes := map[compact.NodeID][]byte{}
	err := s.View(ctx, func(tx store.Tx) error {
		ref, nodes = f.NewEmptyRange(0), map[compact.NodeID][]byte{} // a read may run again
		var after int64
		for {
			evs, err := tx.Audit().List(after, 1000)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				if e.Seq != after+1 {
					return fmt.Errorf("seq %d follows %d: the order has a gap", e.Seq, after)
				}
				after = e.Seq
				h, err := audit.LeafHash(e)
				if err != nil {
					return err
				}
				if err := ref.Append(h, func(id compact.NodeID, h []byte) { nodes[id] = h }); err != nil {
					return err
				}
			}
		}
		if int(ref.End()) != want {
			return fmt.Errorf("%d events, want %d", ref.End(), want)
		}
		head, err := tx.AuditTree().Head()
		if err != nil {
			return err
		}
		if head.Size != ref.End() || len(head.Range) != len(ref.Hashes()) {
			return fmt.Errorf("head size %d with %d range hashes, want %d with %d", head.Size, len(head.Range), ref.End(), len(ref.Hashes()))
		}
		for i, h := range ref.Hashes() {
			if !bytes.Equal(h, head.Range[i]) {
				return fmt.Errorf("compact range hash %d differs", i)
			}
		}
		for id, h := range nodes {
			got, err := tx.AuditTree().Nodes([]store.TreeNode{{Level: uint8(id.Level), Index: id.Index}})
			if err != nil {
				return fmt.Errorf("node %v: %w", id, err)
			}
			if !bytes.Equal(got[0], h) {
				return fmt.Errorf("node %v differs", id)
			}
		}
		_, err = tx.AuditTree().Nodes([]store.TreeNode{{Level: 1, Index: uint64(want)}})
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("a node beyond the tree: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testAuditTree(t *testing.T, s store.Store) {
	n := 0
	for i := 0; i < 20; i++ {
		mustUpdate(t, s, func(tx store.Tx) error {
			for j := 0; j <= i%3; j++ { // one to three events per transaction
				e := ev(fmt.Sprintf("a.%d", j))
				e.Detail = audit.Detail(map[string]any{"i": i, "note": "<&>"})
				if _, err := tx.Audit().Append(e); err != nil {
					return err
				}
			}
			return nil
		})
		n += i%3 + 1
		// A transaction that appends and then fails leaves no trace in the order.
		boom := errors.New("boom")
		if err := s.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Audit().Append(ev("rolled.back")); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("rolled back update: %v", err)
		}
	}
	CheckAuditTree(t, s, n)
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.AuditTree().LeafHashes(3, 5)
		if err != nil || len(got) != 5 {
			t.Errorf("LeafHashes(3, 5) = %d hashes, %v", len(got), err)
		}
		return nil
	})
}

func testAuditConcurrent(t *testing.T, s store.Store) {
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := s.Update(ctx, func(tx store.Tx) error {
					_, err := tx.Audit().Append(ev(fmt.Sprintf("w%d.%d", w, i)))
					return err
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	CheckAuditTree(t, s, workers*each)
}

func testAuditCheckpoints(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		if _, err := tx.AuditTree().LatestCheckpoint(); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("latest of none: %v, want ErrNotFound", err)
		}
		for _, c := range []store.StoredCheckpoint{
			{Size: 1, Root: []byte("r1"), Note: []byte("n1"), CreatedAt: t0},
			{Size: 3, Root: []byte("r3"), Note: []byte("n3"), CreatedAt: t0},
			{Size: 3, Root: []byte("other"), Note: []byte("other"), CreatedAt: t0},
		} {
			if _, err := tx.AuditTree().PutCheckpoint(c); err != nil {
				return err
			}
		}
		c, err := tx.AuditTree().LatestCheckpoint()
		if err != nil || c.Size != 3 || string(c.Note) != "n3" {
			return fmt.Errorf("latest = %+v, %v; want the first checkpoint of size 3", c, err)
		}
		return nil
	})
	// Checkpoints are not identity state: storing one needs no audit event.
}
