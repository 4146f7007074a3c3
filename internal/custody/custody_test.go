package custody_test

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/custody"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

	fab  = audit.Actor{PartyID: "fab", PrincipalID: "station"}
	dist = audit.Actor{PartyID: "dist", PrincipalID: "dana"}
	op   = audit.Actor{PartyID: "op", PrincipalID: "oscar"}
)

// world is a SQLite store where fab holds d1…d5 of lot l1 and d9 of lot l2; dist and op
// hold nothing.
func world(t *testing.T) (store.Store, *custody.Service) {
	t.Helper()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	update(t, st, func(tx store.Tx) error {
		for id, kind := range map[string]party.Kind{"fab": party.ContractManufacturer, "dist": party.Distributor, "op": party.Operator} {
			if err := tx.Parties().CreateParty(party.Party{ID: id, Name: id, Kind: kind, CreatedAt: t0}); err != nil {
				return err
			}
		}
		if err := tx.CAs().CreateCA(ca.CA{ID: "ca1", PartyID: "fab", Stage: "manufacturing", Role: ca.Root, Name: "root", KeyID: "k", CertDER: storetest.SelfSignedForTest(t), CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Catalog().CreateModel(device.Model{ID: "m1", ManufacturerID: "fab", Name: "m", HardwareType: "1.2.3", CreatedAt: t0}); err != nil {
			return err
		}
		for _, lot := range []string{"l1", "l2"} {
			if err := tx.Catalog().CreateLot(device.Lot{ID: lot, ManufacturerID: "fab", ModelID: "m1", Name: lot, Line: "a", IssuingCAID: "ca1", CreatedAt: t0}); err != nil {
				return err
			}
		}
		for _, id := range []string{"d1", "d2", "d3", "d4", "d5", "d9"} {
			lot := "l1"
			if id == "d9" {
				lot = "l2"
			}
			if err := tx.Devices().CreateDevice(device.Device{ID: id, ManufacturerID: "fab", ModelID: "m1", LotID: lot, Serial: "SN-" + id, State: device.Registered, CustodianID: "fab", CreatedAt: t0, UpdatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	return st, custody.New(st, func() time.Time { return t0 })
}

func update(t *testing.T, st store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "test", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// give hands a device to another party outside custody, as another path might.
func give(t *testing.T, st store.Store, id, to string) {
	t.Helper()
	update(t, st, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(id)
		if err != nil {
			return err
		}
		next := d
		next.CustodianID = to
		return tx.Devices().UpdateDevice(next, d)
	})
}

func holders(t *testing.T, st store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = st.View(ctx, func(tx store.Tx) error {
		ds, err := tx.Devices().ListDevices(store.DeviceFilter{})
		for _, d := range ds {
			out[d.ID] = d.CustodianID
		}
		return err
	})
	return out
}

// lastDetail is the detail of the newest audit event with this action.
func lastDetail(t *testing.T, st store.Store, action string) map[string]any {
	t.Helper()
	var d map[string]any
	_ = st.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Audit().List(0, 1000)
		for _, e := range evs {
			if e.Action == action {
				d = nil
				if err := json.Unmarshal(e.Detail, &d); err != nil {
					t.Fatal(err)
				}
			}
		}
		return err
	})
	return d
}

func TestLotOfferCountsAndPages(t *testing.T) {
	st, svc := world(t)
	give(t, st, "d3", "op")
	tr, err := svc.Offer(ctx, fab, custody.OfferRequest{To: "dist", LotID: "l1", Note: "PO 4711"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.DeviceCount != 4 || tr.State != device.Offered {
		t.Fatalf("offer = %+v, want 4 devices offered (d3 is op's)", tr)
	}
	if d := lastDetail(t, st, "custody.offer"); d["devices"] != float64(4) {
		t.Errorf("offer audit detail = %v, want devices 4", d)
	}
	b, _ := json.Marshal(tr)
	if !strings.Contains(string(b), `"device_count":4`) || strings.Contains(string(b), "device_ids") {
		t.Errorf("transfer JSON = %s, want device_count and no device_ids", b)
	}
	for _, a := range []audit.Actor{fab, dist} {
		got, err := svc.Get(ctx, a, tr.ID)
		if err != nil || got.DeviceCount != 4 {
			t.Errorf("Get as %s = %+v, %v", a.PartyID, got, err)
		}
		trs, err := svc.List(ctx, a)
		if err != nil || len(trs) != 1 || trs[0].DeviceCount != 4 {
			t.Errorf("List as %s = %+v, %v", a.PartyID, trs, err)
		}
	}

	var pages [][]string
	after := ""
	for range 4 {
		p, err := svc.Devices(ctx, dist, tr.ID, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
		if len(p) < 3 {
			break
		}
		after = p[len(p)-1]
	}
	if want := [][]string{{"d1", "d2", "d4"}, {"d5"}}; !slices.EqualFunc(pages, want, slices.Equal[[]string]) {
		t.Errorf("pages = %v, want %v", pages, want)
	}
	for _, tc := range []struct {
		name  string
		a     audit.Actor
		limit int
		kind  failure.Kind
	}{
		{"not a side", op, 0, failure.NotFound},
		{"limit too large", dist, custody.MaxPage + 1, failure.Invalid},
		{"negative limit", dist, -1, failure.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := svc.Devices(ctx, tc.a, tr.ID, "", tc.limit); !failure.Is(err, tc.kind) {
				t.Errorf("Devices = %v, want %s", err, tc.kind)
			}
		})
	}

	// The lot's devices have an open offer now; d9 of lot l2 is free.
	if _, err := svc.Offer(ctx, fab, custody.OfferRequest{To: "op", LotID: "l1"}); !failure.Is(err, failure.Conflict) {
		t.Errorf("second lot offer = %v, want conflict", err)
	}
	if _, err := svc.Offer(ctx, fab, custody.OfferRequest{To: "op", DeviceIDs: []string{"d9"}}); err != nil {
		t.Errorf("offer of d9 = %v", err)
	}

	got, err := svc.Decide(ctx, dist, tr.ID, custody.Accept)
	if err != nil || got.State != device.Accepted || got.DeviceCount != 4 {
		t.Fatalf("accept = %+v, %v", got, err)
	}
	if d := lastDetail(t, st, "custody.accept"); d["devices"] != float64(4) {
		t.Errorf("accept audit detail = %v, want devices 4", d)
	}
	want := map[string]string{"d1": "dist", "d2": "dist", "d3": "op", "d4": "dist", "d5": "dist", "d9": "fab"}
	if h := holders(t, st); !maps.Equal(h, want) {
		t.Errorf("holders after accepting = %v, want %v", h, want)
	}
}

func TestLotOfferOfNothingHeld(t *testing.T) {
	st, svc := world(t)
	_, err := svc.Offer(ctx, dist, custody.OfferRequest{To: "op", LotID: "l1"})
	if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), "party dist holds no device of lot l1") {
		t.Fatalf("offer of a lot holding none = %v, want invalid naming the lot", err)
	}
	if _, err := svc.Offer(ctx, fab, custody.OfferRequest{To: "op", LotID: "nope"}); !failure.Is(err, failure.NotFound) {
		t.Errorf("offer of an unknown lot = %v, want not found", err)
	}
	if trs, err := svc.List(ctx, dist); err != nil || len(trs) != 0 {
		t.Errorf("transfers after refused offers = %+v, %v", trs, err)
	}
	if d := lastDetail(t, st, "custody.offer"); d != nil {
		t.Errorf("a refused offer was audited: %v", d)
	}
}

func TestAcceptNamesDeviceNoLongerHeld(t *testing.T) {
	for _, tc := range []struct {
		name, to, want string
	}{
		{"held by a third party", "op", "device d4 is no longer held by fab"},
		{"held by the receiver already", "dist", "some devices of transfer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, svc := world(t)
			tr, err := svc.Offer(ctx, fab, custody.OfferRequest{To: "dist", LotID: "l1"})
			if err != nil || tr.DeviceCount != 5 {
				t.Fatalf("offer = %+v, %v", tr, err)
			}
			give(t, st, "d4", tc.to)
			before := holders(t, st)
			_, err = svc.Decide(ctx, dist, tr.ID, custody.Accept)
			if !failure.Is(err, failure.Conflict) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("accept = %v, want conflict %q", err, tc.want)
			}
			if h := holders(t, st); !maps.Equal(h, before) {
				t.Errorf("holders after the refused accept = %v, want unchanged %v", h, before)
			}
			if got, err := svc.Get(ctx, fab, tr.ID); err != nil || got.State != device.Offered {
				t.Errorf("transfer after the refused accept = %+v, %v; want still offered", got, err)
			}
			// The sender can still cancel it.
			if got, err := svc.Decide(ctx, fab, tr.ID, custody.Cancel); err != nil || got.State != device.Cancelled {
				t.Errorf("cancel = %+v, %v", got, err)
			}
		})
	}
}

// setState puts a device in a lifecycle state outside any service, as onboarding or a
// runtime revocation would.
func setState(t *testing.T, st store.Store, id string, s device.State) {
	t.Helper()
	update(t, st, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(id)
		if err != nil {
			return err
		}
		next := d
		next.State = s
		return tx.Devices().UpdateDevice(next, d)
	})
}

// TestCustodyEndsTrust: a device that an environment trusts, or may trust again, does not
// change hands: the offer is refused, and an offer made before the device was onboarded is
// refused at acceptance, each naming the device and changing nothing; once released it moves.
func TestCustodyEndsTrust(t *testing.T) {
	for _, s := range []device.State{device.Active, device.Suspended, device.Quarantined} {
		t.Run(string(s), func(t *testing.T) {
			st, svc := world(t)
			setState(t, st, "d2", s)
			for _, r := range []custody.OfferRequest{{To: "dist", DeviceIDs: []string{"d1", "d2"}}, {To: "dist", LotID: "l1"}} {
				_, err := svc.Offer(ctx, fab, r)
				if !failure.Is(err, failure.Conflict) || !strings.Contains(err.Error(), "device d2 is "+string(s)) || !strings.Contains(err.Error(), "device release d2") {
					t.Errorf("offer %+v = %v, want a conflict naming d2 and the release", r, err)
				}
			}
			if d := lastDetail(t, st, "custody.offer"); d != nil {
				t.Errorf("a refused offer was audited: %v", d)
			}
		})
	}
	st, svc := world(t)
	tr, err := svc.Offer(ctx, fab, custody.OfferRequest{To: "dist", DeviceIDs: []string{"d1", "d3"}})
	if err != nil {
		t.Fatal(err)
	}
	setState(t, st, "d3", device.Active) // onboarded after the offer
	before := holders(t, st)
	if _, err := svc.Decide(ctx, dist, tr.ID, custody.Accept); !failure.Is(err, failure.Conflict) || !strings.Contains(err.Error(), "device d3 is active") {
		t.Fatalf("accept = %v, want a conflict naming d3", err)
	}
	if h := holders(t, st); !maps.Equal(h, before) {
		t.Errorf("holders after the refused accept = %v, want unchanged %v", h, before)
	}
	setState(t, st, "d3", device.Released)
	if got, err := svc.Decide(ctx, dist, tr.ID, custody.Accept); err != nil || got.State != device.Accepted {
		t.Fatalf("accept of released devices = %+v, %v", got, err)
	}
	if h := holders(t, st); h["d1"] != "dist" || h["d3"] != "dist" {
		t.Errorf("holders after accepting = %v", h)
	}
}
