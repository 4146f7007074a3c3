package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// savedSession is $XDG_CONFIG_HOME/hallmark/session.json (mode 0600): the session of the
// last hallmark login, used by later commands when no --token or HALLMARK_TOKEN is given.
type savedSession struct {
	Server  string      `json:"server"`
	Token   string      `json:"token"`
	Session api.Session `json:"session"`
	Dev     bool        `json:"dev,omitempty"`
}

// sessionPath is where the session is kept.
func sessionPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's config folder: %w", err)
	}
	return filepath.Join(dir, "hallmark", "session.json"), nil
}

// writeSession stores s with 0600 permissions (the folder 0700), replacing any older one.
func writeSession(s savedSession) (string, error) {
	p, err := sessionPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", fmt.Errorf("writing the session: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// loadSession reads the saved session for server; ok is false when there is none for it or
// it has expired.
func loadSession(server string) (savedSession, bool) {
	p, err := sessionPath()
	if err != nil {
		return savedSession{}, false
	}
	b, err := os.ReadFile(p)
	if err != nil || len(b) > 64<<10 {
		return savedSession{}, false
	}
	var s savedSession
	if json.Unmarshal(b, &s) != nil || s.Server != server || s.Token == "" || !time.Now().Before(s.Session.ExpiresAt) {
		return savedSession{}, false
	}
	return s, true
}

func (e *env) loginCommand() *cobra.Command {
	var partyID, person string
	var dev bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in with your party's identity provider and keep the session",
		Long: `Login signs you in with OpenID Connect against your party's identity provider: it listens
on a loopback port (RFC 8252), prints (it never opens) the provider's sign-in URL for your browser, waits for
the provider to send the browser back, and trades the code for a Hallmark session. The session
is kept in the user's config folder (hallmark/session.json, mode 0600) and used by later
commands when no --token is given; it lasts 8 hours by default (the server's
signin.session_ttl). "hallmark logout" revokes it. A sign-in the provider refused or you
cancelled, or a browser that does not come back within --wait, exits 6 and saves nothing.

With --dev, against "hallmark serve --dev" only, it signs in as a demo person without any
identity provider.`,
		Example: `  hallmark login --server https://hallmark.example.com --party acme
  hallmark login --dev --party acme --person alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if partyID == "" {
				return usagef("give --party, the party whose identity provider you sign in with")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			var got api.SessionWithToken
			if dev {
				if person == "" {
					return usagef("--dev needs --person, e.g. --person alice")
				}
				got, err = c.DevSignin(cmd.Context(), partyID+"/"+person)
			} else {
				got, err = e.loopbackLogin(cmd.Context(), c, partyID, wait)
			}
			if err != nil {
				return err
			}
			p, err := writeSession(savedSession{Server: firstNonEmpty(e.server, os.Getenv(EnvServer)), Token: got.Token, Session: got.Session, Dev: got.Dev})
			if err != nil {
				return err
			}
			return e.emit(got.Session, []string{got.Session.ID}, func(w io.Writer) {
				kv(w, "Session", got.Session.ID)
				kv(w, "Principal", e.signedInAs(cmd.Context(), got))
				kv(w, "Party", got.Session.PartyID)
				kv(w, "Expires", got.Session.ExpiresAt.Format(time.RFC3339))
				kv(w, "Saved", p)
				if got.Dev {
					kv(w, "Dev", "yes: a dev sign-in, which no real deployment offers")
				}
			})
		},
	}
	cmd.Flags().StringVar(&partyID, "party", "", "the party whose identity provider you sign in with")
	cmd.Flags().DurationVar(&wait, "wait", 5*time.Minute, "how long to wait for the browser to come back")
	cmd.Flags().BoolVar(&dev, "dev", false, "sign in as a demo person of a serve --dev server (no identity provider)")
	cmd.Flags().StringVar(&person, "person", "", "with --dev: the demo person's name, e.g. alice")
	return cmd
}

// signedInAs is "name (ID)" of the session's principal, read with the new session's token, or
// the ID alone when that read fails.
func (e *env) signedInAs(ctx context.Context, got api.SessionWithToken) string {
	saved := e.token
	e.token = got.Token
	defer func() { e.token = saved }()
	c, err := e.client()
	if err != nil {
		return got.Session.PrincipalID
	}
	if p, err := c.Whoami(ctx); err == nil && p.Name != "" {
		return p.Name + " (" + got.Session.PrincipalID + ")"
	}
	return got.Session.PrincipalID
}

// loopbackLogin runs the RFC 8252 loopback redirect: listen on 127.0.0.1:0, print the URL,
// take the first request to /callback that carries the state, and finish the sign-in.
func (e *env) loopbackLogin(ctx context.Context, c interface {
	SigninStart(context.Context, api.SigninStartRequest) (api.SigninStart, error)
	SigninFinish(context.Context, api.SigninFinishRequest) (api.SessionWithToken, error)
}, partyID string, wait time.Duration) (api.SessionWithToken, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return api.SessionWithToken{}, fmt.Errorf("listening on loopback for the redirect: %w", err)
	}
	defer ln.Close()
	redirect := "http://" + ln.Addr().String() + "/callback"
	st, err := c.SigninStart(ctx, api.SigninStartRequest{Party: partyID, RedirectURI: redirect})
	if err != nil {
		return api.SessionWithToken{}, err
	}
	fmt.Fprintf(e.stderr, "Open this URL in your browser to sign in:\n\n  %s\n\n", st.AuthorizationURL)
	type result struct{ state, code, problem string }
	got := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/callback" || q.Get("state") != st.State {
			http.Error(w, "not the sign-in this hallmark login waits for", http.StatusBadRequest)
			return
		}
		select {
		case got <- result{q.Get("state"), q.Get("code"), q.Get("error") + " " + q.Get("error_description")}:
		default:
		}
		_, _ = io.WriteString(w, "Hallmark: signed in at the provider; you may close this window.\n")
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	defer srv.Close()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case r := <-got:
		if r.code == "" {
			return api.SessionWithToken{}, failure.New(failure.Denied, "the identity provider refused the sign-in: %s; no session was saved", strings.TrimSpace(r.problem))
		}
		return c.SigninFinish(ctx, api.SigninFinishRequest{State: r.state, Code: r.code})
	case <-t.C:
		return api.SessionWithToken{}, failure.New(failure.Unauthenticated, "the browser did not come back within --wait (%s); no session was saved: run hallmark login again", wait)
	case <-ctx.Done():
		return api.SessionWithToken{}, ctx.Err()
	}
}

func (e *env) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the saved session and forget it",
		Long:  "Logout revokes the session saved by hallmark login for this server and deletes the file.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			server := firstNonEmpty(e.server, os.Getenv(EnvServer))
			s, ok := loadSession(server)
			if !ok {
				return invalidf("no live saved session for %s", server)
			}
			// The session revokes itself with its own token, whatever --token or
			// HALLMARK_TOKEN names: another principal may not revoke it.
			e.token = s.Token
			c, err := e.client()
			if err != nil {
				return err
			}
			out, err := c.RevokeSession(cmd.Context(), s.Session.ID)
			if err != nil {
				return err
			}
			p, _ := sessionPath()
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("forgetting the session: %w", err)
			}
			return e.emit(out, []string{out.ID}, func(w io.Writer) { kv(w, "Revoked", out.ID) })
		},
	}
}
