package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
)

// leaseTests are the contract of leadership leases and stored CRLs (store/lease.go).
var leaseTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"LeaseTakeRenewExpireRelease", testLeaseLifecycle},
	{"LeaseHasOneHolderUnderConcurrency", testLeaseConcurrent},
	{"LeaseFencesAFormerHolder", testLeaseFence},
	{"StoredCRLNumbersOnlyGrow", testStoredCRLs},
}

// leaseTTL is short so that expiry is tested in real time (leases run on the store's clock).
const leaseTTL = 400 * time.Millisecond

func acquire(s store.Store, name, holder string, ttl time.Duration) (store.Lease, error) {
	var l store.Lease
	err := s.Update(ctx, func(tx store.Tx) (err error) { l, err = tx.Leases().Acquire(name, holder, ttl); return err })
	return l, err
}

func check(s store.Store, name, holder string, epoch int64) error {
	return s.View(ctx, func(tx store.Tx) error { return tx.Leases().Check(name, holder, epoch) })
}

func testLeaseLifecycle(t *testing.T, s store.Store) {
	if err := s.View(ctx, func(tx store.Tx) error { _, err := tx.Leases().GetLease("signer"); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetLease of a lease never taken = %v, want not found", err)
	}
	a, err := acquire(s, "signer", "a", leaseTTL)
	if err != nil {
		t.Fatalf("first Acquire (exempt from audit): %v", err)
	}
	if a.Holder != "a" || a.Epoch != 1 || !a.ExpiresAt.After(a.AcquiredAt) {
		t.Fatalf("first lease = %+v, want holder a, epoch 1, expiring after it was taken", a)
	}
	b, err := acquire(s, "signer", "b", leaseTTL)
	if !errors.Is(err, store.ErrConflict) || b.Holder != "a" {
		t.Fatalf("Acquire of a held lease = %+v, %v; want the holder a and a conflict", b, err)
	}
	if other, err := acquire(s, "other", "b", leaseTTL); err != nil || other.Epoch != 1 {
		t.Fatalf("another lease name = %+v, %v; want its own epoch 1", other, err)
	}
	renewed, err := acquire(s, "signer", "a", leaseTTL)
	if err != nil || renewed.Epoch != 1 || renewed.ExpiresAt.Before(a.ExpiresAt) || !renewed.AcquiredAt.Equal(a.AcquiredAt) {
		t.Fatalf("renewal = %+v, %v; want the same epoch and term start, a later expiry", renewed, err)
	}
	if err := check(s, "signer", "a", 1); err != nil {
		t.Fatalf("Check of the holder: %v", err)
	}
	for _, c := range []struct {
		holder string
		epoch  int64
	}{{"b", 1}, {"a", 2}, {"a", 0}} {
		if err := check(s, "signer", c.holder, c.epoch); !errors.Is(err, store.ErrConflict) {
			t.Errorf("Check(%s, %d) = %v, want conflict", c.holder, c.epoch, err)
		}
	}
	time.Sleep(leaseTTL + 100*time.Millisecond)
	if err := check(s, "signer", "a", 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Check of an expired lease = %v, want conflict", err)
	}
	b, err = acquire(s, "signer", "b", leaseTTL)
	if err != nil || b.Holder != "b" || b.Epoch != 2 {
		t.Fatalf("take-over after expiry = %+v, %v; want holder b, epoch 2", b, err)
	}
	// Releasing a lease one does not hold (or an old epoch) does nothing.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Leases().Release("signer", "a", 1) }); err != nil {
		t.Fatal(err)
	}
	if err := check(s, "signer", "b", 2); err != nil {
		t.Fatalf("a stranger's release ended the lease: %v", err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Leases().Release("signer", "b", 2) }); err != nil {
		t.Fatal(err)
	}
	if err := check(s, "signer", "b", 2); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Check after release = %v, want conflict", err)
	}
	a, err = acquire(s, "signer", "a", leaseTTL)
	if err != nil || a.Epoch != 3 {
		t.Fatalf("Acquire after release = %+v, %v; want epoch 3 at once", a, err)
	}
	if err := s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Leases().GetLease("signer")
		if err == nil && (got.Holder != "a" || got.Epoch != 3) {
			err = fmt.Errorf("GetLease = %+v", got)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func testLeaseConcurrent(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	won := make(chan string, n)
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			holder := fmt.Sprintf("r%d", i)
			l, err := acquire(s, "signer", holder, time.Minute)
			switch {
			case err == nil && l.Holder == holder:
				won <- holder
			case errors.Is(err, store.ErrConflict):
			default:
				errs <- fmt.Errorf("%s: %+v, %v", holder, l, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(won)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var winners []string
	for w := range won {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("holders = %v, want exactly one", winners)
	}
	if err := check(s, "signer", winners[0], 1); err != nil {
		t.Fatalf("the winner's epoch: %v", err)
	}
}

func testLeaseFence(t *testing.T, s store.Store) {
	a, err := acquire(s, "signer", "a", leaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	fenced := func(holder string, epoch, number int64) error {
		return s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Leases().Check("signer", holder, epoch); err != nil {
				return err
			}
			return tx.CRLs().PutCRL(store.StoredCRL{CAID: "ca1", Number: number, ThisUpdate: t0, NextUpdate: t0.Add(time.Hour), DER: []byte{byte(number)}, Holder: holder, Epoch: epoch})
		})
	}
	if err := fenced("a", a.Epoch, 1); err != nil {
		t.Fatalf("the holder's fenced write: %v", err)
	}
	time.Sleep(leaseTTL + 100*time.Millisecond)
	b, err := acquire(s, "signer", "b", leaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	if err := fenced("a", a.Epoch, 2); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a former holder's fenced write = %v, want conflict", err)
	}
	if err := fenced("b", b.Epoch, 2); err != nil {
		t.Fatalf("the new holder's fenced write: %v", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		c, err := tx.CRLs().LatestCRL("ca1", 0)
		if err != nil || c.Number != 2 || c.Holder != "b" || c.Epoch != b.Epoch {
			t.Errorf("stored CRL = %+v, %v; want number 2 by b", c, err)
		}
		return nil
	})
}

func testStoredCRLs(t *testing.T, s store.Store) {
	put := func(caID string, n int64) error {
		return s.Update(ctx, func(tx store.Tx) error {
			return tx.CRLs().PutCRL(store.StoredCRL{CAID: caID, Number: n, ThisUpdate: t0.Add(time.Duration(n) * time.Minute), NextUpdate: t0.Add(time.Hour), DER: []byte{1, byte(n)}, Holder: "h", Epoch: 1})
		})
	}
	if err := s.View(ctx, func(tx store.Tx) error { _, err := tx.CRLs().LatestCRL("ca1", 0); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestCRL with none stored = %v, want not found", err)
	}
	for _, n := range []int64{1, 2, 5} {
		if err := put("ca1", n); err != nil {
			t.Fatalf("CRL %d (exempt from audit): %v", n, err)
		}
	}
	for _, n := range []int64{5, 3, 1} {
		if err := put("ca1", n); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CRL %d after 5 = %v, want conflict", n, err)
		}
	}
	if err := put("ca2", 1); err != nil {
		t.Fatalf("another CA's first CRL: %v", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		c, err := tx.CRLs().LatestCRL("ca1", 0)
		if err != nil || c.Number != 5 || len(c.DER) != 2 || c.DER[1] != 5 || !c.ThisUpdate.Equal(t0.Add(5*time.Minute)) || !c.NextUpdate.Equal(t0.Add(time.Hour)) {
			t.Errorf("LatestCRL = %+v, %v; want number 5 with its bytes and times", c, err)
		}
		if c, err := tx.CRLs().LatestCRL("ca1", 5); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LatestCRL after 5 = %+v, %v; want not found", c, err)
		}
		if c, err := tx.CRLs().LatestCRL("ca2", 0); err != nil || c.Number != 1 {
			t.Errorf("ca2 = %+v, %v", c, err)
		}
		return nil
	})
}
