package storetest

import (
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// heldTests are the contract of the reads behind issue 17: key bindings, the lots a party
// holds devices of, and the devices of a transfer still in an operational state.
var heldTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"KeyBoundToOneDevice", testKeyBound},
	{"HeldLots", testHeldLots},
	{"OperationalDeviceOfTransfer", testOperationalDevice},
	{"OperationalReportScope", testOperationalScope},
}

// testKeyBound: a key is bound to a device by a signed certificate of it (issued or revoked
// since), not by a reservation never signed, and never to the device asking.
func testKeyBound(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2")
	key, other := []byte("key-one-sha256-0123456789abcdef"), []byte("key-two-sha256-0123456789abcdef")
	reserve := func(serial int64, dev string, k []byte) {
		mustUpdate(t, s, func(tx store.Tx) error {
			return tx.Certificates().Reserve(ca.Cert{Serial: big.NewInt(serial), CAID: "ca1", DeviceID: dev, Profile: "factory", TBS: []byte{1},
				NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0, KeySHA256: k})
		})
	}
	bound := func(k []byte, dev string) bool {
		t.Helper()
		var b bool
		if err := s.View(ctx, func(tx store.Tx) (err error) { b, err = tx.Certificates().KeyBoundElsewhere(k, dev); return err }); err != nil {
			t.Fatal(err)
		}
		return b
	}
	reserve(0x10, "d1", key)
	if bound(key, "d2") {
		t.Error("a reservation never signed binds its key")
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().MarkIssued(big.NewInt(0x10), []byte{2}, t0) }); err != nil {
		t.Fatal(err)
	}
	if !bound(key, "d2") || bound(key, "d1") || bound(other, "d2") {
		t.Errorf("after issuance to d1: for d2 %v (want true), for d1 %v (want false), another key %v (want false)", bound(key, "d2"), bound(key, "d1"), bound(other, "d2"))
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(big.NewInt(0x10), 1, t0) }); err != nil {
		t.Fatal(err)
	}
	if !bound(key, "d2") {
		t.Error("a revoked certificate no longer binds its key")
	}
	reserve(0x11, "", other) // a certificate of no device binds nothing
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().MarkIssued(big.NewInt(0x11), []byte{3}, t0) }); err != nil {
		t.Fatal(err)
	}
	if bound(other, "d2") {
		t.Error("a certificate of no device binds its key to a device")
	}
}

// testHeldLots: the lots a party holds a device of, filtered by manufacturer.
func testHeldLots(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2")
	seedParty(t, s, "op", party.Operator)
	if err := audited(t, s, func(tx store.Tx) error {
		return tx.Catalog().CreateLot(device.Lot{ID: "l2", ManufacturerID: "acme", ModelID: "m1", Name: "l2", Line: "a", IssuingCAID: "ca1", CreatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	lots := func(partyID, mfr string) []string {
		t.Helper()
		var ls []device.Lot
		if err := s.View(ctx, func(tx store.Tx) (err error) { ls, err = tx.Catalog().HeldLots(partyID, mfr); return err }); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range ls {
			ids = append(ids, l.ID)
		}
		return ids
	}
	if got := lots("op", ""); len(got) != 0 {
		t.Errorf("a party that holds nothing holds devices of %v", got)
	}
	giveDevice(t, s, "d2", "op")
	for _, tc := range []struct {
		party, mfr string
		want       []string
	}{{"op", "", []string{"l1"}}, {"op", "acme", []string{"l1"}}, {"op", "other", nil}, {"acme", "", []string{"l1"}}} {
		if got := lots(tc.party, tc.mfr); !slices.Equal(got, tc.want) {
			t.Errorf("HeldLots(%s, %q) = %v, want %v", tc.party, tc.mfr, got, tc.want)
		}
	}
}

// testOperationalDevice: the lowest-ID device of a transfer in an operational state.
func testOperationalDevice(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3")
	seedParty(t, s, "dist", party.Distributor)
	tr := device.Transfer{ID: "x1", FromID: "acme", ToID: "dist", State: device.Offered, OfferedBy: "p", OfferedAt: t0}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Custody().CreateTransfer(tr, []string{"d1", "d2", "d3"}) }); err != nil {
		t.Fatal(err)
	}
	operational := func() string {
		t.Helper()
		var id string
		if err := s.View(ctx, func(tx store.Tx) (err error) { id, err = tx.Custody().OperationalDevice("x1"); return err }); err != nil {
			t.Fatal(err)
		}
		return id
	}
	if got := operational(); got != "" {
		t.Errorf("registered devices: OperationalDevice = %q", got)
	}
	setState := func(id string, st device.State) {
		if err := audited(t, s, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(id)
			if err != nil {
				return err
			}
			next := d
			next.State = st
			return tx.Devices().UpdateDevice(next, d)
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []device.State{device.Released, device.FactoryRevoked} {
		setState("d3", st)
		if got := operational(); got != "" {
			t.Errorf("a %s device: OperationalDevice = %q", st, got)
		}
	}
	for _, st := range []device.State{device.Active, device.Suspended, device.Quarantined} {
		setState("d2", st)
		if got := operational(); got != "d2" {
			t.Errorf("a %s device d2: OperationalDevice = %q", st, got)
		}
	}
}

// testOperationalScope: an operational report scope keeps the devices a party holds in
// environments it operates: not the maker's devices, not a device in the party's environment
// that another holds, not a device a party holds in another's environment.
func testOperationalScope(t *testing.T, s store.Store) {
	reportFleet(t, s)
	now := t0.Add(10 * time.Hour)
	_ = s.View(ctx, func(tx store.Tx) error {
		r := tx.Reports()
		for _, c := range []struct {
			party      string
			admissions []string
			active     int
		}{
			{"acme", nil, 0},                // the maker of all four
			{"op", []string{"d1", "d2"}, 2}, // d3 sits in op's env1 but dist holds it
			{"dist", nil, 0},                // holds d3, in op's environment
		} {
			sc := store.ReportScope{PartyID: c.party, Operational: true}
			ad, err := r.Admissions(sc, "", 10)
			var got []string
			for _, a := range ad {
				got = append(got, a.Device.ID)
			}
			if err != nil || !slices.Equal(got, c.admissions) {
				t.Errorf("operational admissions of %s = %v, %v; want %v", c.party, got, err, c.admissions)
			}
			rot, err := r.Rotation(sc, now)
			active := 0
			for _, x := range rot {
				active += x.Active
			}
			if err != nil || active != c.active {
				t.Errorf("operational rotation of %s counts %d active (%v), want %d", c.party, active, err, c.active)
			}
			if cnt, err := r.ExpiringCounts(sc, now.Add(time.Hour)); err != nil || c.active == 0 && len(cnt) != 0 {
				t.Errorf("operational expiring counts of %s = %+v, %v", c.party, cnt, err)
			}
		}
		// The maker's scope is not narrowed: it still sees its four devices' inventory.
		if inv, err := r.Inventory(store.ReportScope{PartyID: "acme"}, "", 10); err != nil || len(inv) != 4 {
			t.Errorf("the maker's inventory = %d devices, %v", len(inv), err)
		}
		return nil
	})
}
