package auditlog_test

import (
	"bytes"
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/party"
)

// TestRotateCheckpointKey: an administrator rotates the checkpoint key; checkpoints signed
// before verify with the key history as they did, the first one after is signed by both keys
// (so the old key alone verifies it), later ones by the new key alone; a second replica on
// the same store signs with the new key from its next checkpoint; an export made after the
// rotation verifies with the history. Others may not rotate, and a refusal changes nothing.
func TestRotateCheckpointKey(t *testing.T) {
	dir := t.TempDir()
	st := openSQLite(t, filepath.Join(dir, "h.db"))
	defer st.Close()
	kp, err := keyfile.New(filepath.Join(dir, "keys"), keys.Secret("auditlog-test"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := auditlog.LoadOrCreateKey(ctx, kp, auditlog.DefaultKeyID)
	if err != nil {
		t.Fatal(err)
	}
	replica := func() *auditlog.Service {
		svc, err := auditlog.New(auditlog.Config{Store: st, Signer: first, Origin: origin, Keys: kp})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	a, b := replica(), replica()
	oldKey := a.VerifierKey()
	appendEvents(t, st, 5)
	before, err := a.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hist, err := a.KeyHistory(ctx); err != nil || len(hist) != 1 || hist[0].VerifierKey != oldKey {
		t.Fatalf("key history before any rotation = %+v, %v; want the one key", hist, err)
	}

	// An auditor, a principal and a party's administrator are refused: the key is the deployment's.
	for _, who := range []audit.Actor{{PartyID: "auditco", PrincipalID: "audrey"}, {PartyID: "acme", PrincipalID: "alice"}, {PartyID: "acme", PrincipalID: "acme-admin", Admin: true}} {
		if _, err := a.RotateKey(ctx, who); !failure.Is(err, failure.Denied) {
			t.Fatalf("a rotation by %s = %v, want denied", who.PrincipalID, err)
		}
	}
	if hist, _ := a.KeyHistory(ctx); len(hist) != 1 {
		t.Fatalf("a refused rotation changed the history: %+v", hist)
	}

	k, err := a.RotateKey(ctx, audit.Actor{PartyID: party.Deployment, PrincipalID: "root", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if k.VerifierKey == oldKey || a.VerifierKey() != k.VerifierKey {
		t.Fatalf("after the rotation the key is %s, want a new one (%s)", a.VerifierKey(), k.VerifierKey)
	}
	hist, err := a.KeyHistory(ctx)
	if err != nil || len(hist) != 2 || hist[0].KeyID != k.KeyID || hist[0].RetiredAt != nil || hist[1].VerifierKey != oldKey || hist[1].RetiredAt == nil {
		t.Fatalf("key history = %+v, %v; want the new key, then the retired one", hist, err)
	}
	oldV, newV := verifier(t, oldKey), verifier(t, k.VerifierKey)

	// The checkpoint the rotation made is signed by both keys.
	bridge, err := a.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]note.Verifier{"old": oldV, "new": newV} {
		if _, err := auditlog.OpenCheckpointKeys(bridge, []note.Verifier{v}); err != nil {
			t.Errorf("the first checkpoint after the rotation does not verify with the %s key alone: %v", name, err)
		}
	}
	// Before the rotation: the old key, alone or in the history; not the new key alone.
	if _, err := auditlog.OpenCheckpointKeys(before, []note.Verifier{newV, oldV}); err != nil {
		t.Errorf("a checkpoint signed before the rotation does not verify with the history: %v", err)
	}
	if _, err := auditlog.OpenCheckpointKeys(before, []note.Verifier{newV}); err == nil {
		t.Error("a checkpoint signed before the rotation verified with the new key alone")
	}

	// The other replica signs its next checkpoint with the new key.
	appendEvents(t, st, 2)
	later, err := b.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auditlog.OpenCheckpointKeys(later, []note.Verifier{newV}); err != nil {
		t.Fatalf("the other replica's checkpoint does not verify with the new key: %v", err)
	}
	if _, err := auditlog.OpenCheckpointKeys(later, []note.Verifier{oldV}); err == nil {
		t.Fatal("a checkpoint after the rotation verified with the retired key")
	}
	if b.VerifierKey() != k.VerifierKey {
		t.Fatal("the other replica still names the old key")
	}

	// An export after the rotation verifies with the key file of the history.
	var buf bytes.Buffer
	if _, err := auditlog.Export(ctx, b.Source(), &buf, true); err != nil {
		t.Fatal(err)
	}
	file := "# audit checkpoint keys\n" + hist[0].VerifierKey + "\n\n" + hist[1].VerifierKey + "\n"
	vs, err := auditlog.ParseVerifierKeys([]byte(file))
	if err != nil || len(vs) != 2 {
		t.Fatalf("ParseVerifierKeys = %d, %v", len(vs), err)
	}
	if res, err := auditlog.VerifyKeys(bytes.NewReader(buf.Bytes()), vs); err != nil || res.Size != 8 {
		t.Fatalf("the export after the rotation = %+v, %v; want 8 events", res, err)
	}
	if _, err := auditlog.Verify(bytes.NewReader(buf.Bytes()), oldKey); err == nil {
		t.Fatal("the export after the rotation verified with the retired key alone")
	}
}

func verifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestParseVerifierKeys reads key files of one and several keys and refuses anything else.
func TestParseVerifierKeys(t *testing.T) {
	vkey := func() string {
		k := newKey(t)
		v, err := note.NewEd25519VerifierKey(origin, k.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	one, two := vkey(), vkey()
	if vs, err := auditlog.ParseVerifierKeys([]byte(one)); err != nil || len(vs) != 1 {
		t.Fatalf("one key without a newline = %d, %v", len(vs), err)
	}
	if vs, err := auditlog.ParseVerifierKeys([]byte("  " + one + "\r\n# retired\n" + two + "\n")); err != nil || len(vs) != 2 {
		t.Fatalf("two keys with a comment = %d, %v", len(vs), err)
	}
	for _, bad := range []struct {
		name, text string
		kind       failure.Kind
		msg        string
	}{
		{"empty", "", failure.Invalid, "no verifier key"},
		{"comments only", "# nothing\n\n", failure.Invalid, "no verifier key"},
		{"a line that is no key", one + "\nhello\n", failure.Invalid, "line 2"},
		{"too many keys", strings.Repeat(one+"\n", auditlog.MaxVerifierKeys+1), failure.Invalid, "more than"},
		{"too large", strings.Repeat("#", auditlog.MaxVerifierKeysSize+1), failure.TooLarge, "over the limit"},
	} {
		_, err := auditlog.ParseVerifierKeys([]byte(bad.text))
		if !failure.Is(err, bad.kind) || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("ParseVerifierKeys(%s) = %v, want %s naming %q", bad.name, err, bad.kind, bad.msg)
		}
	}
}

// FuzzParseVerifierKeys checks that key files never panic, every error is classified, and an
// accepted file holds 1 to MaxVerifierKeys keys.
func FuzzParseVerifierKeys(f *testing.F) {
	real, err := note.NewEd25519VerifierKey(origin, ed25519FromSeed(bytes.Repeat([]byte{7}, 32)).Public().(ed25519.PublicKey))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		real, real + "\n# retired\n" + real + "\n",
		"hallmark.test/audit+a1b2c3d4+AQ" + strings.Repeat("A", 42) + "=\n",
		"# keys\nhallmark/audit+00000000+ARs" + strings.Repeat("x", 40) + "\n",
		"origin+zzzz+AAAA\n",
		"\n\n#\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, err := auditlog.ParseVerifierKeys(data)
		if err != nil {
			if k := failure.KindOf(err); k != failure.Invalid && k != failure.TooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if len(vs) == 0 || len(vs) > auditlog.MaxVerifierKeys {
			t.Fatalf("accepted %d keys", len(vs))
		}
	})
}
