package console

import (
	"crypto/hmac"
	"net/http"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// OpenID Connect sign-in in the browser. The API runs the flow (internal/signin: code flow
// with PKCE and a nonce against the party's provider); the console only carries the browser
// there and back:
//
//  1. POST /ui/signin/oidc (sign-in form, CSRF-checked) asks the API to start a flow for the
//     party with redirect URI https://HOST/ui/signin/callback (which the party's administrator
//     registers with the provider and in Hallmark) and keeps the flow's state in a cookie.
//  2. The provider sends the browser back to the callback with state and code. The state must
//     equal the cookie's (so a flow started in another browser cannot be finished in this one:
//     login CSRF); the API checks it again, trades the code and gives a session token.
//
// The state cookie is SameSite=Lax, not Strict: the browser arrives at the callback from the
// provider's site, and a Strict cookie would not be sent. For the same reason the callback
// answers with a page that continues to the console rather than a redirect: a redirect at the
// end of a cross-site chain would not carry the Strict session cookie either. The start answers
// with a continue page too, since the CSP's form-action 'self' would stop a form's redirect to
// the provider.

const oidcCookie = "__Host-hallmark_oidc"

// callbackPath is where providers send the browser back.
const callbackPath = "/ui/signin/callback"

type continueData struct {
	URL  string
	What string
}

// signInOIDC starts a sign-in with the party's provider.
func (k *Console) signInOIDC(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	pre, err := r.Cookie(preCookie)
	if err != nil || !csrfOK(r, pre.Value, "signin") {
		k.fail(w, r, nil, http.StatusForbidden, "The sign-in form expired or was not sent from this console; reload it and try again.")
		return
	}
	party := strings.TrimSpace(r.PostFormValue("party"))
	if party == "" || len(party) > 200 {
		k.fail(w, r, nil, http.StatusBadRequest, "Name your organisation (its party ID).")
		return
	}
	st, err := k.apiClient("", r.RemoteAddr).SigninStart(r.Context(), api.SigninStartRequest{Party: party, RedirectURI: "https://" + r.Host + callbackPath})
	if err != nil {
		k.failAPI(w, r, nil, err)
		return
	}
	life := int(time.Until(st.ExpiresAt).Seconds())
	if life <= 0 || life > 900 {
		life = 600
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: st.State, Path: "/", MaxAge: life, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	k.render(w, r, nil, http.StatusOK, "continue", "Sign in with your provider", continueData{URL: st.AuthorizationURL, What: "your organisation's sign-in page"})
}

// signInCallback finishes a sign-in: the provider's state must be this browser's, then the
// API trades the code for a session.
func (k *Console) signInCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		k.fail(w, r, nil, http.StatusUnauthorized, "The provider did not sign you in: "+e+" "+q.Get("error_description"))
		return
	}
	state, code := q.Get("state"), q.Get("code")
	c, err := r.Cookie(oidcCookie)
	if err != nil || state == "" || code == "" || len(state) > 512 || len(code) > 4096 || !hmac.Equal([]byte(c.Value), []byte(state)) {
		k.fail(w, r, nil, http.StatusForbidden, "This sign-in was not started in this browser, or it expired; start it again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	sw, err := k.apiClient("", r.RemoteAddr).SigninFinish(r.Context(), api.SigninFinishRequest{State: state, Code: code})
	if err != nil {
		k.failAPI(w, r, nil, err)
		return
	}
	s, err := k.open(r, sw.Token)
	if err != nil {
		k.failAPI(w, r, nil, err)
		return
	}
	k.log.Info("console sign-in", "principal_id", s.me.ID, "party_id", s.me.PartyID, "method", "oidc")
	setCookie(w, sessionCookie, sw.Token, int(SessionLife.Seconds()))
	setCookie(w, sidCookie, sw.Session.ID, int(SessionLife.Seconds()))
	k.render(w, r, nil, http.StatusOK, "continue", "Signed in", continueData{URL: Prefix, What: "the console"})
}
