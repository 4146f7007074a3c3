package auditlog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

const origin = "hallmark.test/audit"

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC)
)

func newKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openSQLite(t testing.TB, path string) store.Store {
	t.Helper()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newService(t testing.TB, st store.Store, key ed25519.PrivateKey) *auditlog.Service {
	t.Helper()
	svc, err := auditlog.New(auditlog.Config{Store: st, Signer: key, Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// appendEvents appends n events, several per transaction, as services do.
func appendEvents(t testing.TB, st store.Store, n int) {
	t.Helper()
	for i := 0; i < n; {
		err := st.Update(ctx, func(tx store.Tx) error {
			for j := 0; j < 3 && i+j < n; j++ {
				e := audit.Event{At: t0.Add(time.Duration(i+j) * time.Second), PartyID: "acme", PrincipalID: "prn_1",
					Action: "device.issue", Stage: "manufacturing", Scope: "lot:lot_1", Subject: fmt.Sprintf("device:dev_%d", i+j),
					Detail: audit.Detail(map[string]any{"serial": fmt.Sprint(i + j), "html": "<b>&</b>", "n": 1.5})}
				if _, err := tx.Audit().Append(e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		i += 3
	}
}

// eachStore runs fn on a fresh SQLite store, and on a fresh PostgreSQL schema when
// HALLMARK_TEST_POSTGRES is set.
func eachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		st := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
		defer st.Close()
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st := pgStore(t)
		defer st.Close()
		fn(t, st)
	})
}

func TestCheckpointAndProofs(t *testing.T) { eachStore(t, testCheckpointAndProofs) }

func testCheckpointAndProofs(t *testing.T, st store.Store) {
	key := newKey(t)
	svc := newService(t, st, key)
	v, err := note.NewVerifier(svc.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}

	// The empty tree has a checkpoint too.
	signed, err := svc.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := auditlog.OpenCheckpoint(signed, v)
	if err != nil || cp.Size != 0 || !bytes.Equal(cp.Root, rfc6962.DefaultHasher.EmptyRoot()) {
		t.Fatalf("empty checkpoint %+v, %v", cp, err)
	}

	var roots [][]byte
	sizes := []uint64{1, 2, 3, 7, 8, 9, 16, 17, 33}
	for _, size := range sizes {
		appendEvents(t, st, int(size)-int(cp.Size))
		signed, err := svc.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp, err = auditlog.OpenCheckpoint(signed, v); err != nil || cp.Size != size {
			t.Fatalf("checkpoint at %d: %+v, %v", size, cp, err)
		}
		if !strings.HasPrefix(string(signed), origin+"\n"+fmt.Sprint(size)+"\n") {
			t.Fatalf("checkpoint text:\n%s", signed)
		}
		roots = append(roots, cp.Root)
		// On demand again with no new event: the same checkpoint.
		again, _ := svc.Checkpoint(ctx)
		if !bytes.Equal(again, signed) {
			t.Fatal("a second checkpoint of the same size differs")
		}
		for i := uint64(0); i < size; i++ {
			p, err := svc.InclusionProof(ctx, i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, p.LeafHash, p.Hashes, cp.Root); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", i, size, err)
			}
		}
	}
	for i, from := range sizes {
		for j := i; j < len(sizes); j++ {
			to := sizes[j]
			p, err := svc.ConsistencyProof(ctx, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, from, to, p.Hashes, roots[i], roots[j]); err != nil {
				t.Fatalf("consistency %d -> %d: %v", from, to, err)
			}
		}
	}
	// The leaf hash in a proof is the event's leaf.
	var e audit.Event
	_ = st.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Audit().List(4, 1)
		e = evs[0]
		return err
	})
	p, _ := svc.InclusionProof(ctx, 4, 0)
	if want, _ := audit.LeafHash(e); !bytes.Equal(p.LeafHash, want) || p.Size != 33 {
		t.Errorf("proof for leaf 4: %+v", p)
	}
	if _, err := svc.InclusionProof(ctx, 40, 33); err == nil {
		t.Error("a proof for a leaf beyond the size")
	}
	if _, err := svc.ConsistencyProof(ctx, 3, 34); err == nil {
		t.Error("a proof to a size beyond the tree")
	}
	// A checkpoint from another key does not verify.
	other, _ := auditlog.NewNoteSigner(origin, newKey(t))
	ov, _ := note.NewVerifier(other.VerifierKey())
	if _, err := auditlog.OpenCheckpoint(signed, ov); err == nil {
		t.Error("checkpoint verified with another key")
	}
}

func TestRunCheckpointsOnAnInterval(t *testing.T) {
	st := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	svc := newService(t, st, newKey(t))
	appendEvents(t, st, 5)
	c, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- svc.Run(c, 10*time.Millisecond) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var size uint64
		_ = st.View(ctx, func(tx store.Tx) error {
			cp, err := tx.AuditTree().LatestCheckpoint()
			size = cp.Size
			return err
		})
		if size == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint of size 5 from Run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNoteSignerMatchesNoteEd25519(t *testing.T) {
	key := newKey(t)
	ns, err := auditlog.NewNoteSigner(origin, key)
	if err != nil {
		t.Fatal(err)
	}
	// note's own signer over the same key must have the same verifier key and hash.
	skey := "PRIVATE+KEY+" + origin + "+" + fmt.Sprintf("%08x", ns.KeyHash()) + "+" + b64(append([]byte{1}, key.Seed()...))
	ref, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	msg := &note.Note{Text: "hello\n"}
	a, _ := note.Sign(msg, ns)
	b, _ := note.Sign(msg, ref)
	if !bytes.Equal(a, b) {
		t.Fatalf("signed notes differ:\n%s\n%s", a, b)
	}
	if _, err := auditlog.NewNoteSigner("bad name", key); err == nil {
		t.Error("a name with a space was accepted")
	}
}

// tamper opens the SQLite file the way an attacker with database access would.
func tamper(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	cases := []struct {
		name   string
		stmts  []string
		index  uint64
		reason string
	}{
		{"untouched", nil, 0, ""},
		{"altered action", []string{`UPDATE audit_events SET action = 'device.nothing' WHERE seq = 6`}, 5, "altered"},
		{"altered detail", []string{`UPDATE audit_events SET detail = '{"serial":"x"}' WHERE seq = 11`}, 10, "altered"},
		{"altered time", []string{`UPDATE audit_events SET at = at + 1 WHERE seq = 20`}, 19, "altered"},
		{"altered leaf hash too", []string{`UPDATE audit_events SET subject = 'device:other', leaf_hash = X'00' WHERE seq = 7`}, 6, "altered"},
		{"deleted", []string{`DELETE FROM audit_events WHERE seq = 9`}, 8, "missing"},
		{"deleted last", []string{`DELETE FROM audit_events WHERE seq = 25`}, 24, "missing"},
		{"deleted and renumbered", []string{`DELETE FROM audit_events WHERE seq = 4`, `UPDATE audit_events SET seq = seq - 1 WHERE seq > 4`}, 3, "altered"},
		{"reordered", []string{
			`UPDATE audit_events SET seq = -1 WHERE seq = 13`,
			`UPDATE audit_events SET seq = 13 WHERE seq = 14`,
			`UPDATE audit_events SET seq = 14 WHERE seq = -1`,
		}, 12, "altered"},
		{"reordered with hashes", []string{
			`UPDATE audit_events SET seq = -1 WHERE seq = 2`,
			`UPDATE audit_events SET seq = 2 WHERE seq = 3`,
			`UPDATE audit_events SET seq = 3 WHERE seq = -1`,
			`UPDATE audit_events SET leaf_hash = (SELECT n.leaf_hash FROM audit_events n WHERE n.seq = 3) WHERE seq = 2`,
		}, 1, "altered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hallmark.db")
			key := newKey(t)
			st := openSQLite(t, path)
			svc := newService(t, st, key)
			appendEvents(t, st, 25)
			if _, err := svc.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			st.Close()

			tamper(t, path, tc.stmts...)

			st = openSQLite(t, path)
			defer st.Close()
			svc = newService(t, st, key)
			var buf bytes.Buffer
			if _, err := auditlog.Export(ctx, svc.Source(), &buf, false); err != nil {
				t.Fatal(err)
			}
			res, err := auditlog.Verify(bytes.NewReader(buf.Bytes()), svc.VerifierKey())
			if tc.reason == "" {
				if err != nil || res.Size != 25 {
					t.Fatalf("verify = %+v, %v", res, err)
				}
				return
			}
			var bad *auditlog.BadEntryError
			if !errors.As(err, &bad) {
				t.Fatalf("verify = %v, want a bad entry", err)
			}
			if bad.Index != tc.index || !strings.Contains(bad.Reason, tc.reason) {
				t.Fatalf("verify named %v; want index %d, %q", bad, tc.index, tc.reason)
			}
			t.Log(bad)
		})
	}
}

func TestVerifyRefusesABadSignatureOrFile(t *testing.T) {
	st := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	svc := newService(t, st, newKey(t))
	appendEvents(t, st, 4)
	var buf bytes.Buffer
	if _, err := auditlog.Export(ctx, svc.Source(), &buf, true); err != nil {
		t.Fatal(err)
	}
	other, _ := auditlog.NewNoteSigner(origin, newKey(t))
	if _, err := auditlog.Verify(bytes.NewReader(buf.Bytes()), other.VerifierKey()); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("another key: %v", err)
	}
	if _, err := auditlog.Verify(strings.NewReader("{}\n"), svc.VerifierKey()); err == nil {
		t.Error("a file without a header verified")
	}
	// Reordering lines of the file (not the database) is caught at the first moved line.
	lines := strings.SplitAfter(buf.String(), "\n")
	lines[2], lines[3] = lines[3], lines[2]
	_, err := auditlog.Verify(strings.NewReader(strings.Join(lines, "")), svc.VerifierKey())
	var bad *auditlog.BadEntryError
	if !errors.As(err, &bad) || bad.Index != 1 {
		t.Errorf("reordered lines: %v", err)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func ed25519FromSeed(seed []byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(seed) }
