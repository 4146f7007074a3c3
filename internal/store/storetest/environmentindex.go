package storetest

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// The index devices_environment holds onboarded devices only (migration 0032): a factory
// device, whose environment_id is empty, is not in it. These tests check that what is looked
// up by environment is still found whole, page by page, on a fresh store and on one upgraded
// from before 0032.

var environmentIndexTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"DevicesByEnvironmentPaged", testDevicesByEnvironment},
}

// pagedDeviceIDs lists the devices of filter f page by page (f.Limit a page, at most 20
// pages) and returns their ids in order, separated by spaces.
func pagedDeviceIDs(t *testing.T, s store.Store, f store.DeviceFilter) string {
	t.Helper()
	var ids []string
	_ = s.View(ctx, func(tx store.Tx) error {
		ids = nil // a read may run again, from the first page
		page := f
		for range 20 {
			l, err := tx.Devices().ListDevices(page)
			if err != nil {
				t.Errorf("ListDevices(%+v): %v", page, err)
				return nil
			}
			for _, d := range l {
				ids = append(ids, d.ID)
			}
			if len(l) < page.Limit {
				return nil
			}
			page.After = l[len(l)-1].ID
		}
		t.Errorf("ListDevices(%+v) never ended", page)
		return nil
	})
	return strings.Join(ids, " ")
}

// moveDevice puts device id in environment env (empty: none) with custodian and state.
func moveDevice(t *testing.T, s store.Store, id, env, custodian string, state device.State) {
	t.Helper()
	mustUpdate(t, s, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(id)
		if err != nil {
			return err
		}
		next := d
		next.EnvironmentID, next.CustodianID, next.State = env, custodian, state
		if err := tx.Devices().UpdateDevice(next, d); err != nil {
			return err
		}
		_, err = tx.Audit().Append(ev("device.onboard"))
		return err
	})
}

// testDevicesByEnvironment: factory devices (no environment) are never listed by environment;
// onboarded ones are, in id order across pages, with the other filters; a device that leaves
// its environment leaves the list.
func testDevicesByEnvironment(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3", "d4", "d5", "d6", "d7")
	seedParty(t, s, "op", party.Operator)
	moveDevice(t, s, "d2", "env_a", "op", device.Active)
	moveDevice(t, s, "d3", "env_b", "op", device.Active)
	moveDevice(t, s, "d5", "env_a", "op", device.Suspended)
	moveDevice(t, s, "d6", "env_a", "op", device.Active)
	for _, tc := range []struct {
		f    store.DeviceFilter
		want string
	}{
		{store.DeviceFilter{EnvironmentID: "env_a", Limit: 1}, "d2 d5 d6"},
		{store.DeviceFilter{EnvironmentID: "env_a", Limit: 2}, "d2 d5 d6"},
		{store.DeviceFilter{EnvironmentID: "env_a", State: device.Active, Limit: 1}, "d2 d6"},
		{store.DeviceFilter{EnvironmentID: "env_a", CustodianID: "op", LotID: "l1", Limit: 5}, "d2 d5 d6"},
		{store.DeviceFilter{EnvironmentID: "env_a", VisibleTo: "op", Limit: 2}, "d2 d5 d6"},
		{store.DeviceFilter{EnvironmentID: "env_a", VisibleTo: "acme", Limit: 2}, "d2 d5 d6"},
		{store.DeviceFilter{EnvironmentID: "env_b", Limit: 5}, "d3"},
		{store.DeviceFilter{EnvironmentID: "env_none", Limit: 5}, ""},
		// No environment filter: the factory devices are all there.
		{store.DeviceFilter{State: device.Registered, Limit: 2}, "d1 d4 d7"},
	} {
		if got := pagedDeviceIDs(t, s, tc.f); got != tc.want {
			t.Errorf("pages of %+v = %q, want %q", tc.f, got, tc.want)
		}
	}
	// d6 leaves env_a (its environment is cleared): it is no longer listed there.
	moveDevice(t, s, "d6", "", "op", device.Registered)
	if got := pagedDeviceIDs(t, s, store.DeviceFilter{EnvironmentID: "env_a", Limit: 2}); got != "d2 d5" {
		t.Errorf("env_a after d6 left = %q, want %q", got, "d2 d5")
	}
}

// SeedBeforeEnvironmentIndex writes, into a database migrated to just before 0032, a lot of
// four devices: d1 and d4 still factory devices (no environment), d2 and d3 onboarded into
// environment env_a by operator op. ph is the dialect's first placeholder ("?" or "$1").
func SeedBeforeEnvironmentIndex(t *testing.T, db *sql.DB, ph string) {
	t.Helper()
	execSeed(t, db, ph, []seedStmt{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('mfr', 'Mfr', 'manufacturer', 1)`, nil},
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('op', 'Op', 'operator', 1)`, nil},
		{`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca1', 'mfr', 'manufacturing', 'issuing', 'ca', 'k', ?, 1)`, SelfSignedForTest(t)},
		{`INSERT INTO models (id, manufacturer_id, name, hardware_type, created_at) VALUES ('m1', 'mfr', 'm', '1.2.3', 1)`, nil},
		{`INSERT INTO lots (id, manufacturer_id, model_id, name, line, issuing_ca_id, created_at) VALUES ('l1', 'mfr', 'm1', 'l', 'line', 'ca1', 1)`, nil},
		{`INSERT INTO devices (id, manufacturer_id, model_id, lot_id, serial, state, custodian_id, factory_cert, created_at, updated_at, environment_id, operational_cert)
  VALUES ('d1', 'mfr', 'm1', 'l1', 'SN-1', 'registered', 'mfr', '', 1, 1, '', ''), ('d2', 'mfr', 'm1', 'l1', 'SN-2', 'active', 'op', '', 1, 1, 'env_a', ''),
         ('d3', 'mfr', 'm1', 'l1', 'SN-3', 'active', 'op', '', 1, 1, 'env_a', ''), ('d4', 'mfr', 'm1', 'l1', 'SN-4', 'registered', 'mfr', '', 1, 1, '', '')`, nil},
	})
}

// CheckEnvironmentIndexUpgrade checks a store opened on what SeedBeforeEnvironmentIndex wrote:
// the onboarded devices are listed by their environment, the factory devices are all still
// there, and a device onboarded after the upgrade joins its environment's list.
func CheckEnvironmentIndexUpgrade(t *testing.T, s store.Store) {
	t.Helper()
	if got := pagedDeviceIDs(t, s, store.DeviceFilter{EnvironmentID: "env_a", Limit: 1}); got != "d2 d3" {
		t.Errorf("env_a after the upgrade = %q, want %q", got, "d2 d3")
	}
	if got := pagedDeviceIDs(t, s, store.DeviceFilter{LotID: "l1", State: device.Registered, Limit: 5}); got != "d1 d4" {
		t.Errorf("factory devices after the upgrade = %q, want %q", got, "d1 d4")
	}
	moveDevice(t, s, "d4", "env_a", "op", device.Active)
	if got := pagedDeviceIDs(t, s, store.DeviceFilter{EnvironmentID: "env_a", Limit: 2}); got != "d2 d3 d4" {
		t.Errorf("env_a after d4's onboarding = %q, want %q", got, "d2 d3 d4")
	}
}
