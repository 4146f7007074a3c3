package storetest

import (
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
)

var reconcileTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"CertStatesPageBySerial", testCertStates},
	{"DisputesAreReplacedOrSettled", testDisputes},
	{"OriginDisputesAreReplaced", testOriginDisputes},
}

// testCertStates: StateRows pages every certificate row by serial text, with its state and
// revocation reason, reservations included.
func testCertStates(t *testing.T, s store.Store) {
	seedCA(t, s)
	for _, n := range []int64{1, 2, 3, 0x1a} {
		issued(t, s, big.NewInt(n))
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Certificates().Revoke(big.NewInt(2), 1, t0.Add(time.Minute)); err != nil {
			return err
		}
		if err := tx.Certificates().Reserve(ca.Cert{Serial: big.NewInt(4), CAID: "ca1", Profile: "factory", TBS: []byte{1}, NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("cert.revoke"))
		return err
	})
	var pages [][]store.CertStateRow
	after := ""
	for range 5 {
		var rows []store.CertStateRow
		if err := s.View(ctx, func(tx store.Tx) (err error) { rows, err = tx.StateRows().CertStates(after, 2); return err }); err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			break
		}
		pages = append(pages, rows)
		after = rows[len(rows)-1].SerialHex
	}
	var got []string
	for _, p := range pages {
		for _, r := range p {
			reason := "-"
			if r.Reason != nil {
				reason = string(rune('0' + *r.Reason))
			}
			got = append(got, r.SerialHex+":"+string(r.State)+":"+reason+":"+r.Profile)
		}
	}
	want := []string{"1:issued:-:operational", "1a:issued:-:operational", "2:revoked:1:operational", "3:issued:-:operational", "4:reserved:-:factory"}
	if len(pages) != 3 || len(got) != len(want) {
		t.Fatalf("pages %v, want 3 pages of %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %s, want %s", i, got[i], want[i])
		}
	}
}

// testDisputes: SetDisputes replaces (full) or settles (cleared, then added) the recorded
// disputed certificates; Disputes lists them by serial.
func testDisputes(t *testing.T, s store.Store) {
	list := func() string {
		var ds []store.Dispute
		if err := s.View(ctx, func(tx store.Tx) (err error) { ds, err = tx.StateRows().Disputes(); return err }); err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, d := range ds {
			out += d.Serial + "=" + d.Row + "/" + d.Log + " "
		}
		return out
	}
	set := func(full bool, cleared []string, ds ...store.Dispute) {
		t.Helper()
		mustUpdate(t, s, func(tx store.Tx) error {
			if err := tx.StateRows().SetDisputes(full, cleared, ds); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("audit.reconcile"))
			return err
		})
	}
	d := func(serial, row string) store.Dispute {
		return store.Dispute{Serial: serial, Row: row, Log: "revoked", Seq: 3, FoundAt: t0}
	}
	set(true, nil, d("a", "issued"), d("b", "issued"))
	if got := list(); got != "a=issued/revoked b=issued/revoked " {
		t.Fatalf("after a full set: %q", got)
	}
	set(false, []string{"a", "c"}, d("c", "no row"), d("b", "reserved"))
	if got := list(); got != "b=reserved/revoked c=no row/revoked " {
		t.Fatalf("after settling a and c: %q", got)
	}
	set(true, nil)
	if got := list(); got != "" {
		t.Fatalf("after a full set of none: %q", got)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.StateRows().SetDisputes(true, nil, nil) }); err == nil {
		t.Error("SetDisputes without an audit event committed")
	}
}

// testOriginDisputes: SetOriginDisputes replaces the recorded disputed origins, which
// OriginDisputes lists by device and OriginDisputed answers for one device; it needs an audit
// event like every change of state.
func testOriginDisputes(t *testing.T, s store.Store) {
	set := func(ds ...store.OriginDispute) {
		t.Helper()
		mustUpdate(t, s, func(tx store.Tx) error {
			if err := tx.StateRows().SetOriginDisputes(ds); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("audit.reconcile"))
			return err
		})
	}
	check := func(when string, want ...string) {
		t.Helper()
		_ = s.View(ctx, func(tx store.Tx) error {
			ds, err := tx.StateRows().OriginDisputes()
			var got []string
			for _, d := range ds {
				got = append(got, d.DeviceID+"="+d.Row+"/"+d.Log)
				if !d.FoundAt.Equal(t0) || d.Seq != 7 {
					t.Errorf("%s: dispute %+v, want found at t0, seq 7", when, d)
				}
			}
			if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s: disputed origins %v, %v; want %v", when, got, err, want)
			}
			for _, id := range []string{"dev_a", "dev_b", "dev_c"} {
				disputed, err := tx.StateRows().OriginDisputed(id)
				if err != nil || disputed != slices.ContainsFunc(want, func(w string) bool { return strings.HasPrefix(w, id+"=") }) {
					t.Errorf("%s: OriginDisputed(%s) = %v, %v", when, id, disputed, err)
				}
			}
			return nil
		})
	}
	d := func(id, row string) store.OriginDispute {
		return store.OriginDispute{DeviceID: id, Row: row, Log: "maker m, good", Seq: 7, FoundAt: t0}
	}
	check("at first")
	set(d("dev_b", "maker m, revoked"), d("dev_a", "no row"))
	check("after a set", "dev_a=no row/maker m, good", "dev_b=maker m, revoked/maker m, good")
	set(d("dev_c", "maker n, good"))
	check("after a second set", "dev_c=maker n, good/maker m, good")
	set()
	check("after a set of none")
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.StateRows().SetOriginDisputes(nil) }); err == nil {
		t.Error("SetOriginDisputes without an audit event committed")
	}
}
