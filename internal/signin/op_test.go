package signin_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/signin/signintest"
)

// testOP is a real OpenID Provider on loopback (package signintest).
type testOP struct{ *signintest.OP }

// startOP serves an OP with the users alice and mallory and the confidential clients
// "hallmark" and "other", whose redirect URIs are given.
func startOP(t *testing.T, redirects ...string) *testOP {
	t.Helper()
	return &testOP{signintest.Start(t, redirects...)}
}

// browse plays the browser: it signs user in at the OP and returns the query the OP
// redirected to the redirect URI with (not followed).
func browse(t *testing.T, authURL, redirect, user string) url.Values {
	t.Helper()
	return signintest.Browse(t, authURL, redirect, user).Query()
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
