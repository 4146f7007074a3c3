package storetest

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// statusTests are the contract of revocation status: the CRL walk, CRL numbers, responders
// and the change feed.
var statusTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"RevokedListKeepsUnexpiredRevocations", testEachRevoked},
	{"CRLNumbersGrow", testCRLNumbers},
	{"ResponderLatestWins", testResponders},
	{"EveryStatusChangeIsFed", testStatusChanges},
	{"CRLPartitionsAreRecordedAndWalked", testCRLPartitions},
	{"FactoryValidityAndUndefinedNotAfter", testFactoryValidity},
}

func issuedOn(t *testing.T, s store.Store, caID string, serial *big.Int, notAfter time.Time) {
	t.Helper()
	issuedIn(t, s, caID, 0, serial, notAfter)
}

// issuedIn is issuedOn in CRL partition part.
func issuedIn(t *testing.T, s store.Store, caID string, part int, serial *big.Int, notAfter time.Time) {
	t.Helper()
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: caID, Profile: "operational", TBS: []byte{1}, NotBefore: t0.Add(-time.Hour), NotAfter: notAfter, CreatedAt: t0, CRLPartition: part})
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Certificates().MarkIssued(serial, []byte{2}, t0); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("cert.issue"))
		return err
	})
}

func testEachRevoked(t *testing.T, s store.Store) {
	seedCA(t, s)
	live, expired, good, other := big.NewInt(0x20), big.NewInt(0x10), big.NewInt(0x30), big.NewInt(0x40)
	held := big.NewInt(0x05)
	for _, n := range []*big.Int{live, good, held} {
		issuedOn(t, s, "ca1", n, t0.Add(time.Hour))
	}
	issuedOn(t, s, "ca1", expired, t0.Add(-time.Minute))
	issuedOn(t, s, "ca2", other, t0.Add(time.Hour))
	for _, r := range []struct {
		n      *big.Int
		reason int
	}{{live, 1}, {expired, 4}, {other, 1}, {held, 6}} {
		if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(r.n, r.reason, t0) }); err != nil {
			t.Fatal(err)
		}
	}
	var got []store.RevokedEntry
	_ = s.View(ctx, func(tx store.Tx) error {
		got = nil // a read may run again
		return tx.Status().EachRevoked("ca1", t0, func(e store.RevokedEntry) error { got = append(got, e); return nil })
	})
	if len(got) != 2 || got[0].SerialHex != "20" || got[0].Reason != 1 || !got[0].RevokedAt.Equal(t0) || got[1].SerialHex != "5" || got[1].Reason != 6 {
		t.Fatalf("revoked of ca1 = %+v, want 20 (keyCompromise) then 5 (hold), ordered by serial text, without the expired one", got)
	}
}

func testCRLNumbers(t *testing.T, s store.Store) {
	for i, want := range []int64{1, 2, 3} {
		var n int64
		if err := s.Update(ctx, func(tx store.Tx) (err error) { n, err = tx.Status().NextCRLNumber("ca1"); return err }); err != nil {
			t.Fatalf("CRL number %d (exempt from audit): %v", i, err)
		}
		if n != want {
			t.Fatalf("CRL number = %d, want %d", n, want)
		}
	}
	var n int64
	_ = s.Update(ctx, func(tx store.Tx) (err error) { n, err = tx.Status().NextCRLNumber("ca2"); return err })
	if n != 1 {
		t.Errorf("another CA's first CRL number = %d, want 1", n)
	}
}

func testResponders(t *testing.T, s store.Store) {
	seedCA(t, s)
	a, b := big.NewInt(0x71), big.NewInt(0x72)
	issuedOn(t, s, "ca1", a, t0.Add(time.Hour))
	issuedOn(t, s, "ca1", b, t0.Add(2*time.Hour))
	_ = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Status().CurrentResponder("ca1"); !failure.Is(err, failure.NotFound) {
			t.Errorf("no responder yet = %v, want not found", err)
		}
		return nil
	})
	for _, r := range []store.OCSPResponder{
		{SerialHex: "72", CAID: "ca1", KeyID: "k2", CertDER: []byte{2}, NotAfter: t0.Add(2 * time.Hour), CreatedAt: t0},
		{SerialHex: "71", CAID: "ca1", KeyID: "k1", CertDER: []byte{1}, NotAfter: t0.Add(time.Hour), CreatedAt: t0},
	} {
		if err := audited(t, s, func(tx store.Tx) error { return tx.Status().CreateResponder(r) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Status().CreateResponder(store.OCSPResponder{SerialHex: "73", CAID: "ca1", KeyID: "k3", CertDER: []byte{3}, NotAfter: t0, CreatedAt: t0})
	}); err == nil {
		t.Error("an unaudited responder was stored")
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		r, err := tx.Status().CurrentResponder("ca1")
		if err != nil || r.KeyID != "k2" || !r.NotAfter.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("current responder = %+v, %v, want k2", r, err)
		}
		return nil
	})
}

func testStatusChanges(t *testing.T, s store.Store) {
	seedCA(t, s)
	var start int64
	_ = s.View(ctx, func(tx store.Tx) (err error) { start, err = tx.Status().LastChange(); return err })
	n := big.NewInt(0x99)
	issuedOn(t, s, "ca1", n, t0.Add(time.Hour)) // reserved → issued
	for _, fn := range []func(tx store.Tx) error{
		func(tx store.Tx) error { return tx.Certificates().Revoke(n, 6, t0) },
		func(tx store.Tx) error { return tx.Certificates().Unhold(n) },
		func(tx store.Tx) error { return tx.Certificates().Revoke(n, 1, t0) },
	} {
		if err := audited(t, s, fn); err != nil {
			t.Fatal(err)
		}
	}
	var got []store.StatusChange
	_ = s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Status().Changes(start, 100); return err })
	if len(got) != 4 {
		t.Fatalf("changes = %+v, want 4 (issue, hold, release, revoke)", got)
	}
	for i, c := range got {
		if c.CAID != "ca1" || c.SerialHex != "99" || (i > 0 && c.Seq <= got[i-1].Seq) {
			t.Errorf("change %d = %+v", i, c)
		}
	}
	var last int64
	_ = s.View(ctx, func(tx store.Tx) (err error) { last, err = tx.Status().LastChange(); return err })
	if last != got[3].Seq {
		t.Errorf("last change %d, want %d", last, got[3].Seq)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Status().PruneChanges(time.Now().Add(time.Hour)) }); err != nil {
		t.Fatalf("prune (exempt from audit): %v", err)
	}
	_ = s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Status().Changes(0, 100); return err })
	if len(got) != 0 {
		t.Errorf("after pruning: %+v", got)
	}
}

// testCRLPartitions: a CA keeps its partition count, Reserve records each certificate's
// partition, a partition walk lists exactly that partition's unexpired revocations, the full
// walk lists them all, and the change feed names the partition.
func testCRLPartitions(t *testing.T, s store.Store) {
	seedCA(t, s) // ca1, unpartitioned
	der := SelfSignedForTest(t)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.CAs().CreateCA(ca.CA{ID: "cap", PartyID: "acme", Stage: "manufacturing", Role: ca.Issuing, Name: "parted", KeyID: "kp", CertDER: der, CreatedAt: t0, CRLPartitions: 4}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("ca.create"))
		return err
	})
	_ = s.View(ctx, func(tx store.Tx) error {
		for id, want := range map[string]int{"ca1": 0, "cap": 4} {
			if c, err := tx.CAs().GetCA(id); err != nil || c.CRLPartitions != want {
				t.Errorf("CA %s: %d partitions (%v), want %d", id, c.CRLPartitions, err, want)
			}
		}
		return nil
	})
	var start int64
	_ = s.View(ctx, func(tx store.Tx) (err error) { start, err = tx.Status().LastChange(); return err })
	later, gone := t0.Add(time.Hour), t0.Add(-time.Minute)
	certs := []struct {
		serial   int64
		part     int
		notAfter time.Time
		reason   int // -1: stays issued
	}{
		{0x101, 0, later, 1}, {0x102, 1, later, 4}, {0x103, 1, later, 6}, {0x105, 1, later, -1}, {0x104, 3, gone, 1}, {0x1, 2, later, 5},
	}
	for _, c := range certs {
		issuedIn(t, s, "cap", c.part, big.NewInt(c.serial), c.notAfter)
		if c.reason >= 0 {
			if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(big.NewInt(c.serial), c.reason, t0) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	issuedIn(t, s, "ca1", 1, big.NewInt(0x106), later) // another CA's partition 1
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(big.NewInt(0x106), 1, t0) }); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		if c, err := tx.Certificates().GetCert(big.NewInt(0x102)); err != nil || c.CRLPartition != 1 {
			t.Errorf("certificate 102: partition %d (%v), want 1", c.CRLPartition, err)
		}
		walk := func(part int) string {
			var got []string
			add := func(e store.RevokedEntry) error { got = append(got, e.SerialHex); return nil }
			var err error
			if part < 0 {
				err = tx.Status().EachRevoked("cap", t0, add)
			} else {
				err = tx.Status().EachRevokedInPartition("cap", part, t0, add)
			}
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(got, ",")
		}
		for part, want := range map[int]string{-1: "101,102,103,1", 0: "101", 1: "102,103", 2: "1", 3: ""} {
			if got := walk(part); got != want {
				t.Errorf("partition %d of cap: %q, want %q (by serial, unexpired, this CA only)", part, got, want)
			}
		}
		return nil
	})
	var got []store.StatusChange
	_ = s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Status().Changes(start, 100); return err })
	parts := map[string]int{}
	for _, c := range got {
		if c.CAID == "cap" {
			parts[c.SerialHex] = c.CRLPartition
		}
	}
	if len(parts) != 6 || parts["102"] != 1 || parts["104"] != 3 || parts["1"] != 2 || parts["101"] != 0 {
		t.Errorf("change feed partitions %v", parts)
	}
}

// testFactoryValidity: a CA keeps its factory validity, and a certificate with 802.1AR's
// notAfter 99991231235959Z is stored, read back and listed on its CA's CRL walk once revoked
// (it never expires, so it never leaves the CRL).
func testFactoryValidity(t *testing.T, s store.Store) {
	seedCA(t, s) // ca1, a root: no factory validity
	der := SelfSignedForTest(t)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.CAs().CreateCA(ca.CA{ID: "cau", PartyID: "acme", Stage: "manufacturing", Role: ca.Issuing, Name: "idevid", KeyID: "ku", CertDER: der, CreatedAt: t0,
			FactoryValidity: ca.FactoryValidityUndefined}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("ca.create"))
		return err
	})
	undefined := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	issuedOn(t, s, "cau", big.NewInt(0x9999), undefined)
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(big.NewInt(0x9999), 1, t0) }); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		for id, want := range map[string]string{"ca1": "", "cau": ca.FactoryValidityUndefined} {
			if c, err := tx.CAs().GetCA(id); err != nil || c.FactoryValidity != want {
				t.Errorf("CA %s: factory validity %q (%v), want %q", id, c.FactoryValidity, err, want)
			}
		}
		list, err := tx.CAs().ListCAs("acme")
		if err != nil || len(list) != 2 || list[1].FactoryValidity != ca.FactoryValidityUndefined {
			t.Errorf("ListCAs: %+v %v", list, err)
		}
		c, err := tx.Certificates().GetCert(big.NewInt(0x9999))
		if err != nil || !c.NotAfter.Equal(undefined) {
			t.Errorf("certificate notAfter %s (%v), want %s", c.NotAfter, err, undefined)
		}
		var got []string
		if err := tx.Status().EachRevoked("cau", t0.AddDate(500, 0, 0), func(e store.RevokedEntry) error { got = append(got, e.SerialHex); return nil }); err != nil || len(got) != 1 || got[0] != "9999" {
			t.Errorf("CRL walk 500 years on: %v %v", got, err)
		}
		return nil
	})
}
