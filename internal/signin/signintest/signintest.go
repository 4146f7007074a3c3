// Package signintest runs a real OpenID Provider on loopback for tests: zitadel/oidc's op
// package with its example in-memory storage and login form, and a browser stand-in that
// signs a user in through that form. It stands for a party's identity provider, an outside
// party, so it links nothing of Hallmark. Nothing that ships imports it.
package signintest

import (
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

// Password is the password of every user of the OP.
const Password = "secret-pw"

// NativeClientID is the OP's public native client (no secret, PKCE required): its redirect
// URI is http://127.0.0.1/callback on any port (RFC 8252, section 7.3), as hallmark login uses.
const NativeClientID = "hallmark-cli"

// OP is a real OpenID Provider on a loopback port.
type OP struct {
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

// Start serves an OP until the test ends. Its users are alice and mallory (subjects
// id-alice and id-mallory, password Password); its clients are the confidential web clients
// "hallmark" and "other" (secrets "hallmark-secret" and "other-secret"), whose redirect URIs
// are given, and the public native client NativeClientID.
func Start(t testing.TB, redirects ...string) *OP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	us := users{
		"id-alice":   {ID: "id-alice", Username: "alice", Password: Password, Email: "alice@acme.example", EmailVerified: true, PreferredLanguage: language.English},
		"id-mallory": {ID: "id-mallory", Username: "mallory", Password: Password, Email: "mallory@acme.example", EmailVerified: true, PreferredLanguage: language.English},
	}
	clients := map[string]*storage.Client{
		"hallmark":     storage.WebClient("hallmark", "hallmark-secret", redirects...),
		"other":        storage.WebClient("other", "other-secret", redirects...),
		NativeClientID: storage.NativeClient(NativeClientID, "http://127.0.0.1/callback"),
	}
	h := exampleop.SetupServer(issuer, storage.NewStorageWithClients(us, clients), slog.New(slog.DiscardHandler), false)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return &OP{Issuer: issuer, srv: srv}
}

// Browse plays the browser: it opens the authorization URL, posts the OP's login form as
// user, and returns the URL the OP redirected to (one starting with redirect), not followed.
// Every request has a 10 s deadline.
func Browse(t testing.TB, authURL, redirect, user string) *url.URL {
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
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("authorization URL: %s: %s", resp.Status, body)
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("the OP did not show its login form: %s %s", resp.Request.URL, body)
	}
	login := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	resp, err = c.PostForm(login.String(), url.Values{"username": {user}, "password": {Password}, "id": {id}})
	if err != nil {
		t.Fatalf("posting the login form: %v", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("the OP did not redirect back to %s: %s %v", redirect, resp.Status, loc)
	}
	return loc
}
