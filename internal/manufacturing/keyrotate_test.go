package manufacturing_test

import (
	"crypto"
	"testing"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
)

// TestRotateBuildRecordKey: after a rotation new records are signed by the new key, the key
// history holds both (current first), and a record signed before the rotation verifies with
// the history — by the old key, which its keyid names — and not with the new key alone.
// Only the manufacturer rotates; a manufacturer without a key has nothing to rotate.
func TestRotateBuildRecordKey(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, false)
	before := w.issue(t, "alice", l, "SN-1")

	n := w.events(t)
	wantErr(t, errOnly(w.svc.RotateBuildRecordKey(ctx, w.actors["gina"], "acme")), failure.Denied, "")
	wantErr(t, errOnly(w.svc.RotateBuildRecordKey(ctx, w.actors["cindy"], "acme")), failure.Denied, "")
	wantErr(t, errOnly(w.svc.RotateBuildRecordKey(ctx, w.actors["gina"], "globex")), failure.Conflict, "no build-record key yet")
	wantErr(t, errOnly(w.svc.RotateBuildRecordKey(ctx, w.actors["alice"], "op")), failure.Invalid, "")
	if got := w.events(t); got != n {
		t.Fatalf("refused rotations changed the audit log: %d → %d events", n, got)
	}

	next, err := w.svc.RotateBuildRecordKey(ctx, w.actors["alice"], "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got := w.events(t); got != n+1 {
		t.Fatalf("a rotation appended %d events, want 1", got-n)
	}
	after := w.issue(t, "alice", l, "SN-2")

	history, err := w.svc.BuildRecordKeys(ctx, "acme")
	if err != nil || len(history) != 2 || history[0].ID != next.ID || history[0].RetiredAt != nil || history[1].RetiredAt == nil {
		t.Fatalf("key history = %+v, %v; want the new key, then the retired one", history, err)
	}
	set, err := w.svc.BuildRecordKeySetPEM(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := buildrecord.ParsePublicKeysPEM([]byte(set))
	if err != nil || len(pubs) != 2 {
		t.Fatalf("the published key set: %d keys, %v", len(pubs), err)
	}
	verify := func(rec []byte, keys []crypto.PublicKey) (*buildrecord.Verified, error) {
		env, err := buildrecord.ParseEnvelope(rec)
		if err != nil {
			t.Fatal(err)
		}
		return buildrecord.VerifyKeys(env, keys)
	}
	v, err := verify(before.BuildRecord, pubs)
	if err != nil || v.KeyID != history[1].DSSEKeyID {
		t.Fatalf("the record signed before the rotation: %v, key %v; want the retired key %s", err, v, history[1].DSSEKeyID)
	}
	if _, err := verify(before.BuildRecord, pubs[:1]); err == nil {
		t.Fatal("the record signed before the rotation verified with the new key alone")
	}
	if v, err := verify(after.BuildRecord, pubs); err != nil || v.KeyID != next.DSSEKeyID {
		t.Fatalf("the record signed after the rotation: %v; want the new key %s", err, next.DSSEKeyID)
	}
	// The single-key route names the current key.
	cur, err := w.svc.BuildRecordKeyPEM(ctx, "acme")
	if err != nil || cur != next.PublicKeyPEM {
		t.Fatalf("BuildRecordKeyPEM after the rotation = %v, want the new key", err)
	}
	if _, err := w.svc.BuildRecordKeys(ctx, "globex"); !failure.Is(err, failure.NotFound) {
		t.Fatalf("the key history of a manufacturer without keys = %v, want not found", err)
	}
}

// TestRotationSeenByEveryReplica: a replica caches the build-record signer it used, and a
// rotation made by another replica still takes effect on it from its very next issuance (the
// bound: no request after the rotation committed is signed with the old key), because which
// key is current is read from the database on every issuance.
func TestRotationSeenByEveryReplica(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, false)
	other := w.replica(t)
	keyOf := func(fi manufacturing.FactoryIdentity) string {
		t.Helper()
		env, err := buildrecord.ParseEnvelope(fi.BuildRecord)
		if err != nil {
			t.Fatal(err)
		}
		set, err := w.svc.BuildRecordKeySetPEM(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		pubs, err := buildrecord.ParsePublicKeysPEM([]byte(set))
		if err != nil {
			t.Fatal(err)
		}
		v, err := buildrecord.VerifyKeys(env, pubs)
		if err != nil {
			t.Fatal(err)
		}
		return v.KeyID
	}
	issueOn := func(svc *manufacturing.Service, serial string) manufacturing.FactoryIdentity {
		t.Helper()
		_, c := csrPEM(t)
		fi, err := svc.IssueFactory(ctx, w.actors["alice"], manufacturing.IssueFactoryRequest{LotID: l.lot.ID, CSR: c, BuildRecord: w.record(serial)})
		if err != nil {
			t.Fatalf("issuing %s: %v", serial, err)
		}
		return fi
	}
	first := issueOn(other, "SN-1") // makes the key; the replica caches its signer
	if again := issueOn(other, "SN-2"); keyOf(again) != keyOf(first) {
		t.Fatal("two issuances without a rotation used different keys")
	}
	next, err := w.svc.RotateBuildRecordKey(ctx, w.actors["alice"], "acme")
	if err != nil {
		t.Fatal(err)
	}
	after := issueOn(other, "SN-3")
	if got := keyOf(after); got != next.DSSEKeyID || got == keyOf(first) {
		t.Fatalf("the replica signed after the rotation with key %s, want the new key %s", got, next.DSSEKeyID)
	}
}
