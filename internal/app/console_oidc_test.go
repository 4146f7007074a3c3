package app

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"
)

type opUsers map[string]*storage.User

func (u opUsers) GetUserByID(id string) *storage.User { return u[id] }
func (u opUsers) GetUserByUsername(name string) *storage.User {
	for _, v := range u {
		if v.Username == name {
			return v
		}
	}
	return nil
}
func (u opUsers) ExampleClientID() string { return "service" }

// startConsoleOP serves a real OpenID Provider (zitadel/oidc's op package with its example
// storage and login form) on loopback, with users oscar and mallory (password "secret-pw") and
// the confidential client "hallmark" whose one redirect URI is redirect.
func startConsoleOP(t *testing.T, redirect string) (issuer string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer = "http://" + ln.Addr().String()
	us := opUsers{
		"id-oscar":   {ID: "id-oscar", Username: "oscar", Password: "secret-pw", Email: "oscar@contoso.example", EmailVerified: true, PreferredLanguage: language.English},
		"id-mallory": {ID: "id-mallory", Username: "mallory", Password: "secret-pw", Email: "mallory@contoso.example", EmailVerified: true, PreferredLanguage: language.English},
	}
	clients := map[string]*storage.Client{"hallmark": storage.WebClient("hallmark", "hallmark-secret", redirect)}
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, storage.NewStorageWithClients(us, clients), slog.New(slog.DiscardHandler), false), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return issuer
}

// TestConsoleOIDC signs in to the console in chromium through contoso's OpenID Connect
// provider: the console starts the API's code flow with PKCE, the browser signs in at the
// provider, comes back, and the console holds the session the API gave. Refused: an account
// the party bound to no principal, and a callback whose state this browser did not start.
func TestConsoleOIDC(t *testing.T) {
	t.Setenv("HALLMARK_CONSOLE_TEST_OIDC_SECRET", "hallmark-secret")
	s := startDev(t, "")
	b := newBrowser(t, s)
	redirect := s.info.APIURL + "/ui/signin/callback"
	issuer := startConsoleOP(t, redirect)
	s.must(t, 200, admin, "PUT", "/v1/auth/providers/contoso", map[string]any{"issuer": issuer, "client_id": "hallmark",
		"client_secret_env": "HALLMARK_CONSOLE_TEST_OIDC_SECRET", "redirect_uris": []string{redirect}})
	var me struct{ ID string }
	s.must(t, 200, oscar, "GET", "/v1/whoami", nil).json(t, &me)
	s.must(t, 200, admin, "PUT", "/v1/auth/providers/contoso/bindings/id-oscar", map[string]string{"principal_id": me.ID})

	signIn := func(user string) {
		b.run("start as "+user, clearCookies, chromedp.Navigate(b.base+"/ui/signin"), chromedp.WaitVisible(chromedp.CSS(`#oidcsignin`)),
			chromedp.SendKeys(chromedp.CSS(`#party`), "contoso"), chromedp.Submit(chromedp.CSS(`#party`)),
			chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)))
		if user == "oscar" {
			b.shot("signin-oidc-provider")
		}
		b.run("provider login as "+user, chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), user),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "secret-pw"), chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	}
	t.Run("bound account", func(t *testing.T) {
		signIn("oscar")
		b.run("console", chromedp.WaitVisible(chromedp.CSS(`#whoami`)))
		wantIn(t, "who", b.text(`#whoami`), "oscar · Contoso Utilities")
		// Signing out ends the API session: the cookie's credential no longer works.
		var token string
		b.run("cookie", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/ui/"}})
			for _, c := range res.Cookies {
				if c.Name == "__Host-hallmark_session" {
					token = c.Value
				}
			}
			return err
		}))
		if !strings.HasPrefix(token, "hms_") {
			t.Fatalf("session cookie %q is not a session token", token)
		}
		s.tokens["oidc/oscar"] = token
		s.must(t, 200, "oidc/oscar", "GET", "/v1/whoami", nil)
		b.submit("sign out", chromedp.Click(chromedp.CSS(`.who button`)))
		s.must(t, 401, "oidc/oscar", "GET", "/v1/whoami", nil)
	})
	t.Run("unbound account", func(t *testing.T) {
		signIn("mallory")
		st := b.text(`#status`)
		if !strings.HasPrefix(st, "401") && !strings.HasPrefix(st, "403") {
			t.Fatalf("mallory: %q", st)
		}
		b.open("/ui/")
		b.run("no session", chromedp.WaitVisible(chromedp.CSS(`#signin`)))
	})
	t.Run("foreign state", func(t *testing.T) {
		b.run("callback", clearCookies, chromedp.Navigate(b.base+"/ui/signin/callback?state=someone-elses&code=x"), chromedp.WaitVisible(chromedp.CSS(`#status`)))
		wantIn(t, "foreign state", b.text(`#status`), "403")
	})
}
