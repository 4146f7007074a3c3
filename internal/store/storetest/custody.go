package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

var custodyTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"LotTransferTakesHeldDevices", testLotTransfer},
	{"TransferDevicesPage", testTransferDevicesPage},
	{"MovedCountMismatchNamesDevice", testMoveMismatch},
	{"UpdateDeviceChecksOperationalCert", testUpdateDeviceOperationalCert},
}

// testUpdateDeviceOperationalCert: an update based on a device read before another update
// replaced its operational certificate is refused (two renewals of one certificate: only the
// first commits), and writes nothing.
func testUpdateDeviceOperationalCert(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1")
	var read device.Device
	if err := s.View(ctx, func(tx store.Tx) (err error) { read, err = tx.Devices().GetDevice("d1"); return err }); err != nil {
		t.Fatal(err)
	}
	renew := func(serial string) error {
		return audited(t, s, func(tx store.Tx) error {
			next := read
			next.OperationalCert = serial
			return tx.Devices().UpdateDevice(next, read)
		})
	}
	if err := renew("0a"); err != nil {
		t.Fatal(err)
	}
	if err := renew("0b"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second update from the same read: %v, want ErrConflict", err)
	}
	var got device.Device
	if err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Devices().GetDevice("d1"); return err }); err != nil {
		t.Fatal(err)
	}
	if got.OperationalCert != "0a" {
		t.Fatalf("operational certificate %q, want the first update's 0a", got.OperationalCert)
	}
}

// giveDevice hands a device to another party outside any transfer.
func giveDevice(t *testing.T, s store.Store, id, to string) {
	t.Helper()
	if err := audited(t, s, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(id)
		if err != nil {
			return err
		}
		next := d
		next.CustodianID = to
		return tx.Devices().UpdateDevice(next, d)
	}); err != nil {
		t.Fatal(err)
	}
}

func transferDevices(t *testing.T, s store.Store, id, after string, limit int) []string {
	t.Helper()
	var ids []string
	if err := s.View(ctx, func(tx store.Tx) (err error) { ids, err = tx.Custody().TransferDevices(id, after, limit); return err }); err != nil {
		t.Fatal(err)
	}
	return ids
}

// testLotTransfer: a lot offer names, in one statement, exactly the devices of that lot its
// sender holds, stores their count, records nothing when there are none, and is refused
// while one of them has an open offer.
func testLotTransfer(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3", "d4", "d5")
	seedParty(t, s, "dist", party.Distributor)
	if err := audited(t, s, func(tx store.Tx) error {
		if err := tx.Catalog().CreateLot(device.Lot{ID: "l2", ManufacturerID: "acme", ModelID: "m1", Name: "l2", Line: "a", IssuingCAID: "ca1", CreatedAt: t0}); err != nil {
			return err
		}
		return tx.Devices().CreateDevice(device.Device{ID: "d6", ManufacturerID: "acme", ModelID: "m1", LotID: "l2", Serial: "SN-L2", State: device.Registered, CustodianID: "acme", CreatedAt: t0, UpdatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	giveDevice(t, s, "d3", "dist")

	tr := device.Transfer{ID: "tr-lot", FromID: "acme", ToID: "dist", Note: "n", OfferedBy: "x", OfferedAt: t0}
	if err := audited(t, s, func(tx store.Tx) error {
		n, err := tx.Custody().CreateLotTransfer(tr, "l1")
		if err == nil && n != 4 {
			err = fmt.Errorf("lot offer named %d devices, want 4", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Custody().GetTransfer("tr-lot")
		if err != nil || got.DeviceCount != 4 || got.State != device.Offered || got.FromID != "acme" || got.ToID != "dist" || got.Note != "n" {
			t.Errorf("transfer = %+v, %v; want 4 devices offered by acme to dist", got, err)
		}
		trs, err := tx.Custody().ListTransfers("dist")
		if err != nil || len(trs) != 1 || trs[0].DeviceCount != 4 {
			t.Errorf("transfers of dist = %+v, %v", trs, err)
		}
		return nil
	})
	if ids := transferDevices(t, s, "tr-lot", "", 0); !slices.Equal(ids, []string{"d1", "d2", "d4", "d5"}) {
		t.Errorf("devices of the lot offer = %v, want d1 d2 d4 d5 (not d3, held by dist; not d6, of lot l2)", ids)
	}

	// A device of the lot with an open offer refuses a second offer, by lot or by name.
	err := audited(t, s, func(tx store.Tx) error {
		_, err := tx.Custody().CreateLotTransfer(device.Transfer{ID: "tr-lot-2", FromID: "acme", ToID: "dist", OfferedBy: "x", OfferedAt: t0}, "l1")
		return err
	})
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("second lot offer = %v, want conflict", err)
	}
	err = audited(t, s, func(tx store.Tx) error {
		return tx.Custody().CreateTransfer(device.Transfer{ID: "tr-one", FromID: "acme", ToID: "dist", OfferedBy: "x", OfferedAt: t0}, []string{"d2"})
	})
	if !failure.Is(err, failure.Conflict) {
		t.Errorf("offer of a device with an open lot offer = %v, want conflict", err)
	}

	// A party that holds no device of the lot: 0, and no transfer left behind.
	if err := audited(t, s, func(tx store.Tx) error {
		n, err := tx.Custody().CreateLotTransfer(device.Transfer{ID: "tr-none", FromID: "dist", ToID: "acme", OfferedBy: "x", OfferedAt: t0}, "l2")
		if err == nil && n != 0 {
			err = fmt.Errorf("lot offer by a party holding none named %d devices", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Custody().GetTransfer("tr-none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("empty lot offer left a transfer: %v", err)
		}
		return nil
	})

	// Deciding frees the devices for the next lot offer, which takes what the sender holds now.
	if err := audited(t, s, func(tx store.Tx) error {
		if err := tx.Custody().DecideTransfer("tr-lot", device.Accepted, "y", t0); err != nil {
			return err
		}
		n, err := tx.Custody().MoveDevices("tr-lot", "acme", "dist", t0)
		if err == nil && n != 4 {
			err = fmt.Errorf("moved %d devices, want 4", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := audited(t, s, func(tx store.Tx) error {
		n, err := tx.Custody().CreateLotTransfer(device.Transfer{ID: "tr-back", FromID: "dist", ToID: "acme", OfferedBy: "x", OfferedAt: t0}, "l1")
		if err == nil && n != 5 {
			err = fmt.Errorf("lot offer back named %d devices, want 5", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// testTransferDevicesPage: a transfer's devices come in ID order, after the cursor, at most
// limit at a time, and only that transfer's.
func testTransferDevicesPage(t *testing.T, s store.Store) {
	seedDevice(t, s, "d7", "d3", "d5", "d1", "d6", "d2", "d4", "d8")
	seedParty(t, s, "dist", party.Distributor)
	if err := audited(t, s, func(tx store.Tx) error {
		if err := tx.Custody().CreateTransfer(device.Transfer{ID: "tr-a", FromID: "acme", ToID: "dist", OfferedBy: "x", OfferedAt: t0}, []string{"d7", "d3", "d5", "d1", "d6", "d2", "d4"}); err != nil {
			return err
		}
		return tx.Custody().CreateTransfer(device.Transfer{ID: "tr-b", FromID: "acme", ToID: "dist", OfferedBy: "x", OfferedAt: t0}, []string{"d8"})
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if got, err := tx.Custody().GetTransfer("tr-a"); err != nil || got.DeviceCount != 7 {
			t.Errorf("tr-a = %+v, %v; want 7 devices", got, err)
		}
		return nil
	})
	var pages [][]string
	after := ""
	for i := 0; i < 5; i++ {
		p := transferDevices(t, s, "tr-a", after, 3)
		pages = append(pages, p)
		if len(p) < 3 {
			break
		}
		after = p[len(p)-1]
	}
	want := [][]string{{"d1", "d2", "d3"}, {"d4", "d5", "d6"}, {"d7"}}
	if !slices.EqualFunc(pages, want, slices.Equal[[]string]) {
		t.Errorf("pages of 3 = %v, want %v", pages, want)
	}
	for _, tc := range []struct {
		name, id, after string
		limit           int
		want            []string
	}{
		{"no limit takes up to 1000", "tr-a", "", 0, []string{"d1", "d2", "d3", "d4", "d5", "d6", "d7"}},
		{"over 1000 takes 1000", "tr-a", "d5", 5000, []string{"d6", "d7"}},
		{"cursor between IDs", "tr-a", "d4x", 2, []string{"d5", "d6"}},
		{"past the end", "tr-a", "d7", 3, nil},
		{"other transfer", "tr-b", "", 3, []string{"d8"}},
		{"unknown transfer", "tr-none", "", 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := transferDevices(t, s, tc.id, tc.after, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("TransferDevices(%s, %q, %d) = %v, want %v", tc.id, tc.after, tc.limit, got, tc.want)
			}
		})
	}
}

// testMoveMismatch: when a device of a transfer has left its sender, MoveDevices moves fewer
// than the stored count, and DeviceNotHeld names that device.
func testMoveMismatch(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3", "d4")
	seedParty(t, s, "dist", party.Distributor)
	seedParty(t, s, "op", party.Operator)
	if err := audited(t, s, func(tx store.Tx) error {
		return tx.Custody().CreateTransfer(device.Transfer{ID: "tr", FromID: "acme", ToID: "op", OfferedBy: "x", OfferedAt: t0}, []string{"d1", "d2", "d3", "d4"})
	}); err != nil {
		t.Fatal(err)
	}
	notHeld := func(id, partyID string) string {
		t.Helper()
		var dev string
		if err := s.View(ctx, func(tx store.Tx) (err error) { dev, err = tx.Custody().DeviceNotHeld(id, partyID); return err }); err != nil {
			t.Fatal(err)
		}
		return dev
	}
	if dev := notHeld("tr", "acme"); dev != "" {
		t.Errorf("DeviceNotHeld(acme) = %q while acme holds them all", dev)
	}
	giveDevice(t, s, "d3", "dist")
	giveDevice(t, s, "d4", "op") // already the receiver's: moved by nobody, named by nobody
	if dev := notHeld("tr", "acme"); dev != "d3" {
		t.Errorf("DeviceNotHeld(acme) = %q, want d3 (d4 too is not acme's, but d3 is first)", dev)
	}
	// In the accepting transaction: the count falls short, and the one device neither moved
	// nor the receiver's is named.
	errShort := errors.New("short")
	err := audited(t, s, func(tx store.Tx) error {
		tr, err := tx.Custody().GetTransfer("tr")
		if err != nil {
			return err
		}
		if err := tx.Custody().DecideTransfer("tr", device.Accepted, "y", t0); err != nil {
			return err
		}
		n, err := tx.Custody().MoveDevices("tr", "acme", "op", t0)
		if err != nil {
			return err
		}
		if n != 2 || tr.DeviceCount != 4 {
			return fmt.Errorf("moved %d of %d devices, want 2 of 4", n, tr.DeviceCount)
		}
		dev, err := tx.Custody().DeviceNotHeld("tr", "op")
		if err != nil {
			return err
		}
		if dev != "d3" {
			return fmt.Errorf("DeviceNotHeld(op) after the move = %q, want d3", dev)
		}
		return errShort // roll back, as custody does
	})
	if !errors.Is(err, errShort) {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		for id, want := range map[string]string{"d1": "acme", "d2": "acme", "d3": "dist", "d4": "op"} {
			if d, err := tx.Devices().GetDevice(id); err != nil || d.CustodianID != want {
				t.Errorf("after the rollback %s is held by %q (%v), want %s", id, d.CustodianID, err, want)
			}
		}
		if tr, err := tx.Custody().GetTransfer("tr"); err != nil || tr.State != device.Offered {
			t.Errorf("after the rollback transfer = %+v, %v; want still offered", tr, err)
		}
		return nil
	})
}
