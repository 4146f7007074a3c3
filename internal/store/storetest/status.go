package storetest

import (
	"math/big"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// statusTests are the contract of revocation status: the CRL walk, CRL numbers, responders
// and the change feed.
var statusTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"RevokedListKeepsUnexpiredRevocations", testEachRevoked},
	{"CRLNumbersGrow", testCRLNumbers},
	{"ResponderLatestWins", testResponders},
	{"EveryStatusChangeIsFed", testStatusChanges},
}

func issuedOn(t *testing.T, s store.Store, caID string, serial *big.Int, notAfter time.Time) {
	t.Helper()
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: caID, Profile: "operational", TBS: []byte{1}, NotBefore: t0.Add(-time.Hour), NotAfter: notAfter, CreatedAt: t0})
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Certificates().MarkIssued(serial, []byte{2}, t0); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("cert.issue"))
		return err
	})
}

func testEachRevoked(t *testing.T, s store.Store) {
	seedCA(t, s)
	live, expired, good, other := big.NewInt(0x20), big.NewInt(0x10), big.NewInt(0x30), big.NewInt(0x40)
	held := big.NewInt(0x05)
	for _, n := range []*big.Int{live, good, held} {
		issuedOn(t, s, "ca1", n, t0.Add(time.Hour))
	}
	issuedOn(t, s, "ca1", expired, t0.Add(-time.Minute))
	issuedOn(t, s, "ca2", other, t0.Add(time.Hour))
	for _, r := range []struct {
		n      *big.Int
		reason int
	}{{live, 1}, {expired, 4}, {other, 1}, {held, 6}} {
		if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(r.n, r.reason, t0) }); err != nil {
			t.Fatal(err)
		}
	}
	var got []store.RevokedEntry
	_ = s.View(ctx, func(tx store.Tx) error {
		return tx.Status().EachRevoked("ca1", t0, func(e store.RevokedEntry) error { got = append(got, e); return nil })
	})
	if len(got) != 2 || got[0].SerialHex != "20" || got[0].Reason != 1 || !got[0].RevokedAt.Equal(t0) || got[1].SerialHex != "5" || got[1].Reason != 6 {
		t.Fatalf("revoked of ca1 = %+v, want 20 (keyCompromise) then 5 (hold), ordered by serial text, without the expired one", got)
	}
}

func testCRLNumbers(t *testing.T, s store.Store) {
	for i, want := range []int64{1, 2, 3} {
		var n int64
		if err := s.Update(ctx, func(tx store.Tx) (err error) { n, err = tx.Status().NextCRLNumber("ca1"); return err }); err != nil {
			t.Fatalf("CRL number %d (exempt from audit): %v", i, err)
		}
		if n != want {
			t.Fatalf("CRL number = %d, want %d", n, want)
		}
	}
	var n int64
	_ = s.Update(ctx, func(tx store.Tx) (err error) { n, err = tx.Status().NextCRLNumber("ca2"); return err })
	if n != 1 {
		t.Errorf("another CA's first CRL number = %d, want 1", n)
	}
}

func testResponders(t *testing.T, s store.Store) {
	seedCA(t, s)
	a, b := big.NewInt(0x71), big.NewInt(0x72)
	issuedOn(t, s, "ca1", a, t0.Add(time.Hour))
	issuedOn(t, s, "ca1", b, t0.Add(2*time.Hour))
	_ = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Status().CurrentResponder("ca1"); !failure.Is(err, failure.NotFound) {
			t.Errorf("no responder yet = %v, want not found", err)
		}
		return nil
	})
	for _, r := range []store.OCSPResponder{
		{SerialHex: "72", CAID: "ca1", KeyID: "k2", CertDER: []byte{2}, NotAfter: t0.Add(2 * time.Hour), CreatedAt: t0},
		{SerialHex: "71", CAID: "ca1", KeyID: "k1", CertDER: []byte{1}, NotAfter: t0.Add(time.Hour), CreatedAt: t0},
	} {
		if err := audited(t, s, func(tx store.Tx) error { return tx.Status().CreateResponder(r) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Status().CreateResponder(store.OCSPResponder{SerialHex: "73", CAID: "ca1", KeyID: "k3", CertDER: []byte{3}, NotAfter: t0, CreatedAt: t0})
	}); err == nil {
		t.Error("an unaudited responder was stored")
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		r, err := tx.Status().CurrentResponder("ca1")
		if err != nil || r.KeyID != "k2" || !r.NotAfter.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("current responder = %+v, %v, want k2", r, err)
		}
		return nil
	})
}

func testStatusChanges(t *testing.T, s store.Store) {
	seedCA(t, s)
	var start int64
	_ = s.View(ctx, func(tx store.Tx) (err error) { start, err = tx.Status().LastChange(); return err })
	n := big.NewInt(0x99)
	issuedOn(t, s, "ca1", n, t0.Add(time.Hour)) // reserved → issued
	for _, fn := range []func(tx store.Tx) error{
		func(tx store.Tx) error { return tx.Certificates().Revoke(n, 6, t0) },
		func(tx store.Tx) error { return tx.Certificates().Unhold(n) },
		func(tx store.Tx) error { return tx.Certificates().Revoke(n, 1, t0) },
	} {
		if err := audited(t, s, fn); err != nil {
			t.Fatal(err)
		}
	}
	var got []store.StatusChange
	_ = s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Status().Changes(start, 100); return err })
	if len(got) != 4 {
		t.Fatalf("changes = %+v, want 4 (issue, hold, release, revoke)", got)
	}
	for i, c := range got {
		if c.CAID != "ca1" || c.SerialHex != "99" || (i > 0 && c.Seq <= got[i-1].Seq) {
			t.Errorf("change %d = %+v", i, c)
		}
	}
	var last int64
	_ = s.View(ctx, func(tx store.Tx) (err error) { last, err = tx.Status().LastChange(); return err })
	if last != got[3].Seq {
		t.Errorf("last change %d, want %d", last, got[3].Seq)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Status().PruneChanges(time.Now().Add(time.Hour)) }); err != nil {
		t.Fatalf("prune (exempt from audit): %v", err)
	}
	_ = s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Status().Changes(0, 100); return err })
	if len(got) != 0 {
		t.Errorf("after pruning: %+v", got)
	}
}
