package app

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"flag"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// updateConsoleShots writes the console tests' screenshots into docs/console (shown by
// docs/console.md) instead of the test's temp folder: go test -run Console ./internal/app/ -update-console
var updateConsoleShots = flag.Bool("update-console", false, "write the console screenshots into docs/console")

// chromiumPath finds Debian's chromium; in CI (CI set) a missing one fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	requireTool(t, "chromium")
	return ""
}

// browser is a headless chromium of its own (fresh profile) that trusts only the dev
// server's TLS key, pinned by its SPKI hash.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

func newBrowser(t *testing.T, s *devServer) *browser {
	t.Helper()
	path := chromiumPath(t)
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(s.info.TLSCAFile)
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("dev CA: %v", err)
	}
	u, _ := url.Parse(s.info.APIURL)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: u.Hostname()})
	if err != nil {
		t.Fatalf("dialing the dev server: %v", err)
	}
	spki := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	conn.Close()
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	shots := t.TempDir()
	if *updateConsoleShots {
		shots = filepath.Join("..", "..", "docs", "console")
	}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: s.info.APIURL, shots: shots}
}

// run runs actions, each with a 30 s bound, failing the test on error.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// submit runs actions that load a new page (a click on a form's button) and waits until the
// new page is there: the old page's body is marked first, and the wait is for a body without
// the mark.
func (b *browser) submit(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	mark := chromedp.Evaluate[bool](`(document.body.dataset.stale = "1", true)`)
	all := append([]chromedp.Action[chromedp.Void]{chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Run(ctx, mark)
		return err
	})}, actions...)
	b.run(what, append(all, chromedp.WaitVisible(chromedp.CSS(`body:not([data-stale]) main h1`)))...)
}

// text returns the text of the first element matching sel (waiting for it).
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : ""`))
		b.t.Fatalf("reading %s: %v; the page says: %s", sel, err, page)
	}
	return s
}

// shot saves a screenshot of the page as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn signs in as a demo person from the dev sign-in page, with no earlier cookie.
func (b *browser) signIn(who string) {
	b.t.Helper()
	b.run("sign in as "+who, clearCookies, chromedp.Navigate(b.base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#devsignin`)),
		chromedp.Click(chromedp.CSS(`button[name="as"][value="`+who+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#whoami`)))
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
}

// clearCookies forgets every cookie, so the next sign-in starts with none.
var clearCookies = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
	return err
})

func wantIn(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("%s: %q does not contain %q", what, got, want)
	}
}

// TestConsoleBrowser drives the console in a real chromium: sign in; approve a re-admission
// as a second principal; read a device's timeline; check an audit inclusion proof. Each flow
// is also refused for a person whose party may not do it.
func TestConsoleBrowser(t *testing.T) {
	dir := t.TempDir()
	s := startDev(t, dir)
	b := newBrowser(t, s)

	// A device through both stages: made, delivered, onboarded, revoked, asked back in.
	lot := demoLot(t, s, "lot-ui")
	fi := deliveredDevice(t, s, dir, lot, "lot-ui", "SN-UI1")
	envID := opEnv(t, s, "console-env", nil)
	onboard(t, s, dir, envID, "SN-UI1", "ui", 201)
	s.must(t, 200, oscar, "POST", "/v1/devices/"+fi.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	s.must(t, 202, oscar, "POST", "/v1/devices/"+fi.Device.ID+"/readmit", map[string]string{"reason": "repaired and re-flashed"})

	t.Run("sign in", func(t *testing.T) {
		b.run("the root sends browsers to sign in", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#signin`)))
		b.shot("signin")
		// A token the server does not know is refused.
		b.run("bad token", chromedp.SendKeys(chromedp.CSS(`#token`), "not-a-token"), chromedp.Submit(chromedp.CSS(`#token`)),
			chromedp.WaitVisible(chromedp.CSS(`#status`)))
		wantIn(t, "bad token", b.text(`#status`), "401")
		// A real token, typed, signs in.
		b.run("token", chromedp.Navigate(b.base+"/ui/signin"), chromedp.WaitVisible(chromedp.CSS(`#token`)),
			chromedp.SendKeys(chromedp.CSS(`#token`), s.tokens[olivia]), chromedp.Submit(chromedp.CSS(`#token`)),
			chromedp.WaitVisible(chromedp.CSS(`#whoami`)))
		wantIn(t, "who", b.text(`#whoami`), "olivia · Contoso Utilities")
		wantIn(t, "pending", b.text(`#pending-count`), "1")
		b.shot("overview")
	})

	t.Run("approve a re-admission", func(t *testing.T) {
		// Refused: the maker's person sees no such request; the requester may not decide it.
		b.signIn(alice)
		b.open("/ui/approvals")
		wantIn(t, "alice's queue", b.text(`main`), "Nothing waits")
		b.signIn(oscar)
		b.open("/ui/approvals")
		b.run("oscar approves his own", chromedp.SendKeys(chromedp.CSS(`textarea`), "mine"),
			chromedp.Click(chromedp.CSS(`button.approve`)), chromedp.WaitVisible(chromedp.CSS(`#status`)))
		wantIn(t, "oscar's decision", b.text(`#status`), "403")
		wantIn(t, "oscar's reason", b.text(`#reason`), "cannot decide it")
		b.shot("approval-refused")
		// A second principal of the owning party approves, with a comment.
		b.signIn(olivia)
		b.open("/ui/approvals")
		wantIn(t, "why SoD", b.text(`details`), "may not decide it")
		b.shot("approvals")
		b.run("olivia approves", chromedp.SendKeys(chromedp.CSS(`textarea`), "checked the repair report"),
			chromedp.Click(chromedp.CSS(`button.approve`)), chromedp.WaitVisible(chromedp.CSS(`#notice`)))
		wantIn(t, "notice", b.text(`#notice`), "is now executed")
		wantIn(t, "recent", b.text(`#recent`), "checked the repair report")
	})

	t.Run("device timeline", func(t *testing.T) {
		b.open("/ui/devices")
		b.run("inventory row", chromedp.Click(chromedp.CSS(`#devices a`)), chromedp.WaitVisible(chromedp.CSS(`#timeline`)))
		tl := b.text(`#timeline`)
		for _, want := range []string{"Registered by Acme Devices", "Custody from", "to Contoso Utilities", "Onboarded by", "revoked", "readmit approved by olivia (Contoso Utilities)"} {
			wantIn(t, "timeline", tl, want)
		}
		b.shot("device")
		b.run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		b.shot("device-phone")
		b.run("desktop", chromedp.EmulateViewport(1280, 900))
		// Refused: the support vendor's person cannot see the device at all.
		b.signIn(eve)
		b.open("/ui/devices/" + fi.Device.ID)
		wantIn(t, "eve", b.text(`#status`), "404")
	})

	t.Run("audit inclusion proof", func(t *testing.T) {
		// Refused: a maker's person may not read the audit log.
		b.signIn(alice)
		b.open("/ui/audit")
		wantIn(t, "alice's audit", b.text(`#status`), "403")
		b.signIn(audrey)
		b.open("/ui/audit")
		b.run("an event", chromedp.Click(chromedp.CSS(`#events tbody a`)), chromedp.WaitVisible(chromedp.CSS(`#h-proof`)))
		fresh, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.getElementById("fresh") !== null`))
		if err != nil {
			t.Fatal(err)
		}
		if fresh {
			b.run("fresh checkpoint", chromedp.Click(chromedp.CSS(`#fresh`)), chromedp.WaitVisible(chromedp.CSS(`#proof`)))
		}
		b.run("proof checked", chromedp.WaitVisible(chromedp.CSS(`#proof-result.good`)))
		wantIn(t, "proof", b.text(`#proof-result`), "Verified in this browser")
		wantIn(t, "signature", b.text(`#sig`), "Signature verified")
		b.shot("audit-proof")
		// A tampered path does not verify: the check is real.
		if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => { const p = document.getElementById("proof"); const h = p.dataset.path.split(" "); `+
			`h[0] = btoa("x".repeat(32)); p.dataset.path = h.join(" "); return true })()`)); err != nil {
			t.Fatal(err)
		}
		b.run("tamper", chromedp.Click(chromedp.CSS(`#verify`)), chromedp.WaitVisible(chromedp.CSS(`#proof-result.bad`)))
		wantIn(t, "tampered", b.text(`#proof-result`), "Does not verify")
	})
}

// TestConsoleHeaders checks the console's security headers, cookie flags and CSRF refusals
// over real TLS, with Go's client as the browser.
func TestConsoleHeaders(t *testing.T) {
	s := startDev(t, "")
	c := *s.http
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path string, cookies ...*http.Cookie) *http.Response {
		req, _ := http.NewRequest("GET", s.info.APIURL+path, nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	post := func(path string, form url.Values, cookies ...*http.Cookie) *http.Response {
		req, _ := http.NewRequest("POST", s.info.APIURL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get("/"); res.StatusCode != 303 || res.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res := get("/ui/signin")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v", res.Header)
	}
	var pre *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "__Host-hallmark_pre" {
			pre = ck
		}
	}
	if pre == nil || !pre.HttpOnly || !pre.Secure || pre.SameSite != http.SameSiteStrictMode {
		t.Fatalf("pre-session cookie %+v", pre)
	}
	// Sign-in without the form's token is refused and sets no session.
	res = post("/ui/signin", url.Values{"token": {s.tokens[olivia]}}, pre)
	if res.StatusCode != 403 || len(res.Cookies()) != 0 {
		t.Fatalf("sign-in without CSRF token: %d %v", res.StatusCode, res.Cookies())
	}
	// From another site it is refused even with a token.
	req, _ := http.NewRequest("POST", s.info.APIURL+"/ui/signin", strings.NewReader("as=contoso%2Folivia"))
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r2, err := c.Do(req); err != nil || r2.StatusCode != 403 {
		t.Fatalf("cross-site sign-in: %v %v", r2, err)
	}
	// A session cookie alone does not carry a POST: the CSRF token is required.
	session := &http.Cookie{Name: "__Host-hallmark_session", Value: s.tokens[olivia]}
	if res := get("/ui/approvals", session); res.StatusCode != 200 {
		t.Fatalf("approvals with a session: %d", res.StatusCode)
	}
	before := auditCount(t, s)
	if res := post("/ui/approvals/apr_x", url.Values{"decision": {"approve"}}, session); res.StatusCode != 403 {
		t.Fatalf("decision without CSRF token: %d", res.StatusCode)
	}
	if n := auditCount(t, s); n != before {
		t.Fatalf("a refused form appended %d audit events", n-before)
	}
	// A revoked or unknown credential ends the session.
	if res := get("/ui/", &http.Cookie{Name: "__Host-hallmark_session", Value: "nope"}); res.StatusCode != 303 || res.Header.Get("Location") != "/ui/signin" {
		t.Fatalf("unknown credential: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}
