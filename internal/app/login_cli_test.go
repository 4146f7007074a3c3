package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/app"
	"github.com/hallmark-id/hallmark/internal/cli"
	"github.com/hallmark-id/hallmark/internal/signin/signintest"
)

// TestLoginCommandAgainstRealOP runs `hallmark login` (the CLI's own command, in process)
// against a real Hallmark dev server whose party acme registered a real OpenID Provider on
// loopback: the loopback redirect of RFC 8252 with PKCE, the browser played by an HTTP client
// that fills in the OP's login form. The session lands in the user's config folder with mode
// 0600, the next command uses it, and `hallmark logout` revokes it on the server and deletes
// the file. A redirect with a wrong state is turned away and a cancelled sign-in
// (error=access_denied) ends the command with exit code 6 and no session file.
func TestLoginCommandAgainstRealOP(t *testing.T) {
	op := signintest.Start(t)
	s := app.StartDevHarness(t)
	s.Must(t, 200, "acme/admin", "PUT", "/v1/auth/providers/acme", map[string]string{"issuer": op.Issuer, "client_id": signintest.NativeClientID, "claim": "sub"})
	var carol struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(s.Must(t, 200, "acme/carol", "GET", "/v1/whoami", nil), &carol); err != nil {
		t.Fatal(err)
	}
	s.Must(t, 200, "acme/admin", "PUT", "/v1/auth/providers/acme/bindings/id-alice", map[string]string{"principal_id": carol.ID})

	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", cfg)
	for _, v := range []string{cli.EnvServer, cli.EnvToken, cli.EnvCACert} {
		t.Setenv(v, "")
	}
	global := []string{"--server", s.Info.APIURL, "--cacert", s.Info.TLSCAFile}
	sessionFile := filepath.Join(cfg, "hallmark", "session.json")

	t.Run("sign in, use, log out", func(t *testing.T) {
		l := startLogin(t, append(global, "login", "--party", "acme", "--wait", "60s"))
		authURL, redirect, _ := l.authorization(t)
		back := signintest.Browse(t, authURL, redirect, "alice")
		if status, body := get(t, back.String()); status != 200 || !strings.Contains(body, "signed in") {
			t.Fatalf("the CLI's loopback listener answered %d %q", status, body)
		}
		code, stdout, stderr := l.wait(t)
		if code != cli.ExitOK {
			t.Fatalf("login exited %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "carol ("+carol.ID+")") || !strings.Contains(stdout, sessionFile) {
			t.Errorf("login output names no principal %s or file %s:\n%s", carol.ID, sessionFile, stdout)
		}
		fi, err := os.Stat(sessionFile)
		if err != nil {
			t.Fatalf("no session file: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("session file mode %v, want 0600", fi.Mode().Perm())
		}
		var saved struct{ Token string }
		b, _ := os.ReadFile(sessionFile)
		if err := json.Unmarshal(b, &saved); err != nil || saved.Token == "" {
			t.Fatalf("session file %s: %v", b, err)
		}

		code, stdout, stderr = runCLI(t, append(global, "whoami", "-o", "json")...)
		if code != cli.ExitOK || !strings.Contains(stdout, carol.ID) {
			t.Fatalf("whoami with the saved session: exit %d\n%s%s", code, stdout, stderr)
		}
		if got := s.CallWithToken(t, saved.Token, "GET", "/v1/whoami"); got != 200 {
			t.Fatalf("the session token answers %d before logout, want 200", got)
		}

		code, stdout, stderr = runCLI(t, append(global, "logout")...)
		if code != cli.ExitOK || !strings.Contains(stdout, "Revoked") {
			t.Fatalf("logout: exit %d\n%s%s", code, stdout, stderr)
		}
		if _, err := os.Stat(sessionFile); !os.IsNotExist(err) {
			t.Errorf("logout left the session file: %v", err)
		}
		if got := s.CallWithToken(t, saved.Token, "GET", "/v1/whoami"); got != 401 {
			t.Errorf("the logged-out session answers %d, want 401", got)
		}
		code, _, stderr = runCLI(t, append(global, "--token", saved.Token, "whoami")...)
		if code != cli.ExitDenied || !strings.Contains(stderr, "revoked") {
			t.Errorf("whoami with the revoked token: exit %d, want %d\n%s", code, cli.ExitDenied, stderr)
		}
		// A legitimate caller is still served.
		s.Must(t, 200, "acme/carol", "GET", "/v1/whoami", nil)
	})

	t.Run("wrong state turned away, cancelled sign-in refused", func(t *testing.T) {
		l := startLogin(t, append(global, "login", "--party", "acme", "--wait", "60s"))
		_, redirect, state := l.authorization(t)
		wrong := redirect + "?" + url.Values{"state": {"not-" + state}, "code": {"stolen"}}.Encode()
		if status, _ := get(t, wrong); status != http.StatusBadRequest {
			t.Errorf("a redirect with a wrong state got %d, want 400", status)
		}
		cancel := redirect + "?" + url.Values{"state": {state}, "error": {"access_denied"}, "error_description": {"the user cancelled"}}.Encode()
		if status, _ := get(t, cancel); status != 200 {
			t.Errorf("the cancelled sign-in's redirect got %d", status)
		}
		code, stdout, stderr := l.wait(t)
		if code != cli.ExitDenied || !strings.Contains(stderr, "access_denied") {
			t.Errorf("cancelled login: exit %d, want %d\nstdout: %s\nstderr: %s", code, cli.ExitDenied, stdout, stderr)
		}
		if _, err := os.Stat(sessionFile); !os.IsNotExist(err) {
			t.Errorf("a cancelled login left a session file: %v", err)
		}
	})

	t.Run("browser never comes back", func(t *testing.T) {
		l := startLogin(t, append(global, "login", "--party", "acme", "--wait", "1s"))
		l.authorization(t)
		code, _, stderr := l.wait(t)
		if code != cli.ExitDenied || !strings.Contains(stderr, "--wait") {
			t.Errorf("login that timed out: exit %d, want %d\n%s", code, cli.ExitDenied, stderr)
		}
		if _, err := os.Stat(sessionFile); !os.IsNotExist(err) {
			t.Errorf("a timed-out login left a session file: %v", err)
		}
	})
}

// syncBuffer is a buffer the CLI writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// login is a `hallmark login` running in the background.
type login struct {
	stdout, stderr syncBuffer
	done           chan int
	cancel         context.CancelFunc
}

func startLogin(t *testing.T, args []string) *login {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	l := &login{done: make(chan int, 1), cancel: cancel}
	go func() { l.done <- cli.Run(ctx, args, &l.stdout, &l.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-l.done:
		case <-time.After(10 * time.Second):
		}
	})
	return l
}

// authorization waits (10 s at most) for the URL the command prints and returns it with the
// redirect URI and state it carries.
func (l *login) authorization(t *testing.T) (authURL, redirect, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, f := range strings.Fields(l.stderr.String()) {
			if u, err := url.Parse(f); err == nil && u.Query().Get("redirect_uri") != "" {
				return f, u.Query().Get("redirect_uri"), u.Query().Get("state")
			}
		}
		select {
		case code := <-l.done:
			t.Fatalf("login exited %d before printing the URL\n%s%s", code, l.stdout.String(), l.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("login printed no authorization URL within 10 s:\n%s", l.stderr.String())
	return
}

// wait waits (30 s at most) for the command to end.
func (l *login) wait(t *testing.T) (code int, stdout, stderr string) {
	t.Helper()
	select {
	case code = <-l.done:
		l.done <- code
	case <-time.After(30 * time.Second):
		t.Fatalf("login did not end within 30 s:\n%s", l.stderr.String())
	}
	return code, l.stdout.String(), l.stderr.String()
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := cli.Run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}
