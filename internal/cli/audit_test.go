package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/httpapi"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// auditServer serves the real API over the SQLite file at path, with the checkpoint key, and
// returns the CLI flags for the given token and a function that stops it.
func auditServer(t *testing.T, path string, key ed25519.PrivateKey, token string) ([]string, func()) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	al, err := auditlog.New(auditlog.Config{Store: st, Signer: key, Origin: "hallmark.test/audit"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(httpapi.New(httpapi.Config{Governance: governance.New(governance.Config{Store: st}), AuditLog: al}))
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := func() { srv.Close(); st.Close() }
	t.Cleanup(stop)
	return []string{"--server", srv.URL, "--token", token, "--cacert", ca}, stop
}

// seedAuditDB creates, through the governance service, an auditor party whose principal has
// the token "hmk_admin", a plain principal ("hmk_user") of another party and a few parties, so
// the log holds real events.
func seedAuditDB(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	root := audit.Actor{PartyID: party.Deployment, PrincipalID: "prn_root", Admin: true}
	gov := governance.New(governance.Config{Store: st})
	for _, p := range []governance.CreatePartyRequest{{ID: "ops", Name: "Ops", Kind: party.Operator}, {ID: "aud", Name: "Audit", Kind: party.Auditor}} {
		if _, err := gov.CreateParty(ctx, root, p); err != nil {
			t.Fatal(err)
		}
	}
	auditor := party.Principal{ID: "prn_admin", PartyID: "aud", Name: "auditor", Kind: party.Person, CreatedAt: now}
	user := party.Principal{ID: "prn_user", PartyID: "ops", Name: "user", Kind: party.Person, CreatedAt: now}
	exp := now.Add(24 * time.Hour)
	err = st.Update(ctx, func(tx store.Tx) error {
		for tok, p := range map[string]party.Principal{"hmk_admin": auditor, "hmk_user": user} {
			h := party.HashToken(tok)
			if err := tx.Parties().CreatePrincipal(p); err != nil {
				return err
			}
			if err := tx.Parties().CreateToken(party.Token{ID: "tok_" + p.ID, PrincipalID: p.ID, CreatedAt: now, ExpiresAt: &exp}, h[:]); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "ops", PrincipalID: "config", Action: "principal.create"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		if _, err := gov.CreateParty(ctx, root, governance.CreatePartyRequest{ID: fmt.Sprintf("maker-%d", i), Name: fmt.Sprintf("Maker <%d> & Co", i), Kind: party.Manufacturer}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditExportAndVerify(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hallmark.db")
	seedAuditDB(t, path)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	flags, stop := auditServer(t, path, key, "hmk_admin")

	keyFile, export := filepath.Join(dir, "audit.vkey"), filepath.Join(dir, "audit.jsonl")
	code, vkey, stderr := run(t, append(flags, "audit", "key")...)
	if code != 0 || !strings.HasPrefix(vkey, "hallmark.test/audit+") {
		t.Fatalf("audit key: %d %q %s", code, vkey, stderr)
	}
	os.WriteFile(keyFile, []byte(vkey), 0o600)
	if code, out, stderr := run(t, append(flags, "audit", "checkpoint", "--new")...); code != 0 || !strings.HasPrefix(out, "hallmark.test/audit\n") {
		t.Fatalf("audit checkpoint: %d %q %s", code, out, stderr)
	}
	if code, _, stderr := run(t, append(flags, "audit", "export", "--out", export)...); code != 0 {
		t.Fatalf("audit export: %d %s", code, stderr)
	}
	checkProofsThroughAPI(t, flags, strings.TrimSpace(vkey))
	stop()
	// Offline: the server is gone.
	code, out, stderr := run(t, "audit", "verify", "--file", export, "--key", keyFile)
	if code != 0 || !strings.Contains(out, "OK:") {
		t.Fatalf("audit verify: %d %q %s", code, out, stderr)
	}

	// A principal that is neither auditor nor administrator may not read checkpoints.
	userFlags, _ := auditServer(t, path, key, "hmk_user")
	if code, _, stderr := run(t, append(userFlags, "audit", "checkpoint")...); code != ExitDenied {
		t.Errorf("checkpoint as a plain principal: exit %d %s", code, stderr)
	}

	// Tamper with the stopped server's database, serve it again, export the latest
	// checkpoint's events: verify names the first bad entry.
	for _, tc := range []struct{ name, stmt, want string }{
		{"alter", `UPDATE audit_events SET subject = 'party:nobody' WHERE seq = 5`, "index 4"},
		{"delete", `DELETE FROM audit_events WHERE seq = 8`, "index 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "copy.db")
			copyFile(t, path, p)
			db, err := sql.Open("sqlite", "file:"+p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tc.stmt); err != nil {
				t.Fatal(err)
			}
			db.Close()
			flags, stop := auditServer(t, p, key, "hmk_admin")
			out := filepath.Join(t.TempDir(), "e.jsonl")
			if code, _, stderr := run(t, append(flags, "audit", "export", "--latest", "--out", out)...); code != 0 {
				t.Fatalf("export: %d %s", code, stderr)
			}
			stop()
			code, _, stderr := run(t, "audit", "verify", "--file", out, "--key", keyFile)
			if code != ExitInvalid || !strings.Contains(stderr, tc.want) {
				t.Fatalf("verify after %s: exit %d, %s", tc.name, code, stderr)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkProofsThroughAPI fetches a checkpoint and proofs with the typed client and checks
// them as an auditor would.
func checkProofsThroughAPI(t *testing.T, flags []string, vkey string) {
	t.Helper()
	ctx := context.Background()
	c, err := client.New(flags[1], flags[3], client.WithCAFile(flags[5]))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := c.AuditCheckpoint(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := auditlog.OpenCheckpoint(signed, v)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < cp.Size; i++ {
		p, err := c.AuditInclusionProof(ctx, i, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, p.LeafHash, p.Hashes, cp.Root); err != nil {
			t.Fatalf("inclusion of leaf %d: %v", i, err)
		}
	}
	p, err := c.AuditConsistencyProof(ctx, 3, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 3, cp.Size, p.Hashes, p.FromRoot, cp.Root); err != nil {
		t.Fatalf("consistency: %v", err)
	}
	if _, err := c.AuditInclusionProof(ctx, cp.Size, cp.Size); failure.KindOf(err) != failure.Invalid {
		t.Errorf("a leaf beyond the size: %v, want invalid", err)
	}
}
