package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

var rotationTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"CASuccession", testSuccession},
	{"CrossCertificates", testCrossCerts},
	{"SigningKeyHistory", testSigningKeyHistory},
	{"AuditKeyHistory", testAuditKeyHistory},
}

func deviceLot(id, caID string) device.Lot {
	return device.Lot{ID: id, ManufacturerID: "acme", ModelID: "m1", Name: id, Line: "a", IssuingCAID: caID, CreatedAt: t0}
}

// testSuccession: a succession is recorded once, moves the lots and environments that named
// the old CA (and no others) in the same transaction, and shows in Standing and GetCA.
func testSuccession(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1") // CA ca1, lot l1 on it
	seedParty(t, s, "op", party.Operator)
	der := SelfSignedForTest(t)
	env := func(id, caID string) environment.Environment {
		return environment.Environment{ID: id, OperatorID: "op", Name: id, IssuingCAID: caID, TrustDomain: "td",
			Lifetime: environment.Duration(time.Hour), MaxAge: environment.Duration(time.Hour), Services: []string{}, CreatedAt: t0}
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, id := range []string{"ca2", "ca3"} {
			if err := tx.CAs().CreateCA(ca.CA{ID: id, PartyID: "acme", Stage: "manufacturing", Role: ca.Issuing, Name: id, KeyID: id, CertDER: der, CreatedAt: t0}); err != nil {
				return err
			}
		}
		if err := tx.Catalog().CreateLot(deviceLot("l2", "ca1")); err != nil {
			return err
		}
		if err := tx.Catalog().CreateLot(deviceLot("l3", "ca3")); err != nil {
			return err
		}
		for _, e := range []environment.Environment{env("e1", "ca1"), env("e2", "ca3")} {
			if err := tx.Environments().CreateEnvironment(e); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(ev("seed"))
		return err
	})
	standing := func(id string) ca.Standing {
		t.Helper()
		var st ca.Standing
		if err := s.View(ctx, func(tx store.Tx) (err error) { st, err = tx.Succession().Standing(id); return err }); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := standing("ca1"); st.SuccessorID != "" || st.IssuesUntil != nil || st.RetiredAt != nil {
		t.Fatalf("a new CA's standing = %+v", st)
	}
	until := t0.Add(time.Hour)
	succeed := func(id, next string) (int64, int64, error) {
		var lots, envs int64
		err := audited(t, s, func(tx store.Tx) (err error) {
			lots, envs, err = tx.Succession().Succeed(id, next, t0, until)
			return err
		})
		return lots, envs, err
	}
	if err := s.Update(ctx, func(tx store.Tx) error { _, _, err := tx.Succession().Succeed("ca1", "ca2", t0, until); return err }); !errors.Is(err, store.ErrUnaudited) {
		t.Fatalf("Succeed without audit = %v, want ErrUnaudited", err)
	}
	lots, envs, err := succeed("ca1", "ca2")
	if err != nil || lots != 2 || envs != 1 {
		t.Fatalf("Succeed = %d lots, %d environments, %v; want 2 and 1", lots, envs, err)
	}
	if st := standing("ca1"); st.SuccessorID != "ca2" || st.IssuesUntil == nil || !st.IssuesUntil.Equal(until) {
		t.Fatalf("standing after succession = %+v", st)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		c, err := tx.CAs().GetCA("ca1")
		if err != nil || c.SuccessorID != "ca2" || c.SucceededAt == nil || !c.SucceededAt.Equal(t0) || c.IssuesUntil == nil || !c.IssuesUntil.Equal(until) {
			t.Errorf("GetCA after succession = %+v, %v", c, err)
		}
		for lot, want := range map[string]string{"l1": "ca2", "l2": "ca2", "l3": "ca3"} {
			if l, err := tx.Catalog().GetLot(lot); err != nil || l.IssuingCAID != want {
				t.Errorf("lot %s issues from %s, %v; want %s", lot, l.IssuingCAID, err, want)
			}
		}
		for e, want := range map[string]string{"e1": "ca2", "e2": "ca3"} {
			if v, err := tx.Environments().GetEnvironment(e); err != nil || v.IssuingCAID != want {
				t.Errorf("environment %s issues from %s, %v; want %s", e, v.IssuingCAID, err, want)
			}
		}
		return nil
	})
	if _, _, err := succeed("ca1", "ca3"); !failure.Is(err, failure.Conflict) {
		t.Fatalf("a second succession = %v, want conflict", err)
	}
	if st := standing("ca1"); st.SuccessorID != "ca2" {
		t.Fatalf("the refused succession changed the successor to %s", st.SuccessorID)
	}
	if _, _, err := succeed("ca3", "ca3"); !failure.Is(err, failure.Conflict) {
		t.Fatalf("a CA succeeding itself = %v, want conflict", err)
	}
	if _, _, err := succeed("nope", "ca2"); !failure.Is(err, failure.NotFound) {
		t.Fatalf("succeeding an unknown CA = %v, want not found", err)
	}
	if err := s.View(ctx, func(tx store.Tx) error { _, err := tx.Succession().Standing("nope"); return err }); !failure.Is(err, failure.NotFound) {
		t.Fatalf("Standing of an unknown CA = %v, want not found", err)
	}
}

// testCrossCerts: a cross-certificate is found from both the CA it certifies and the CA that
// signed it, parsed, and recorded once per serial.
func testCrossCerts(t *testing.T, s store.Store) {
	seedCA(t, s)
	der := SelfSignedForTest(t)
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, id := range []string{"ca2", "ca3"} {
			if err := tx.CAs().CreateCA(ca.CA{ID: id, PartyID: "acme", Stage: "manufacturing", Role: ca.Root, Name: id, KeyID: id, CertDER: der, CreatedAt: t0}); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(ev("seed"))
		return err
	})
	xs := []ca.CrossCert{
		{Serial: "a1", SubjectID: "ca2", IssuerID: "ca1", CertDER: der, CreatedAt: t0},
		{Serial: "a2", SubjectID: "ca1", IssuerID: "ca2", CertDER: der, CreatedAt: t0.Add(time.Second)},
		{Serial: "a3", SubjectID: "ca3", IssuerID: "ca2", CertDER: der, CreatedAt: t0.Add(2 * time.Second)},
	}
	for _, x := range xs {
		if err := audited(t, s, func(tx store.Tx) error { return tx.Succession().CreateCrossCert(x) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Succession().CreateCrossCert(xs[0]) }); !failure.Is(err, failure.Conflict) {
		t.Fatalf("a second record of one serial = %v, want conflict", err)
	}
	for id, want := range map[string][]string{"ca1": {"a1", "a2"}, "ca2": {"a1", "a2", "a3"}, "ca3": {"a3"}, "nope": nil} {
		var got []ca.CrossCert
		if err := s.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Succession().CrossCerts(id); return err }); err != nil {
			t.Fatal(err)
		}
		var serials []string
		for _, x := range got {
			serials = append(serials, x.Serial)
			if x.Cert == nil || !bytes.Equal(x.Cert.Raw, der) {
				t.Errorf("cross-certificate %s is not parsed", x.Serial)
			}
		}
		if len(serials) != len(want) || len(want) > 0 && !equalStrings(serials, want) {
			t.Errorf("CrossCerts(%s) = %v, want %v", id, serials, want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// testSigningKeyHistory: a rotation keeps the replaced key, retired; the current key comes
// first, then the retired ones newest first; a rotation with no key to replace changes nothing.
func testSigningKeyHistory(t *testing.T, s store.Store) {
	seedParty(t, s, "acme", party.Manufacturer)
	key := func(n int) ca.SigningKey {
		return ca.SigningKey{ID: "sk" + string(rune('0'+n)), PartyID: "acme", Purpose: "build-record", KeyID: "brk" + string(rune('0'+n)),
			PublicKeyDER: []byte{byte(n)}, CreatedAt: t0.Add(time.Duration(n) * time.Hour)}
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.KeyHistory().RotateSigningKey(key(1)) }); !failure.Is(err, failure.NotFound) {
		t.Fatalf("rotating a key that does not exist = %v, want not found", err)
	}
	list := func() []ca.SigningKey {
		t.Helper()
		var out []ca.SigningKey
		if err := s.View(ctx, func(tx store.Tx) (err error) {
			out, err = tx.KeyHistory().SigningKeys("acme", "build-record")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("SigningKeys before any = %+v", got)
	}
	if err := audited(t, s, func(tx store.Tx) error { return tx.CAs().CreateSigningKey(key(1)) }); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 3} {
		if err := audited(t, s, func(tx store.Tx) error { return tx.KeyHistory().RotateSigningKey(key(n)) }); err != nil {
			t.Fatal(err)
		}
	}
	got := list()
	want := []struct {
		id      string
		retired *time.Time
	}{{"sk3", nil}, {"sk2", ptr(key(3).CreatedAt)}, {"sk1", ptr(key(2).CreatedAt)}}
	if len(got) != len(want) {
		t.Fatalf("SigningKeys = %+v, want 3 keys", got)
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || (g.RetiredAt == nil) != (w.retired == nil) || w.retired != nil && !g.RetiredAt.Equal(*w.retired) {
			t.Errorf("key %d = %s retired %v, want %s retired %v", i, g.ID, g.RetiredAt, w.id, w.retired)
		}
	}
	if cur, err := currentKey(s); err != nil || cur.ID != "sk3" || cur.KeyID != "brk3" || !bytes.Equal(cur.PublicKeyDER, []byte{3}) {
		t.Errorf("SigningKey after rotation = %+v, %v", cur, err)
	}
}

func currentKey(s store.Store) (ca.SigningKey, error) {
	var k ca.SigningKey
	err := s.View(ctx, func(tx store.Tx) (err error) { k, err = tx.CAs().SigningKey("acme", "build-record"); return err })
	return k, err
}

func ptr[T any](v T) *T { return &v }

// testAuditKeyHistory: each new checkpoint key retires the one before; the list is newest
// first; a key ID is recorded once.
func testAuditKeyHistory(t *testing.T, s store.Store) {
	list := func() []store.AuditKey {
		t.Helper()
		var out []store.AuditKey
		if err := s.View(ctx, func(tx store.Tx) (err error) { out, err = tx.KeyHistory().AuditKeys(); return err }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("AuditKeys before any = %+v", got)
	}
	for i, id := range []string{"k1", "k2", "k3"} {
		k := store.AuditKey{KeyID: id, VerifierKey: "o+0000000" + string(rune('1'+i)) + "+AAAA", CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
		if err := audited(t, s, func(tx store.Tx) error { return tx.KeyHistory().AddAuditKey(k) }); err != nil {
			t.Fatal(err)
		}
	}
	got := list()
	if len(got) != 3 || got[0].KeyID != "k3" || got[0].RetiredAt != nil || got[1].KeyID != "k2" || got[2].KeyID != "k1" {
		t.Fatalf("AuditKeys = %+v, want k3 (current), k2, k1", got)
	}
	if got[1].RetiredAt == nil || !got[1].RetiredAt.Equal(t0.Add(2*time.Hour)) || got[2].RetiredAt == nil || !got[2].RetiredAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("retirement times = %v, %v; want the next key's creation", got[1].RetiredAt, got[2].RetiredAt)
	}
	err := audited(t, s, func(tx store.Tx) error {
		return tx.KeyHistory().AddAuditKey(store.AuditKey{KeyID: "k2", VerifierKey: "x", CreatedAt: t0.Add(5 * time.Hour)})
	})
	if !failure.Is(err, failure.Conflict) {
		t.Fatalf("recording k2 again = %v, want conflict", err)
	}
	if got := list(); got[0].KeyID != "k3" || got[0].RetiredAt != nil {
		t.Fatalf("the refused key changed the history: %+v", got)
	}
}
