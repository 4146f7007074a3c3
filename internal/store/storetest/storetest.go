// Package storetest is the conformance suite every store implementation must pass. Run it
// from the implementation's tests with a constructor that returns a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Run runs every contract test against stores made by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"UnauditedChangeIsRefused", testUnaudited},
		{"FailedFunctionChangesNothing", testRollback},
		{"Parties", testParties},
		{"Ownership", testOwnership},
		{"SerialsNeverRepeat", testSerials},
		{"DeviceUpdateIsConditional", testDeviceUpdate},
		{"DevicesVisibleToPaged", testDevicesVisibleTo},
		{"ConcurrentTransfersOneWins", testConcurrentTransfers},
		{"AuditOrder", testAuditOrder},
		{"BulkWrites", testBulk},
		{"DeviceTargetsOwnOperational", testDeviceTargetsOwnOperational},
		{"DevicesExpiringOwnOperational", testDevicesExpiringOwnOperational},
	}
	tests = append(tests, operationalTests...)
	tests = append(tests, statusTests...)
	tests = append(tests, auditTreeTests...)
	tests = append(tests, governanceTests...)
	tests = append(tests, leaseTests...) // lease.go
	tests = append(tests, reportTests...)
	tests = append(tests, custodyTests...) // custody.go
	tests = append(tests, rotationTests...)
	tests = append(tests, refusalTests...)   // refusals.go
	tests = append(tests, heldTests...)      // held.go
	tests = append(tests, makerTests...)     // makers.go
	tests = append(tests, voucherTests...)   // custodyvouchers.go
	tests = append(tests, changeTests...)    // changes.go
	tests = append(tests, reconcileTests...) // reconcile.go
	tests = append(tests, snapshotTests...)  // snapshots.go
	tests = append(tests, groupCommitTests...)
	tests = append(tests, epochTests...)          // epochs.go
	tests = append(tests, factoryPreviewTests...) // factorypreview.go
	tests = append(tests, tbsTests...)            // tbs.go
	tests = append(tests, reservationTests...)    // reservations.go
	tests = append(tests, lineageTests...)        // lineage.go

	tests = append(tests, environmentIndexTests...) // environmentindex.go
	tests = append(tests, trustDomainTests...)      // trustdomains.go
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
)

func ev(action string) audit.Event {
	return audit.Event{At: t0, PartyID: "p", PrincipalID: "x", Action: action}
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func seedParty(t *testing.T, s store.Store, id string, kind party.Kind) {
	t.Helper()
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: id, Name: "Party " + id, Kind: kind, CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("party.create"))
		return err
	})
}

func testUnaudited(t *testing.T, s store.Store) {
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Parties().CreateParty(party.Party{ID: "a", Name: "A", Kind: party.Operator, CreatedAt: t0})
	})
	if !errors.Is(err, store.ErrUnaudited) {
		t.Fatalf("Update without audit = %v, want ErrUnaudited", err)
	}
	err = s.View(ctx, func(tx store.Tx) error { _, err := tx.Parties().GetParty("a"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("party after refused transaction: %v, want not found", err)
	}
}

func testRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "a", Name: "A", Kind: party.Operator, CreatedAt: t0}); err != nil {
			return err
		}
		if _, err := tx.Audit().Append(ev("party.create")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Parties().GetParty("a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("party survived rollback: %v", err)
		}
		if evs, _ := tx.Audit().List(0, 10); len(evs) != 0 {
			t.Errorf("audit event survived rollback: %v", evs)
		}
		return nil
	})
}

func testParties(t *testing.T, s store.Store) {
	seedParty(t, s, "acme", party.Manufacturer)
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "acme2", Name: "Party acme", Kind: party.Operator, CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("party.create"))
		return err
	})
	if !failure.Is(err, failure.Conflict) {
		t.Fatalf("duplicate party name = %v, want conflict", err)
	}
	_, hash := party.NewToken()
	exp := t0.Add(24 * time.Hour)
	mustUpdate(t, s, func(tx store.Tx) error {
		p := party.Principal{ID: "pr1", PartyID: "acme", Name: "alice", Kind: party.Person, CreatedAt: t0}
		if err := tx.Parties().CreatePrincipal(p); err != nil {
			return err
		}
		if err := tx.Parties().CreateToken(party.Token{ID: "tok1", PrincipalID: "pr1", CreatedAt: t0, ExpiresAt: &exp}, hash[:]); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("principal.create"))
		return err
	})
	if err := s.TouchToken(ctx, "pr1", "tok1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		p, tok, err := tx.Parties().TokenByHash(hash[:])
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != "pr1" || p.LastUsedAt == nil || !p.LastUsedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("principal = %+v", p)
		}
		if tok.ID != "tok1" || tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(t0.Add(time.Hour)) || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(exp) {
			t.Errorf("token = %+v", tok)
		}
		other := party.HashToken("nope")
		if _, _, err := tx.Parties().TokenByHash(other[:]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
		if _, err := tx.Parties().GetParty(party.Deployment); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetParty(%q) = %v, want not found: the deployment scope is no party", party.Deployment, err)
		}
		return nil
	})
}

func testOwnership(t *testing.T, s store.Store) {
	seedParty(t, s, "acme", party.Manufacturer)
	seedParty(t, s, "fab", party.ContractManufacturer)
	k := ownership.Key{Stage: ownership.Manufacturing, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Lot, ID: "lot1"}}
	for _, owner := range []string{"acme", "fab"} {
		mustUpdate(t, s, func(tx store.Tx) error {
			if err := tx.Ownership().SetCell(ownership.Cell{Stage: k.Stage, Duty: k.Duty, Scope: k.Scope, PartyID: owner}, "x", t0); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("ownership.set"))
			return err
		})
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		p, ok, err := tx.Ownership().Owner(k)
		if err != nil || !ok || p != "fab" {
			t.Errorf("Owner = %q %v %v, want fab", p, ok, err)
		}
		cells, _ := tx.Ownership().ListCells()
		if len(cells) != 1 {
			t.Errorf("cells = %v, want 1 (replaced, not added)", cells)
		}
		return nil
	})
}

func seedCA(t *testing.T, s store.Store) {
	t.Helper()
	seedParty(t, s, "acme", party.Manufacturer)
	der := SelfSignedForTest(t)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.CAs().CreateCA(ca.CA{ID: "ca1", PartyID: "acme", Stage: "manufacturing", Role: ca.Root, Name: "root", KeyID: "k", CertDER: der, CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("ca.create"))
		return err
	})
}

func testSerials(t *testing.T, s store.Store) {
	seedCA(t, s)
	serial := big.NewInt(0x1234567890)
	reserve := func() error {
		return s.Update(ctx, func(tx store.Tx) error {
			return tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: "ca1", Profile: "factory", TBS: []byte{1, 2, 3}, NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0})
		})
	}
	if err := reserve(); err != nil {
		t.Fatalf("first reservation (exempt from audit): %v", err)
	}
	if err := reserve(); !failure.Is(err, failure.Conflict) {
		t.Fatalf("second reservation = %v, want conflict", err)
	}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.Certificates().MarkIssued(serial, []byte{9}, t0) })
	if !errors.Is(err, store.ErrUnaudited) {
		t.Fatalf("MarkIssued without audit = %v, want ErrUnaudited", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Certificates().MarkIssued(serial, []byte{9}, t0); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("cert.issue"))
		return err
	})
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Certificates().MarkIssued(serial, []byte{9}, t0); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("cert.issue"))
		return err
	})
	if !failure.Is(err, failure.Conflict) {
		t.Fatalf("second MarkIssued = %v, want conflict", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		c, err := tx.Certificates().GetCert(serial)
		if err != nil || c.State != ca.Issued || c.Serial.Cmp(serial) != 0 {
			t.Errorf("cert = %+v, %v", c, err)
		}
		return nil
	})
}

func seedDevice(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	seedCA(t, s)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Catalog().CreateModel(device.Model{ID: "m1", ManufacturerID: "acme", Name: "m", HardwareType: "1.2.3", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Catalog().CreateLot(device.Lot{ID: "l1", ManufacturerID: "acme", ModelID: "m1", Name: "l", Line: "a", IssuingCAID: "ca1", CreatedAt: t0}); err != nil {
			return err
		}
		for i, id := range ids {
			d := device.Device{ID: id, ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: "SN" + string(rune('A'+i)), State: device.Registered, CustodianID: "acme", CreatedAt: t0, UpdatedAt: t0}
			if err := tx.Devices().CreateDevice(d); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(ev("device.create"))
		return err
	})
}

// testDevicesVisibleTo checks the list of a party's devices (made or held) page by page, with
// and without another filter: each page in id order, no device twice, none missing.
func testDevicesVisibleTo(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3", "d4", "d5", "d6")
	seedParty(t, s, "op", party.Operator)
	for _, id := range []string{"d2", "d4", "d5"} {
		mustUpdate(t, s, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(id)
			if err != nil {
				return err
			}
			next := d
			next.CustodianID = "op"
			if id == "d4" {
				next.State = device.Active
			}
			if err := tx.Devices().UpdateDevice(next, d); err != nil {
				return err
			}
			_, err = tx.Audit().Append(ev("custody.accept"))
			return err
		})
	}
	for _, tc := range []struct {
		f    store.DeviceFilter
		want string
	}{
		{store.DeviceFilter{VisibleTo: "acme", Limit: 2}, "d1 d2 d3 d4 d5 d6"},
		{store.DeviceFilter{VisibleTo: "op", Limit: 1}, "d2 d4 d5"},
		{store.DeviceFilter{VisibleTo: "op", Limit: 2}, "d2 d4 d5"},
		{store.DeviceFilter{VisibleTo: "op", State: device.Active, Limit: 2}, "d4"},
		{store.DeviceFilter{VisibleTo: "acme", CustodianID: "acme", Limit: 5}, "d1 d3 d6"},
		{store.DeviceFilter{VisibleTo: "nobody", Limit: 5}, ""},
	} {
		if got := pagedDeviceIDs(t, s, tc.f); got != tc.want {
			t.Errorf("pages of %+v = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func testDeviceUpdate(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1")
	seedParty(t, s, "op", party.Operator)
	var d device.Device
	_ = s.View(ctx, func(tx store.Tx) (err error) { d, err = tx.Devices().GetDevice("d1"); return err })
	next := d
	next.CustodianID = "op"
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Devices().UpdateDevice(next, d); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("custody.accept"))
		return err
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Devices().UpdateDevice(next, d); err != nil { // d is stale now
			return err
		}
		_, err := tx.Audit().Append(ev("custody.accept"))
		return err
	})
	if !failure.Is(err, failure.Conflict) {
		t.Fatalf("stale update = %v, want conflict", err)
	}
}

func testConcurrentTransfers(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2")
	seedParty(t, s, "dist", party.Distributor)
	seedParty(t, s, "op", party.Operator)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := "dist"
			if i%2 == 1 {
				to = "op"
			}
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				tr := device.Transfer{ID: party.NewID("tr"), FromID: "acme", ToID: to, OfferedBy: "x", OfferedAt: t0}
				if err := tx.Custody().CreateTransfer(tr, []string{"d1", "d2"}); err != nil {
					return err
				}
				_, err := tx.Audit().Append(ev("custody.offer"))
				return err
			})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !failure.Is(err, failure.Conflict):
			t.Errorf("concurrent offer failed with %v, want conflict", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent offers of the same devices succeeded, want exactly 1", ok)
	}
	var trs []device.Transfer
	_ = s.View(ctx, func(tx store.Tx) (err error) { trs, err = tx.Custody().ListTransfers("acme"); return err })
	if len(trs) != 1 || trs[0].DeviceCount != 2 {
		t.Fatalf("transfers = %+v", trs)
	}
	decide := func(st device.TransferState) error {
		return s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Custody().DecideTransfer(trs[0].ID, st, "y", t0); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("custody.decide"))
			return err
		})
	}
	if err := decide(device.Accepted); err != nil {
		t.Fatal(err)
	}
	// Accepting moves the transfer's devices from the sender, in one statement.
	mustUpdate(t, s, func(tx store.Tx) error {
		n, err := tx.Custody().MoveDevices(trs[0].ID, "acme", trs[0].ToID, t0)
		if err != nil || n != 2 {
			return fmt.Errorf("moved %d devices (%v), want 2", n, err)
		}
		if n, err = tx.Custody().MoveDevices(trs[0].ID, "acme", trs[0].ToID, t0); err != nil || n != 0 {
			return fmt.Errorf("moved %d devices again (%v), want 0: the sender holds none now", n, err)
		}
		d, err := tx.Devices().GetDevice("d2")
		if err != nil || d.CustodianID != trs[0].ToID {
			return fmt.Errorf("d2 is held by %q (%v), want %s", d.CustodianID, err, trs[0].ToID)
		}
		_, err = tx.Audit().Append(ev("custody.move"))
		return err
	})
	if err := decide(device.Refused); !failure.Is(err, failure.Conflict) {
		t.Fatalf("second decision = %v, want conflict", err)
	}
	// A decided transfer frees its devices for a new offer.
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Custody().CreateTransfer(device.Transfer{ID: "tr-next", FromID: trs[0].ToID, ToID: "acme", OfferedBy: "x", OfferedAt: t0}, []string{"d1"}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("custody.offer"))
		return err
	})
	_ = s.View(ctx, func(tx store.Tx) error {
		chain, err := tx.Custody().CustodyChain("d1")
		if err != nil || len(chain) != 1 || chain[0].TransferID != trs[0].ID {
			t.Errorf("chain = %+v, %v", chain, err)
		}
		return nil
	})
}

func testAuditOrder(t *testing.T, s store.Store) {
	for i := 0; i < 20; i++ {
		mustUpdate(t, s, func(tx store.Tx) error { _, err := tx.Audit().Append(ev("a")); return err })
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Audit().List(5, 10)
		if err != nil || len(evs) != 10 || evs[0].Seq != 6 || evs[9].Seq != 15 {
			t.Errorf("List(5, 10) = %d events from %v, %v", len(evs), evs, err)
		}
		return nil
	})
}
