package manufacturing_test

import (
	"errors"
	"math/big"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestRevokeFactory: a dry run (the default) lists and changes nothing; a run revokes the
// selected factory certificates and records its cascade; a re-run skips what is revoked.
func TestRevokeFactory(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, false)
	fis := []manufacturing.FactoryIdentity{w.issue(t, "alice", l, "SN-1"), w.issue(t, "alice", l, "SN-2"), w.issue(t, "alice", l, "SN-3")}
	byLot := store.FactorySelector{ManufacturerID: "acme", LotID: l.lot.ID}

	before := w.events(t)
	res, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise"})
	if err != nil || !res.DryRun || len(res.Factory) != 3 || res.RunID != "" {
		t.Fatalf("dry run = %+v, %v; want 3 listed, no run", res, err)
	}
	if got := w.events(t); got != before {
		t.Fatalf("a dry run appended %d audit events", got-before)
	}
	for _, fi := range fis {
		if s := w.certState(t, fi.Device.FactoryCert); s != ca.Issued {
			t.Fatalf("after a dry run %s is %s", fi.Device.Serial, s)
		}
	}

	no := false
	res, err = w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "acme", DeviceID: fis[0].Device.ID}, Reason: "keyCompromise", DryRun: &no})
	if err != nil || res.DryRun || len(res.Factory) != 1 || res.RunID == "" {
		t.Fatalf("revoking one device = %+v, %v", res, err)
	}
	if s := w.certState(t, fis[0].Device.FactoryCert); s != ca.Revoked {
		t.Fatalf("the revoked factory certificate is %s", s)
	}
	if d := w.device(t, fis[0].Device.ID); d.State != device.FactoryRevoked {
		t.Fatalf("the device is %s, want %s", d.State, device.FactoryRevoked)
	}
	run, items, err := w.svc.Cascade(ctx, w.actors["alice"], res.RunID)
	if err != nil || run.ManufacturerID != "acme" || run.FinishedAt == nil || len(items) != 1 || items[0].Action != "factory-revoked" {
		t.Fatalf("cascade of the run: %+v, %+v, %v", run, items, err)
	}
	if _, _, err := w.svc.Cascade(ctx, w.actors["oscar"], res.RunID); !failure.Is(err, failure.NotFound) {
		t.Fatalf("op read acme's revocation run: %v", err)
	}

	res, err = w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: byLot, Reason: "cessationOfOperation", DryRun: &no})
	if err != nil || len(res.Factory) != 2 || res.Skipped != 1 {
		t.Fatalf("revoking the lot = %d revoked, %d skipped, %v; want 2 and 1", len(res.Factory), res.Skipped, err)
	}
	res, err = w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: byLot, Reason: "cessationOfOperation", DryRun: &no})
	if err != nil || len(res.Factory) != 0 || res.Skipped != 3 {
		t.Fatalf("re-running = %d revoked, %d skipped, %v; want 0 and 3", len(res.Factory), res.Skipped, err)
	}
}

// TestRevokeFactoryRefusals: reasons outside the manufacturing path, empty or inverted
// selectors, other makers and a delegate without the revoke duty are refused; a whole-CA
// revocation only files an approval request.
func TestRevokeFactoryRefusals(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, true)
	fi := w.issue(t, "cindy", l, "SN-1")
	no := false
	byLot := store.FactorySelector{ManufacturerID: "acme", LotID: l.lot.ID}
	before := w.events(t)
	var denied *ownership.DeniedError
	for _, tc := range []struct {
		name string
		who  string
		req  manufacturing.RevokeRequest
		kind failure.Kind
		msg  string
	}{
		{"support-path reason", "bob", manufacturing.RevokeRequest{Selector: byLot, Reason: "privilegeWithdrawn", DryRun: &no}, failure.Invalid, "privilegeWithdrawn"},
		{"no manufacturer", "bob", manufacturing.RevokeRequest{Selector: store.FactorySelector{LotID: l.lot.ID}, Reason: "keyCompromise"}, failure.Invalid, "manufacturer_id is required"},
		{"every device of a maker", "bob", manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "acme"}, Reason: "keyCompromise"}, failure.Invalid, "issuing-CA revocation"},
		{"inverted window", "bob", manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "acme", IssuedFrom: w.now, IssuedTo: w.now.Add(-time.Hour)}, Reason: "keyCompromise"}, failure.Invalid, "before issued_to"},
		// A maker that may not see acme's lot is told it does not exist, whatever the selector.
		{"another maker", "gina", manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise", DryRun: &no}, failure.NotFound, "lot " + l.lot.ID + ": not found"},
		{"another maker's selector", "gina", manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "globex", LotID: l.lot.ID}, Reason: "keyCompromise"}, failure.NotFound, "lot " + l.lot.ID + ": not found"},
		{"a selector naming another maker", "bob", manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "globex", LotID: l.lot.ID}, Reason: "keyCompromise"}, failure.Invalid, "is not a lot of globex"},
		{"issue delegate", "cindy", manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise", DryRun: &no}, failure.Denied, "manufacturing/revoke"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.svc.RevokeFactory(ctx, w.actors[tc.who], tc.req)
			wantErr(t, err, tc.kind, tc.msg)
			if tc.kind == failure.Denied && !errors.As(err, &denied) {
				t.Fatalf("%v is not a not-owner refusal", err)
			}
		})
	}
	if got := w.events(t); got != before {
		t.Fatalf("refused revocations appended %d audit events", got-before)
	}

	res, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "acme", IssuingCAID: l.issuing.ID}, Reason: "caCompromise", DryRun: &no})
	if err != nil || res.Approval == nil || res.Approval.Kind != approval.RevokeCA || res.Approval.State != approval.Pending || res.RunID != "" || len(res.Factory) != 0 {
		t.Fatalf("whole-CA revocation = %+v, %v; want a pending revoke-ca approval and nothing revoked", res, err)
	}
	again, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "acme", IssuingCAID: l.issuing.ID}, Reason: "caCompromise", DryRun: &no})
	if err != nil || again.Approval == nil || again.Approval.ID != res.Approval.ID {
		t.Fatalf("asking again = %+v, %v; want the same pending request", again, err)
	}
	if s := w.certState(t, fi.Device.FactoryCert); s != ca.Issued {
		t.Fatalf("the factory certificate is %s before any approval", s)
	}
}

// TestRevokeFactoryLimit: a dry run with a limit lists the start of the whole dry run's lists
// with its counts; a limit out of range, or on a revocation that is not a dry run, is refused
// and changes nothing.
func TestRevokeFactoryLimit(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, false)
	fis := []manufacturing.FactoryIdentity{w.issue(t, "alice", l, "SN-1"), w.issue(t, "alice", l, "SN-2"), w.issue(t, "alice", l, "SN-3"), w.issue(t, "alice", l, "SN-4")}
	byLot := store.FactorySelector{ManufacturerID: "acme", LotID: l.lot.ID}
	no := false
	if _, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: store.FactorySelector{ManufacturerID: "acme", DeviceID: fis[2].Device.ID}, Reason: "keyCompromise", DryRun: &no}); err != nil {
		t.Fatal(err)
	}
	full, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise"})
	if err != nil || len(full.Factory) != 3 || full.Skipped != 1 || full.Counts.Factory != 3 || full.Counts.Suspended != 0 || full.Counts.Environments == nil {
		t.Fatalf("full dry run = %+v, %v; want 3 to revoke, 1 already revoked, counted", full, err)
	}
	for _, limit := range []int{1, 2, 3, 100} {
		got, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise", Limit: limit})
		if err != nil || !got.DryRun || got.Counts.Factory != full.Counts.Factory || got.Counts.Suspended != full.Counts.Suspended || got.Skipped != full.Skipped ||
			!slices.Equal(got.Factory, full.Factory[:min(limit, len(full.Factory))]) || len(got.Suspended) != 0 || got.Reason != full.Reason {
			t.Fatalf("limit %d: %+v, %v; want the first of %+v", limit, got, err, full)
		}
	}
	before := w.events(t)
	for _, tc := range []struct {
		name string
		req  manufacturing.RevokeRequest
		msg  string
	}{
		{"negative", manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise", Limit: -1}, "limit must be between"},
		{"too large", manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise", Limit: manufacturing.MaxRevokeLimit + 1}, "limit must be between"},
		{"not a dry run", manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise", Limit: 10, DryRun: &no}, "dry run only"},
	} {
		_, err := w.svc.RevokeFactory(ctx, w.actors["bob"], tc.req)
		wantErr(t, err, failure.Invalid, tc.msg)
	}
	if got := w.events(t); got != before {
		t.Fatalf("refused limits appended %d audit events", got-before)
	}
	if s := w.certState(t, fis[0].Device.FactoryCert); s != ca.Issued {
		t.Fatalf("after refused limits the factory certificate is %s", s)
	}
	// The limit goes through the same authorisation as every revocation.
	_, err = w.svc.RevokeFactory(ctx, w.actors["gina"], manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise", Limit: 1})
	wantErr(t, err, failure.NotFound, "lot "+l.lot.ID+": not found")
}

// TestRevokeFactoryTwoFactoryCertificates: a device with two issued factory certificates has
// its operational identity suspended once, whether its two certificates fall in one chunk, in
// two chunks or in two selection pages; the dry run lists exactly what the run then does,
// and the counted dry run (a limit) counts the same.
func TestRevokeFactoryTwoFactoryCertificates(t *testing.T) {
	for _, tc := range []struct {
		name        string
		chunk, page int
	}{
		{"one chunk", 0, 0},
		{"one certificate a chunk", 1, 0},
		{"two certificates a chunk", 2, 0},
		{"one certificate a page", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			manufacturing.SetRevocationPages(w.svc, tc.chunk, tc.page)
			l := w.line(t, false)
			fis := []manufacturing.FactoryIdentity{w.issue(t, "alice", l, "SN-1"), w.issue(t, "alice", l, "SN-2"), w.issue(t, "alice", l, "SN-3")}
			// SN-1 and SN-2 have live operational identities; SN-1 has a second issued
			// factory certificate (a record from before repairs revoked the one they replace).
			w.storeCert(t, l, fis[0].Device.ID, 0xf1, "factory")
			w.operate(t, fis[0].Device.ID, "env-a", w.storeCert(t, l, fis[0].Device.ID, 0xf2, "operational"))
			w.operate(t, fis[1].Device.ID, "env-b", w.storeCert(t, l, fis[1].Device.ID, 0xf3, "operational"))
			byLot := store.FactorySelector{ManufacturerID: "acme", LotID: l.lot.ID}

			dry, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise"})
			if err != nil || len(dry.Factory) != 4 || len(dry.Suspended) != 2 || dry.Counts.Suspended != 2 {
				t.Fatalf("dry run = %+v, %v; want 4 factory certificates and 2 suspensions", dry, err)
			}
			if dry.Suspended[0].DeviceID == dry.Suspended[1].DeviceID {
				t.Fatalf("the dry run suspends %s twice: %+v", dry.Suspended[0].DeviceID, dry.Suspended)
			}
			counted, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise", Limit: 100})
			if err != nil || !reflect.DeepEqual(counted.Counts, dry.Counts) || !reflect.DeepEqual(counted.Suspended, dry.Suspended) || !reflect.DeepEqual(counted.Factory, dry.Factory) {
				t.Fatalf("counted dry run = %+v, %v; want the dry run's %+v", counted, err, dry)
			}

			no := false
			run, err := w.svc.RevokeFactory(ctx, w.actors["bob"], manufacturing.RevokeRequest{Selector: byLot, Reason: "keyCompromise", DryRun: &no})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(run.Factory, dry.Factory) || !reflect.DeepEqual(run.Suspended, dry.Suspended) || !reflect.DeepEqual(run.Counts, dry.Counts) || run.Skipped != dry.Skipped {
				t.Fatalf("the run did %+v; its dry run said %+v", run, dry)
			}
			_, items, err := w.svc.Cascade(ctx, w.actors["alice"], run.RunID)
			if err != nil {
				t.Fatal(err)
			}
			held := map[string]int{}
			for _, it := range items {
				if it.Action == "operational-suspended" {
					held[it.DeviceID]++
				}
			}
			if want := map[string]int{fis[0].Device.ID: 1, fis[1].Device.ID: 1}; !reflect.DeepEqual(held, want) {
				t.Fatalf("the cascade suspended %v, want %v", held, want)
			}
			for _, x := range dry.Suspended {
				if d := w.device(t, x.DeviceID); d.State != device.Suspended {
					t.Fatalf("device %s is %s, want %s", x.DeviceID, d.State, device.Suspended)
				}
				if s := w.certState(t, x.Serial); s != ca.Revoked {
					t.Fatalf("operational certificate %s is %s, want held", x.Serial, s)
				}
			}
			if d := w.device(t, fis[2].Device.ID); d.State != device.FactoryRevoked {
				t.Fatalf("device without an operational identity is %s, want %s", d.State, device.FactoryRevoked)
			}
		})
	}
}

// storeCert records an issued certificate of device dev under l's issuing CA straight in the
// store (its bytes are not a certificate: the revocation reads only the record).
func (w *world) storeCert(t *testing.T, l line, dev string, serial int64, profile string) string {
	t.Helper()
	n := big.NewInt(serial)
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Certificates().Reserve(ca.Cert{Serial: n, CAID: l.issuing.ID, DeviceID: dev, Profile: profile, TBS: []byte{byte(serial)}, NotBefore: w.now.Add(-time.Hour), NotAfter: w.now.Add(24 * time.Hour), CreatedAt: w.now}); err != nil {
			return err
		}
		if err := tx.Certificates().MarkIssued(n, []byte{2}, w.now); err != nil {
			return err
		}
		_, err := tx.Audit().Append(governance.Event(admin, w.now, "test.certificate", ownership.Manufacturing, "lot:"+l.lot.ID, "device:"+dev, nil))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ca.SerialHex(n)
}

// operate places device dev in environment env with operational certificate op, active.
func (w *world) operate(t *testing.T, dev, env, op string) {
	t.Helper()
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(dev)
		if err != nil {
			return err
		}
		next := d
		next.EnvironmentID, next.OperationalCert, next.State = env, op, device.Active
		if err := tx.Devices().UpdateDevice(next, d); err != nil {
			return err
		}
		_, err = tx.Audit().Append(governance.Event(admin, w.now, "test.operate", ownership.Manufacturing, "device:"+dev, "device:"+dev, nil))
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
