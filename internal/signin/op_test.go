package signin_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"
)

// testOP is a real OpenID Provider (zitadel/oidc's op package with its example in-memory
// storage and login form) on a loopback port.
type testOP struct {
	Issuer string
	srv    *http.Server
}

type users map[string]*storage.User

func (u users) GetUserByID(id string) *storage.User { return u[id] }
func (u users) GetUserByUsername(name string) *storage.User {
	for _, v := range u {
		if v.Username == name {
			return v
		}
	}
	return nil
}
func (u users) ExampleClientID() string { return "service" }

// startOP serves an OP with the users alice and mallory (password "secret-pw") and two
// confidential clients, "hallmark" and "other", whose redirect URIs are given.
func startOP(t *testing.T, redirects ...string) *testOP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	us := users{
		"id-alice":   {ID: "id-alice", Username: "alice", Password: "secret-pw", Email: "alice@acme.example", EmailVerified: true, PreferredLanguage: language.English},
		"id-mallory": {ID: "id-mallory", Username: "mallory", Password: "secret-pw", Email: "mallory@acme.example", EmailVerified: true, PreferredLanguage: language.English},
	}
	clients := map[string]*storage.Client{
		"hallmark": storage.WebClient("hallmark", "hallmark-secret", redirects...),
		"other":    storage.WebClient("other", "other-secret", redirects...),
	}
	h := exampleop.SetupServer(issuer, storage.NewStorageWithClients(us, clients), slog.New(slog.DiscardHandler), false)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return &testOP{Issuer: issuer, srv: srv}
}

// browse plays the browser: it opens the authorization URL, posts the OP's login form as
// user, and returns the query the OP redirected to the redirect URI with (not followed).
func browse(t *testing.T, authURL, redirect, user string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirect) || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("opening the authorization URL: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("authorization URL: %s: %s", resp.Status, body)
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("the OP did not show its login form: %s %s", resp.Request.URL, body)
	}
	login := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	resp, err = c.PostForm(login.String(), url.Values{"username": {user}, "password": {"secret-pw"}, "id": {id}})
	if err != nil {
		t.Fatalf("posting the login form: %v", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("the OP did not redirect back to %s: %s %v", redirect, resp.Status, loc)
	}
	return loc.Query()
}

// idToken runs a plain code flow as clientID and returns the raw ID token (nonce given).
func (o *testOP) idToken(t *testing.T, clientID, secret, redirect, user, nonce string) string {
	t.Helper()
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"}, "state": {"s"}, "nonce": {nonce}}
	back := browse(t, o.Issuer+"/auth?"+q.Encode(), redirect, user)
	req, _ := http.NewRequestWithContext(context.Background(), "POST", o.Issuer+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "code": {back.Get("code")}, "redirect_uri": {redirect}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	raw := between(string(body), `"id_token":"`, `"`)
	if raw == "" {
		t.Fatalf("token endpoint: %s: %s", resp.Status, body)
	}
	return raw
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

var _ = fmt.Sprintf
