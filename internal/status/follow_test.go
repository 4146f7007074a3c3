package status

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/leader"
	"github.com/hallmark-id/hallmark/internal/store"
)

// follower is a replica that does not hold the signing lease.
type follower struct{}

func (follower) Current() (leader.Term, bool) { return leader.Term{}, false }

// countingStore counts the read transactions it opens.
type countingStore struct {
	store.Store
	views atomic.Int64
}

func (c *countingStore) View(ctx context.Context, fn func(store.Tx) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

// TestFollowerReadsStoredCRLsInOneTransaction: a follower refreshes every CRL it serves (the
// full CRL and each partition of each CA) in one read transaction per CRLMinGap, and serves
// what the leader stored.
func TestFollowerReadsStoredCRLsInOneTransaction(t *testing.T) {
	f := newFixture(t)
	if f.issuing.CRLPartitions < 2 {
		t.Fatalf("the fixture CA has %d CRL partitions; the test needs several", f.issuing.CRLPartitions)
	}
	cs := &countingStore{Store: f.st}
	cfg := f.cfg
	cfg.Store, cfg.Leader, cfg.CRLMinGap = cs, follower{}, time.Hour
	svc := New(cfg)
	if err := svc.loadCAs(ctx); err != nil {
		t.Fatal(err)
	}
	// The leader stored the full CRL and one partition's.
	state := svc.caByID(f.issuing.ID)
	list := []*caState{state}
	stored := map[string]int64{crlKey(state, &state.crl): 7, crlKey(state, &state.parts[1]): 3}
	if err := f.st.Update(ctx, func(tx store.Tx) error {
		for key, n := range stored {
			if err := tx.CRLs().PutCRL(store.StoredCRL{CAID: key, Number: n, ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour),
				DER: []byte{0x30, 0x00}, Holder: "leader-a", Epoch: 1}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := cs.views.Load()
	svc.followCRLs(ctx, list)
	if n := cs.views.Load() - before; n != 1 {
		t.Errorf("following %d CRLs opened %d read transactions, want 1", 1+len(state.parts), n)
	}
	got := svc.caByID(f.issuing.ID)
	if d := got.crl.doc.Load(); d == nil || d.number != 7 {
		t.Errorf("the full CRL followed is %+v, want number 7", d)
	}
	if d := got.parts[1].doc.Load(); d == nil || d.number != 3 {
		t.Errorf("partition 1's CRL followed is %+v, want number 3", d)
	}
	if d := got.parts[0].doc.Load(); d != nil {
		t.Errorf("partition 0 has no stored CRL but serves number %d", d.number)
	}
	// Within CRLMinGap nothing is read again.
	before = cs.views.Load()
	svc.followCRLs(ctx, list)
	if n := cs.views.Load() - before; n != 0 {
		t.Errorf("a second round within CRLMinGap opened %d read transactions", n)
	}
}
