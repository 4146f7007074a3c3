package storetest

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/store"
)

// testBulk is the contract of the set-based writes: each behaves as its single-row
// counterpart for every row, refuses the whole batch with ErrConflict when one row cannot
// change, and needs the transaction's audit event.
func testBulk(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2")
	a, b := big.NewInt(0xa1), big.NewInt(0xb2)
	issuedTo(t, s, a, "d1", "operational")
	issued(t, s, b)
	ah, bh := ca.SerialHex(a), ca.SerialHex(b)
	setOperationalCert(t, s, "d1", ah)
	_ = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.Bulk().DeviceTargets([]string{"d1", "d2", "nope"})
		if err != nil || len(got) != 2 {
			t.Fatalf("targets = %+v, %v, want d1 and d2", got, err)
		}
		for _, g := range got {
			switch g.Device.ID {
			case "d1":
				if g.Device.OperationalCert != ah || g.OperationalState != ca.Issued || !g.OperationalNotAfter.Equal(t0.Add(time.Hour)) || g.Device.State != device.Registered {
					t.Errorf("d1 = %+v", g)
				}
			case "d2":
				if g.Device.OperationalCert != "" || g.OperationalState != "" || !g.OperationalNotAfter.IsZero() {
					t.Errorf("d2 = %+v", g)
				}
			default:
				t.Errorf("unexpected %+v", g)
			}
		}
		return nil
	})
	run := store.RevocationRun{ID: "r1", ManufacturerID: "acme", Selector: store.FactorySelector{ManufacturerID: "acme", LotID: "l1"}, Reason: 1, RequestedBy: "x", CreatedAt: t0}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Revocations().CreateRun(run) }); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		fn     func(b store.Bulk) error
		wantOK bool
	}{
		{"empty lists change nothing", func(b store.Bulk) error {
			return errors.Join(b.RevokeMany(nil, 1, t0), b.HoldMany(nil, t0), b.AddItems(nil), b.SetDeviceStates(nil, t0))
		}, true},
		{"an expired certificate is not held", func(b store.Bulk) error { return b.HoldMany([]string{ah, bh}, t0.Add(2*time.Hour)) }, false},
		{"an unknown serial fails the batch", func(b store.Bulk) error { return b.HoldMany([]string{ah, "ffff"}, t0) }, false},
		{"hold both", func(b store.Bulk) error { return b.HoldMany([]string{ah, bh}, t0) }, true},
		{"a held certificate is not held again", func(b store.Bulk) error { return b.HoldMany([]string{ah}, t0) }, false},
		{"a hold becomes a revocation", func(b store.Bulk) error { return b.RevokeMany([]string{ah}, 1, t0) }, true},
		{"a revoked certificate is not revoked again", func(b store.Bulk) error { return b.RevokeMany([]string{ah, bh}, 1, t0) }, false},
		{"device moves from its expected state", func(b store.Bulk) error {
			return b.SetDeviceStates([]store.DeviceStateChange{{DeviceID: "d1", From: device.Registered, To: device.Suspended}, {DeviceID: "d2", From: device.Registered, To: device.FactoryRevoked}}, t0.Add(time.Minute))
		}, true},
		{"device not in the expected state", func(b store.Bulk) error {
			return b.SetDeviceStates([]store.DeviceStateChange{{DeviceID: "d1", From: device.Registered, To: device.Suspended}}, t0)
		}, false},
		{"items twice", func(b store.Bulk) error {
			items := []store.CascadeItem{{RunID: "r1", Serial: ah, DeviceID: "d1", Action: "operational-suspended", At: t0}, {RunID: "r1", Serial: "f1", DeviceID: "d1", Action: "factory-revoked", At: t0}}
			return errors.Join(b.AddItems(items), b.AddItems(items))
		}, true},
	}
	for _, st := range steps {
		err := audited(t, s, func(tx store.Tx) error { return st.fn(tx.Bulk()) })
		if st.wantOK && err != nil {
			t.Errorf("%s: %v", st.name, err)
		}
		if !st.wantOK && !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: err = %v, want a conflict", st.name, err)
		}
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Bulk().RevokeMany([]string{bh}, 1, t0) }); !errors.Is(err, store.ErrUnaudited) {
		t.Errorf("unaudited bulk revocation: err = %v, want ErrUnaudited", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		for serial, want := range map[*big.Int]int{a: 1, b: 6} {
			c, err := tx.Certificates().GetCert(serial)
			if err != nil || c.State != ca.Revoked || c.Reason == nil || *c.Reason != want {
				t.Errorf("cert %s = %+v, %v, want revoked with reason %d", ca.SerialHex(serial), c, err, want)
			}
		}
		d1, err1 := tx.Devices().GetDevice("d1")
		d2, err2 := tx.Devices().GetDevice("d2")
		if err1 != nil || err2 != nil || d1.State != device.Suspended || d2.State != device.FactoryRevoked || !d1.UpdatedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("devices = %+v, %+v (%v, %v)", d1, d2, err1, err2)
		}
		items, err := tx.Revocations().ListItems("r1", "", 10)
		if err != nil || len(items) != 2 {
			t.Errorf("items = %+v, %v, want two", items, err)
		}
		return nil
	})
}

// issuedTo is issued for a certificate of device dev with the given profile.
func issuedTo(t *testing.T, s store.Store, serial *big.Int, dev, profile string) {
	t.Helper()
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: "ca1", DeviceID: dev, Profile: profile, TBS: []byte{1}, NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0})
	})
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().MarkIssued(serial, []byte{2}, t0) }); err != nil {
		t.Fatal(err)
	}
}

// setOperationalCert makes serial (hex) the operational certificate device dev's row names.
func setOperationalCert(t *testing.T, s store.Store, dev, serial string) {
	t.Helper()
	if err := audited(t, s, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(dev)
		if err != nil {
			return err
		}
		next := d
		next.OperationalCert = serial
		return tx.Devices().UpdateDevice(next, d)
	}); err != nil {
		t.Fatal(err)
	}
}

// testDeviceTargetsOwnOperational: DeviceTargets takes as a device's operational certificate
// only an operational certificate of that device. A row naming another device's certificate,
// its own factory certificate, a certificate of no device or a serial the store does not hold
// is refused with ErrNotFound naming the device and the certificate, never read as live.
func testDeviceTargetsOwnOperational(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3")
	own, other, factory, orphan := big.NewInt(0xc1), big.NewInt(0xc2), big.NewInt(0xc3), big.NewInt(0xc4)
	issuedTo(t, s, own, "d1", "operational")
	issuedTo(t, s, other, "d2", "operational")
	issuedTo(t, s, factory, "d3", "factory")
	issued(t, s, orphan) // a certificate of no device
	setOperationalCert(t, s, "d1", ca.SerialHex(own))
	targets := func(ids ...string) ([]store.DeviceTarget, error) {
		var out []store.DeviceTarget
		err := s.View(ctx, func(tx store.Tx) (err error) { out, err = tx.Bulk().DeviceTargets(ids); return err })
		return out, err
	}
	got, err := targets("d1", "d2", "d3")
	if err != nil || len(got) != 3 {
		t.Fatalf("targets = %+v, %v; want three", got, err)
	}
	for _, g := range got {
		if g.Device.ID == "d1" && (g.OperationalState != ca.Issued || !g.OperationalNotAfter.Equal(t0.Add(time.Hour))) {
			t.Fatalf("d1 = %+v; want its issued operational certificate", g)
		}
	}
	for _, tc := range []struct {
		name, dev, serial, msg string
	}{
		{"another device's operational certificate", "d3", ca.SerialHex(other), `device "d2"`},
		{"its own factory certificate", "d3", ca.SerialHex(factory), "factory certificate"},
		{"a certificate of no device", "d2", ca.SerialHex(orphan), `device ""`},
		{"a serial the store does not hold", "d2", "dead", "operational certificate dead of device d2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setOperationalCert(t, s, tc.dev, tc.serial)
			defer setOperationalCert(t, s, tc.dev, "")
			got, err := targets("d1", tc.dev)
			if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), tc.serial) || !strings.Contains(err.Error(), tc.dev) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("targets = %+v, %v; want ErrNotFound naming %s, %s and %q", got, err, tc.dev, tc.serial, tc.msg)
			}
		})
	}
}

// testDevicesExpiringOwnOperational: the devices list filtered by ExpiringBefore keeps a
// device by its own operational certificate only. A device whose row names another device's
// expiring operational certificate, or its own expiring factory certificate, is not listed as
// expiring; the device owning the certificate is.
func testDevicesExpiringOwnOperational(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3")
	own, factory := big.NewInt(0xd1), big.NewInt(0xd3)
	issuedTo(t, s, own, "d1", "operational") // ends at t0+1h
	issuedTo(t, s, factory, "d3", "factory")
	setOperationalCert(t, s, "d1", ca.SerialHex(own))
	setOperationalCert(t, s, "d2", ca.SerialHex(own))
	setOperationalCert(t, s, "d3", ca.SerialHex(factory))
	for _, tc := range []struct {
		name string
		f    store.DeviceFilter
	}{
		{"every device", store.DeviceFilter{ExpiringBefore: t0.Add(2 * time.Hour)}},
		{"a manufacturer's", store.DeviceFilter{ExpiringBefore: t0.Add(2 * time.Hour), ManufacturerID: "acme"}},
		{"visible to a party", store.DeviceFilter{ExpiringBefore: t0.Add(2 * time.Hour), VisibleTo: "acme"}},
	} {
		var got []string
		if err := s.View(ctx, func(tx store.Tx) error {
			got = nil // a read may run again
			l, err := tx.Devices().ListDevices(tc.f)
			for _, d := range l {
				got = append(got, d.ID)
			}
			return err
		}); err != nil || len(got) != 1 || got[0] != "d1" {
			t.Errorf("%s expiring before t0+2h: %v, %v; want d1 alone", tc.name, got, err)
		}
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if l, err := tx.Devices().ListDevices(store.DeviceFilter{ExpiringBefore: t0.Add(time.Hour)}); err != nil || len(l) != 0 {
			t.Errorf("expiring before t0+1h: %+v, %v; want none (d1's certificate ends at t0+1h)", l, err)
		}
		return nil
	})
}
