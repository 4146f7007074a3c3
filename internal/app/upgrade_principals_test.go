package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// buildMainBefore builds cmd/hallmark as it was just before principal tokens came (the parent
// of the commit that added the *_principal_tokens.sql migration), from this repository's git
// history, into a temporary folder. It skips without git or that history.
func buildMainBefore(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			t.Skipf("git %s: %v: the upgrade from main needs this repository's history", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	added := strings.Fields(git("log", "--diff-filter=A", "--format=%H", "--", "internal/store/sqlite/migrations/*_principal_tokens.sql"))
	if len(added) == 0 {
		t.Skip("no commit adds the principal tokens migration")
	}
	base := git("rev-parse", added[len(added)-1]+"^")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	archive := exec.CommandContext(ctx, "sh", "-c", "git -C \"$0\" archive \"$1\" | tar -x -C \"$2\"", root, base, dir)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", base, err, out)
	}
	bin := filepath.Join(t.TempDir(), "hallmark-main")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hallmark")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building main at %s: %v\n%s", base, err, out)
	}
	return bin
}

// attachDev reads a dev server's dev.json and tokens from dir.
func attachDev(t *testing.T, dir string) *devServer {
	t.Helper()
	s := &devServer{dir: dir}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "dev.json"))
		if err == nil && json.Unmarshal(b, &s.info) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dev server did not write dev.json within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, err := os.ReadFile(s.info.TokenFile)
	if err != nil || json.Unmarshal(b, &s.tokens) != nil {
		t.Fatalf("reading the tokens: %v", err)
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(s.info.TLSCAFile)
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("reading the dev TLS CA: %v", err)
	}
	s.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return s
}

// TestUpgradeFromMain (point 5): a dev database made by main's binary keeps working under
// this version. Its tokens get an expiry at the first start (configurable), the old
// administrator becomes the deployment administrator, and everyone else keeps working.
func TestUpgradeFromMain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds main's binary")
	}
	bin := buildMainBefore(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	old := exec.CommandContext(ctx, bin, "serve", "--dev", "--data", data, "--listen", "127.0.0.1:0")
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = old.Process.Kill(); _ = old.Wait() }()
	o := attachDev(t, data)
	// What main's users did: acme's lot, and, as main's administrator (contoso/admin), a new
	// party with a principal.
	lot := demoLot(t, o, "lot-main")
	o.must(t, 201, "contoso/admin", "POST", "/v1/parties", map[string]any{"id": "initech", "name": "Initech", "kind": "manufacturer"})
	var ian struct{ ID, Token string }
	o.must(t, 201, "contoso/admin", "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "ian"}).json(t, &ian)
	var oldAdmin struct{ ID string }
	o.must(t, 200, "contoso/admin", "GET", "/v1/whoami", nil).json(t, &oldAdmin)
	_ = old.Process.Signal(syscall.SIGTERM)
	_ = old.Wait()

	// A copy for the configured upgrade lifetime, opened without a server.
	copyDir(t, data, filepath.Join(dir, "copy"))

	start := time.Now().UTC()
	s := startDevOpts(t, Options{DataDir: data})
	s.tokens["initech/ian"] = ian.Token
	s.tokens[deployAdmin] = s.tokens["contoso/admin"] // main's administrator, now of the deployment
	var me struct {
		PartyID string `json:"party_id"`
		Admin   bool   `json:"admin"`
	}
	s.must(t, 200, "contoso/admin", "GET", "/v1/whoami", nil).json(t, &me)
	if me.PartyID != party.Deployment || !me.Admin {
		t.Fatalf("main's administrator after the upgrade: %+v, want a deployment administrator", me)
	}
	for _, who := range []string{alice, oscar, "initech/ian", audrey} {
		s.must(t, 200, who, "GET", "/v1/whoami", nil)
	}
	if r := s.must(t, 200, alice, "GET", "/v1/lots?manufacturer=acme", nil); !strings.Contains(string(r.Body), lot) {
		t.Fatalf("acme's lot made under main is gone: %s", r.Body)
	}
	ids := principalIDs(t, s, "acme")
	toks := tokensOf(t, s, alice, ids[alice])
	if len(toks) != 1 || toks[0].ExpiresAt == nil || toks[0].State != "active" {
		t.Fatalf("alice's token after the upgrade: %+v", toks)
	}
	if d := toks[0].ExpiresAt.Sub(start); d < 30*24*time.Hour-time.Minute || d > 30*24*time.Hour+5*time.Minute {
		t.Fatalf("a token from main expires %s after the first start, want 30 days (the default)", d)
	}
	upgrades := 0
	for _, e := range auditEvents(t, s) {
		if e.Action == "principal.token.upgrade" {
			upgrades++
		}
	}
	if upgrades != 1 {
		t.Fatalf("%d principal.token.upgrade events, want 1", upgrades)
	}
	// The old administrator no longer acts as contoso, and makes contoso's first
	// administrator (no party has one after the upgrade), who manages contoso from then on.
	refused(t, s.call(t, "contoso/admin", "POST", "/v1/principals", map[string]any{"party_id": "contoso", "name": "probe"}), 403, "first administrator")
	var ca struct{ Token string }
	s.must(t, 201, "contoso/admin", "POST", "/v1/principals", map[string]any{"party_id": "contoso", "name": "contoso-admin", "admin": true}).json(t, &ca)
	s.tokens["contoso/contoso-admin"] = ca.Token
	s.must(t, 201, "contoso/contoso-admin", "POST", "/v1/principals", map[string]any{"party_id": "contoso", "name": "olga"})
	refused(t, s.call(t, "contoso/admin", "POST", "/v1/principals", map[string]any{"party_id": "contoso", "name": "probe", "admin": true}), 403, "administrator of that party")
	s.stop()

	// principals.upgrade_token_lifetime: 48h, and a second start changes nothing.
	for round := range 2 {
		st, err := sqlite.Open(context.Background(), filepath.Join(dir, "copy", "hallmark.db"))
		if err != nil {
			t.Fatal(err)
		}
		pass, err := os.ReadFile(filepath.Join(dir, "copy", "dev-key-passphrase"))
		if err != nil {
			t.Fatal(err)
		}
		kp, err := keyfile.New(filepath.Join(dir, "copy", "keys"), keys.Secret(strings.TrimSpace(string(pass))))
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now().UTC()
		if _, err := Build(Wiring{Store: st, Keys: kp, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Principals: PrincipalLimits{UpgradeTokenLifetime: 48 * time.Hour}}); err != nil {
			t.Fatal(err)
		}
		_ = st.View(context.Background(), func(tx store.Tx) error {
			rows, err := tx.Parties().ListTokens(store.TokenFilter{})
			if err != nil || len(rows) < 10 {
				t.Fatalf("the copy's tokens: %d, %v", len(rows), err)
			}
			for _, r := range rows {
				if r.Token.ExpiresAt == nil {
					t.Fatalf("round %d: token %s has no expiry", round, r.Token.ID)
				}
				if d := r.Token.ExpiresAt.Sub(at); round == 0 && (d < 48*time.Hour-time.Minute || d > 48*time.Hour+time.Minute) {
					t.Fatalf("token %s expires %s after the start, want 48h (configured)", r.Token.ID, d)
				} else if round == 1 && d > 48*time.Hour {
					t.Fatalf("a second start moved token %s's expiry to %s after it", r.Token.ID, d)
				}
			}
			return nil
		})
		st.Close()
	}
}

// copyDir copies the regular files of src (recursively) to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
