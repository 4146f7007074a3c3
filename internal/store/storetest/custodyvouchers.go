package storetest

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

var voucherTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"CustodyKeys", testCustodyKeys},
	{"CustodyVoucherLinksNeverRepeat", testVoucherLinks},
}

func testCustodyKeys(t *testing.T, s store.Store) {
	seedDevice(t, s) // parties
	k := store.CustodyKey{KeyID: "k1", PartyID: "acme", Name: "n", PublicKeyPEM: "pem", CreatedBy: "p", CreatedAt: t0}
	if err := audited(t, s, func(tx store.Tx) error { return tx.CustodyVouchers().AddCustodyKey(k) }); err != nil {
		t.Fatal(err)
	}
	k2 := k
	k2.PartyID = "acme"
	k2.Name = "again"
	if err := audited(t, s, func(tx store.Tx) error { return tx.CustodyVouchers().AddCustodyKey(k2) }); !failure.Is(err, failure.Conflict) {
		t.Errorf("a key registered twice: %v, want conflict", err)
	}
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.CustodyVouchers().GetCustodyKey("k1")
		if err != nil || got.PartyID != "acme" || !got.CreatedAt.Equal(t0) {
			t.Errorf("GetCustodyKey = %+v, %v", got, err)
		}
		ks, err := tx.CustodyVouchers().ListCustodyKeys("acme")
		if err != nil || len(ks) != 1 {
			t.Errorf("ListCustodyKeys = %+v, %v", ks, err)
		}
		if _, err := tx.CustodyVouchers().GetCustodyKey("nope"); !failure.Is(err, failure.NotFound) {
			t.Errorf("an unknown key: %v", err)
		}
		return nil
	})
}

func testVoucherLinks(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2")
	v := store.VoucherRecord{ID: "v1", PartyID: "acme", Direction: "import", MakerID: "m", SHA256: [32]byte{1}, Content: []byte(`{}`), Devices: 2,
		FinalLink: "h2", AddresseeKeyID: "k", CreatedBy: "p", CreatedAt: t0}
	links := []store.VoucherLink{{Hash: "h1", Position: 0, AddresseeKeyID: "a"}, {Hash: "h2", Previous: "h1", Position: 1, AddresseeKeyID: "k"}}
	if err := audited(t, s, func(tx store.Tx) error { return tx.CustodyVouchers().AddVoucher(v, []string{"d1", "d2"}, links) }); err != nil {
		t.Fatal(err)
	}
	// A second voucher sharing a link is refused whole: nothing of it is stored.
	v2 := v
	v2.ID = "v2"
	err := audited(t, s, func(tx store.Tx) error {
		return tx.CustodyVouchers().AddVoucher(v2, []string{"d1"}, []store.VoucherLink{{Hash: "h3", Position: 0}, {Hash: "h2", Previous: "h3", Position: 1}})
	})
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("a repeated link: %v, want conflict", err)
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.CustodyVouchers().GetVoucher("v2"); !failure.Is(err, failure.NotFound) {
			t.Errorf("the refused voucher was stored: %v", err)
		}
		if _, err := tx.CustodyVouchers().GetLink("h3"); !failure.Is(err, failure.NotFound) {
			t.Errorf("a link of the refused voucher was stored: %v", err)
		}
		got, err := tx.CustodyVouchers().GetVoucher("v1")
		if err != nil || string(got.Content) != `{}` || got.SHA256 != v.SHA256 || got.Devices != 2 {
			t.Errorf("GetVoucher = %+v, %v", got, err)
		}
		l, err := tx.CustodyVouchers().GetLink("h2")
		if err != nil || l.VoucherID != "v1" || l.Position != 1 || l.Previous != "h1" {
			t.Errorf("GetLink = %+v, %v", l, err)
		}
		of, err := tx.CustodyVouchers().VouchersOfDevice("d2")
		if err != nil || len(of) != 1 || of[0].ID != "v1" || of[0].Content != nil {
			t.Errorf("VouchersOfDevice = %+v, %v", of, err)
		}
		ls, err := tx.CustodyVouchers().ListVouchers("acme")
		if err != nil || len(ls) != 1 {
			t.Errorf("ListVouchers = %+v, %v", ls, err)
		}
		return nil
	})
}

func mustView(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatal(err)
	}
}
