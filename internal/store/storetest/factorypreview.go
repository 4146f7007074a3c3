package storetest

import (
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/store"
)

var factoryPreviewTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"FactoryPreviewMatchesTheDryRun", testFactoryPreview},
	{"FactoryPreviewRefusesWhatTheRunRefuses", testFactoryPreviewRefusesWhatTheRunRefuses},
}

// testFactoryPreview: the counted dry run (Certificates.FactoryPreview) gives the counts of
// the whole dry run (FactoryCerts, then DeviceTargets, with the revocation's rule) and the
// start of its lists, on a lot whose devices are in several states and environments.
func testFactoryPreview(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8")
	at := t0.Add(30 * time.Minute)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Catalog().CreateLot(deviceLot("l2", "ca1")); err != nil {
			return err
		}
		if err := tx.Devices().CreateDevice(device.Device{ID: "x1", ManufacturerID: "acme", ModelID: "m1", LotID: "l2", Serial: "SN-X1", State: device.Registered, CustodianID: "acme", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("device.create"))
		return err
	})
	cert := func(serial int64, dev, profile string, notAfter time.Time, issue bool) string {
		t.Helper()
		n := big.NewInt(serial)
		mustUpdate(t, s, func(tx store.Tx) error {
			return tx.Certificates().Reserve(ca.Cert{Serial: n, CAID: "ca1", DeviceID: dev, Profile: profile, TBS: []byte{1}, NotBefore: t0, NotAfter: notAfter, CreatedAt: t0})
		})
		if issue {
			if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().MarkIssued(n, []byte{2}, t0) }); err != nil {
				t.Fatal(err)
			}
		}
		return ca.SerialHex(n)
	}
	place := func(dev, env, op string) {
		t.Helper()
		if err := audited(t, s, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(dev)
			if err != nil {
				return err
			}
			next := d
			next.EnvironmentID, next.OperationalCert, next.State = env, op, device.Active
			return tx.Devices().UpdateDevice(next, d)
		}); err != nil {
			t.Fatal(err)
		}
	}
	live, ended := t0.Add(time.Hour), t0.Add(10*time.Minute)
	// Factory certificates, serials interleaved across devices so that serial order is not
	// device order.
	for i, dev := range []string{"d1", "d2", "d3", "d4", "d5", "d6", "d7", "x1"} {
		cert(int64(0x1000+0x10*(7-i)), dev, "factory", live, true)
	}
	cert(0x1001, "d7", "factory", live, true) // d7 has two issued factory certificates
	cert(0x1002, "d8", "factory", live, false)
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(big.NewInt(0x1000+0x10*3), 1, t0) }); err != nil { // d5's
		t.Fatal(err)
	}
	place("d1", "e1", cert(0x2001, "d1", "operational", live, true))
	place("d2", "e2", cert(0x2002, "d2", "operational", live, true))
	place("d3", "e1", cert(0x2003, "d3", "operational", ended, true)) // ended before at
	held := cert(0x2004, "d4", "operational", live, true)
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(big.NewInt(0x2004), 6, t0) }); err != nil {
		t.Fatal(err)
	}
	place("d4", "e2", held)
	place("d5", "e1", cert(0x2005, "d5", "operational", live, true)) // its factory certificate is revoked already
	place("d6", "", "")                                              // no operational identity
	place("d7", "e1", cert(0x2007, "d7", "operational", live, true))
	place("x1", "e1", cert(0x2008, "x1", "operational", live, true)) // another lot

	byLot := store.FactorySelector{ManufacturerID: "acme", LotID: "l1"}
	got := preview(t, s, byLot, at, 10000)
	// d7's two factory certificates suspend its operational certificate once.
	want := store.FactoryPreview{Revoke: 7, Skipped: 1, Suspend: map[string]int{"e1": 2, "e2": 1}}
	if got.Revoke != want.Revoke || got.Skipped != want.Skipped || !reflect.DeepEqual(got.Suspend, want.Suspend) {
		t.Fatalf("lot preview counts = %d to revoke, %d skipped, %v suspended; want %d, %d, %v", got.Revoke, got.Skipped, got.Suspend, want.Revoke, want.Skipped, want.Suspend)
	}
	for _, sel := range []store.FactorySelector{
		byLot,
		{ManufacturerID: "acme", IssuingCAID: "ca1"},
		{ManufacturerID: "acme", DeviceID: "d7"},
		{ManufacturerID: "acme", Line: "a", IssuedFrom: t0, IssuedTo: t0.Add(time.Second)},
		{ManufacturerID: "acme", LotID: "l1", DeviceID: "d8"}, // nothing issued
		{ManufacturerID: "globex", LotID: "l1"},               // another maker's selection: nothing
	} {
		full := fullDryRun(t, s, sel, at)
		for _, limit := range []int{1, 2, 10000} {
			got := preview(t, s, sel, at, limit)
			if got.Revoke != len(full.Factory) || got.Skipped != full.Skipped || !reflect.DeepEqual(got.Suspend, full.Suspend) {
				t.Errorf("%+v limit %d: counts %d, %d, %v; the dry run's %d, %d, %v", sel, limit, got.Revoke, got.Skipped, got.Suspend, len(full.Factory), full.Skipped, full.Suspend)
			}
			if w := full.Factory[:min(limit, len(full.Factory))]; !reflect.DeepEqual(got.Factory, w) {
				t.Errorf("%+v limit %d: factory %+v, want %+v", sel, limit, got.Factory, w)
			}
			if w := firstPerEnvironment(full.Suspended, limit); !reflect.DeepEqual(got.Suspended, w) {
				t.Errorf("%+v limit %d: suspended %+v, want %+v", sel, limit, got.Suspended, w)
			}
		}
	}
}

func preview(t *testing.T, s store.Store, sel store.FactorySelector, at time.Time, limit int) store.FactoryPreview {
	t.Helper()
	var p store.FactoryPreview
	if err := s.View(ctx, func(tx store.Tx) (err error) { p, err = tx.Certificates().FactoryPreview(sel, at, limit); return err }); err != nil {
		t.Fatalf("FactoryPreview(%+v): %v", sel, err)
	}
	return p
}

// fullDryRun is the manufacturing revocation's dry run, row by row: every selected factory
// certificate that is issued is revoked; its device's operational certificate, when issued and
// unexpired, is suspended, once (at the device's first issued factory certificate).
func fullDryRun(t *testing.T, s store.Store, sel store.FactorySelector, at time.Time) store.FactoryPreview {
	t.Helper()
	out, err := dryRun(s, sel, at)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dryRun is fullDryRun returning its error. Like the revocation, it reads through DeviceTargets
// only the devices of issued factory certificates, and fails where DeviceTargets refuses one.
func dryRun(s store.Store, sel store.FactorySelector, at time.Time) (store.FactoryPreview, error) {
	var out store.FactoryPreview
	err := s.View(ctx, func(tx store.Tx) error {
		// A read may run again: it counts from nothing each time.
		out = store.FactoryPreview{Suspend: map[string]int{}, Factory: []store.FactoryCert{}, Suspended: []store.Suspension{}}
		fs, err := tx.Certificates().FactoryCerts(sel, "", 10000)
		if err != nil {
			return err
		}
		var ids []string
		for _, f := range fs {
			if f.State == ca.Issued {
				ids = append(ids, f.DeviceID)
			}
		}
		targets, err := tx.Bulk().DeviceTargets(ids)
		if err != nil {
			return err
		}
		byID := map[string]store.DeviceTarget{}
		for _, d := range targets {
			byID[d.Device.ID] = d
		}
		held := map[string]bool{}
		for _, f := range fs {
			if f.State != ca.Issued {
				out.Skipped++
				continue
			}
			out.Factory = append(out.Factory, f)
			d := byID[f.DeviceID]
			if d.Device.OperationalCert != "" && d.OperationalState == ca.Issued && at.Before(d.OperationalNotAfter) && !held[d.Device.ID] {
				held[d.Device.ID] = true
				out.Suspended = append(out.Suspended, store.Suspension{DeviceID: d.Device.ID, Serial: d.Device.OperationalCert, Environment: d.Device.EnvironmentID})
				out.Suspend[d.Device.EnvironmentID]++
			}
		}
		return nil
	})
	return out, err
}

// firstPerEnvironment keeps the first limit suspensions of each environment, in order.
func firstPerEnvironment(ss []store.Suspension, limit int) []store.Suspension {
	out := []store.Suspension{}
	seen := map[string]int{}
	for _, x := range ss {
		if seen[x.Environment] < limit {
			seen[x.Environment]++
			out = append(out, x)
		}
	}
	return out
}

// testFactoryPreviewRefusesWhatTheRunRefuses: a manufacturing revocation reads the devices of
// its issued factory certificates through DeviceTargets, which refuses a device whose row names
// an operational certificate that is not its own operational certificate; the run stops there.
// The counted preview says so too (ErrNotFound naming the device and what the store holds)
// rather than count the device as one to suspend, or as one with nothing to suspend. A device
// whose selected factory certificates are all revoked already is not read by the run, and the
// preview does not refuse it either.
func testFactoryPreviewRefusesWhatTheRunRefuses(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3")
	f1, f2, f3 := big.NewInt(0x1001), big.NewInt(0x1002), big.NewInt(0x1003)
	o1 := big.NewInt(0x2001)
	issuedTo(t, s, f1, "d1", "factory")
	issuedTo(t, s, f2, "d2", "factory")
	issuedTo(t, s, f3, "d3", "factory")
	issuedTo(t, s, o1, "d1", "operational")
	setOperationalCert(t, s, "d1", ca.SerialHex(o1))
	byLot := store.FactorySelector{ManufacturerID: "acme", LotID: "l1"}
	at := t0.Add(30 * time.Minute)
	if got := preview(t, s, byLot, at, 10); got.Revoke != 3 || !reflect.DeepEqual(got.Suspend, map[string]int{"": 1}) {
		t.Fatalf("consistent lot: preview %+v; want 3 to revoke, d1 suspended", got)
	}
	for _, tc := range []struct {
		name, dev, serial, msg string
	}{
		{"its own factory certificate", "d2", ca.SerialHex(f2), "factory certificate"},
		{"another device's operational certificate", "d3", ca.SerialHex(o1), `device "d1"`},
		{"a serial the store does not hold", "d2", "dead", "operational certificate dead of device d2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setOperationalCert(t, s, tc.dev, tc.serial)
			defer setOperationalCert(t, s, tc.dev, "")
			if _, err := dryRun(s, byLot, at); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the dry run = %v; want ErrNotFound (DeviceTargets refuses %s)", err, tc.dev)
			}
			for _, sel := range []store.FactorySelector{byLot, {ManufacturerID: "acme", DeviceID: tc.dev}, {ManufacturerID: "acme", IssuingCAID: "ca1"}} {
				var p store.FactoryPreview
				err := s.View(ctx, func(tx store.Tx) (err error) { p, err = tx.Certificates().FactoryPreview(sel, at, 10); return err })
				if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), tc.dev) || !strings.Contains(err.Error(), tc.serial) || !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("%+v: preview = %+v, %v; want ErrNotFound naming %s, %s and %q", sel, p, err, tc.dev, tc.serial, tc.msg)
				}
			}
			// The device outside the selection does not stop it.
			if got := preview(t, s, store.FactorySelector{ManufacturerID: "acme", DeviceID: "d1"}, at, 10); got.Revoke != 1 || !reflect.DeepEqual(got.Suspend, map[string]int{"": 1}) {
				t.Errorf("d1 alone: preview %+v; want 1 to revoke, 1 to suspend", got)
			}
		})
	}
	// d2's factory certificate revoked already: the run skips it without reading d2.
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(f2, 1, t0) }); err != nil {
		t.Fatal(err)
	}
	setOperationalCert(t, s, "d2", ca.SerialHex(f2))
	full, err := dryRun(s, byLot, at)
	if err != nil {
		t.Fatalf("the dry run with d2's factory certificate revoked: %v", err)
	}
	got := preview(t, s, byLot, at, 10)
	if got.Revoke != 2 || got.Skipped != 1 || !reflect.DeepEqual(got.Suspend, full.Suspend) || !reflect.DeepEqual(got.Factory, full.Factory) || !reflect.DeepEqual(got.Suspended, full.Suspended) {
		t.Errorf("preview with d2's factory certificate revoked = %+v; the dry run's %+v", got, full)
	}
}
