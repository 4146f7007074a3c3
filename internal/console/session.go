package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

// The cookies: the session (the person's API credential) and the pre-session nonce that
// protects the sign-in form itself.
const (
	sessionCookie = "__Host-hallmark_session"
	preCookie     = "__Host-hallmark_pre"
	// sidCookie names the API session a sign-in through OIDC or the dev sign-in made, so
	// that signing out revokes it (a pasted principal token has none).
	sidCookie = "__Host-hallmark_sid"
)

// maxToken bounds a credential pasted into the sign-in form.
const maxToken = 4096

// session is a signed-in person.
type session struct {
	token string
	me    api.Principal
	api   *client.Client
	csrf  string
	nm    *names
}

// csrfToken binds a form to a secret the browser holds in an HttpOnly cookie: HMAC-SHA256
// keyed by that secret. A page of another site can neither read the cookie nor compute the
// token; and any replica computes the same token, so the console keeps no state.
func csrfToken(secret, purpose string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("hallmark-console-csrf/" + purpose))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfOK checks the form's token in constant time.
func csrfOK(r *http.Request, secret, purpose string) bool {
	got := r.PostFormValue("csrf")
	return got != "" && hmac.Equal([]byte(got), []byte(csrfToken(secret, purpose)))
}

// setCookie sets a console cookie: HttpOnly, Secure, SameSite=Strict. Cookie names start with
// __Host-, so the browser keeps them only from a secure origin and for Path=/ with no Domain;
// that prefix demands Path=/, so the cookie is scoped by host, not by path.
func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

// signedIn runs page with the request's session, or sends the browser to sign in. A
// credential the API no longer accepts (revoked, expired) ends the session.
func (k *Console) signedIn(page func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" || len(c.Value) > maxToken {
			k.toSignIn(w, r)
			return
		}
		s, err := k.open(r, c.Value)
		if err != nil {
			if status, _ := problemStatus(err); status == http.StatusUnauthorized {
				setCookie(w, sessionCookie, "", -1)
				k.toSignIn(w, r)
				return
			}
			status, msg := problemStatus(err)
			k.fail(w, r, nil, status, msg)
			return
		}
		if r.Method == http.MethodPost && !csrfOK(r, s.token, "session") {
			k.fail(w, r, s, http.StatusForbidden, "The form's CSRF token is missing or wrong; reload the page and try again.")
			return
		}
		page(w, r, s)
	}
}

func (k *Console) toSignIn(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
		return
	}
	k.fail(w, r, nil, http.StatusUnauthorized, "Sign in first.")
}

// open asks the API who the credential is.
func (k *Console) open(r *http.Request, token string) (*session, error) {
	c := k.apiClient(token, r.RemoteAddr)
	me, err := c.Whoami(r.Context())
	if err != nil {
		return nil, err
	}
	return &session{token: token, me: me, api: c, csrf: csrfToken(token, "session")}, nil
}

type signInData struct {
	CSRF    string
	Persons []string
	Error   string
}

func (k *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	pre := rand.Text()
	setCookie(w, preCookie, pre, 600)
	persons, _ := k.devPersons()
	k.render(w, r, nil, http.StatusOK, "signin", "Sign in", signInData{CSRF: csrfToken(pre, "signin"), Persons: persons})
}

// signIn takes a principal token (or, on a dev server, a demo person), checks it with the
// API's whoami and starts a session holding it.
func (k *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	pre, err := r.Cookie(preCookie)
	if err != nil || !csrfOK(r, pre.Value, "signin") {
		k.fail(w, r, nil, http.StatusForbidden, "The sign-in form expired or was not sent from this console; reload it and try again.")
		return
	}
	token, sid := strings.TrimSpace(r.PostFormValue("token")), ""
	if as := r.PostFormValue("as"); as != "" {
		tokens, err := k.devTokenMap()
		if err != nil || tokens[as] == "" {
			k.fail(w, r, nil, http.StatusBadRequest, "There is no demo person "+as+" on this server.")
			return
		}
		// The dev sign-in of the API: a session of the demo person, as `hallmark signin
		// --dev` gets (it answers browsers on loopback only).
		sw, err := k.apiClient("", r.RemoteAddr).DevSignin(r.Context(), as)
		if err != nil {
			k.failAPI(w, r, nil, err)
			return
		}
		token, sid = sw.Token, sw.Session.ID
	}
	if token == "" || len(token) > maxToken {
		k.fail(w, r, nil, http.StatusBadRequest, "Give a principal token.")
		return
	}
	s, err := k.open(r, token)
	if err != nil {
		status, msg := problemStatus(err)
		if status == http.StatusUnauthorized {
			msg = "That token is not a principal's credential on this server."
		}
		k.fail(w, r, nil, status, msg)
		return
	}
	k.log.Info("console sign-in", "principal_id", s.me.ID, "party_id", s.me.PartyID)
	setCookie(w, preCookie, "", -1)
	setCookie(w, sessionCookie, token, int(SessionLife.Seconds()))
	if sid != "" {
		setCookie(w, sidCookie, sid, int(SessionLife.Seconds()))
	}
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (k *Console) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if !csrfOK(r, c.Value, "session") {
			k.fail(w, r, nil, http.StatusForbidden, "The form's CSRF token is missing or wrong.")
			return
		}
		// End the API session too, so the credential is worthless even if the cookie was
		// copied.
		if sid, err := r.Cookie(sidCookie); err == nil && sid.Value != "" && len(sid.Value) < 200 {
			if _, err := k.apiClient(c.Value, r.RemoteAddr).RevokeSession(r.Context(), sid.Value); err != nil {
				k.log.Warn("console: revoking the session at sign-out", "err", err)
			}
		}
	}
	setCookie(w, sessionCookie, "", -1)
	setCookie(w, sidCookie, "", -1)
	http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
}

// devTokenMap reads the dev server's token file (nil when the console is not a dev one).
func (k *Console) devTokenMap() (map[string]string, error) {
	if k.devTokens == "" {
		return nil, nil
	}
	b, err := os.ReadFile(k.devTokens)
	if err != nil {
		return nil, fmt.Errorf("console: reading the dev token file: %w", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("console: decoding the dev token file: %w", err)
	}
	return m, nil
}

// devPersons lists the demo persons, sorted.
func (k *Console) devPersons() ([]string, error) {
	m, err := k.devTokenMap()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}
