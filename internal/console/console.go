// Package console is Hallmark's web console at /ui/: server-rendered pages for the people in
// the chain (makers, distributors, operators, auditors, support vendors).
//
// The console holds no authority of its own. Every page calls the server's REST API in
// process, through the public client package, with the signed-in person's own credential, so
// a person sees and does exactly what the ownership matrix lets their party see and do through
// the API: there is no second authorisation path. Its assets (templates, one stylesheet, one
// small script) are embedded in the binary; no CDN and no build step.
//
// Security: every response carries a strict Content-Security-Policy (no inline script or
// style), X-Frame-Options DENY, nosniff and no-referrer; the session cookie is HttpOnly, Secure
// and SameSite=Strict, scoped to /ui/; every form carries a CSRF token that every POST checks,
// and a POST whose Origin or Sec-Fetch-Site names another site is refused.
package console

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the console is mounted.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every console response.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// SessionLife is how long a console session lasts (the cookie's Max-Age).
const SessionLife = 8 * time.Hour

// Config is what the console needs.
type Config struct {
	// API is the server's REST API handler (serving /v1/), called in process.
	API http.Handler
	// DevTokens is the dev server's token file (party/name -> token); when set, the sign-in
	// page offers its persons. Only `hallmark serve --dev` sets it.
	DevTokens string
	// Snapshots, when set, holds the report snapshots the overview and reports pages show
	// (with their time) instead of computing the reports on every request.
	Snapshots Snapshots
	Log       *slog.Logger
}

// Console serves the pages.
type Console struct {
	api       http.Handler
	devTokens string
	snapshots Snapshots
	log       *slog.Logger
	pages     map[string]*template.Template
	mux       *http.ServeMux
}

// New builds the console; it fails when an embedded template does not parse.
func New(c Config) (*Console, error) {
	if c.API == nil {
		return nil, errors.New("console: no API handler")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	k := &Console{api: c.API, devTokens: c.DevTokens, snapshots: c.Snapshots, log: c.Log, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: parsing %s: %w", n, err)
		}
		k.pages[base] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /ui/signin", k.signInPage)
	m.HandleFunc("POST /ui/signin", k.signIn)
	m.HandleFunc("POST /ui/signout", k.signOut)
	m.HandleFunc("POST /ui/signin/oidc", k.signInOIDC)
	m.HandleFunc("GET "+callbackPath, k.signInCallback)
	m.HandleFunc("GET /ui/{$}", k.signedIn(k.overview))
	m.HandleFunc("GET /ui/devices", k.signedIn(k.inventory))
	m.HandleFunc("GET /ui/devices/{id}", k.signedIn(k.device))
	m.HandleFunc("GET /ui/approvals", k.signedIn(k.approvals))
	m.HandleFunc("POST /ui/approvals/{id}", k.signedIn(k.decide))
	m.HandleFunc("GET /ui/audit", k.signedIn(k.auditLog))
	m.HandleFunc("GET /ui/audit/{seq}", k.signedIn(k.auditEvent))
	m.HandleFunc("POST /ui/audit/checkpoint", k.signedIn(k.freshCheckpoint))
	m.HandleFunc("GET /ui/revocations", k.signedIn(k.revocationPage))
	m.HandleFunc("POST /ui/revocations", k.signedIn(k.revoke))
	m.HandleFunc("GET /ui/support", k.signedIn(k.supportPage))
	m.HandleFunc("POST /ui/support", k.signedIn(k.requestGrant))
	m.HandleFunc("POST /ui/support/{id}/revoke", k.signedIn(k.revokeGrant))
	m.HandleFunc("GET /ui/reports", k.signedIn(k.reportsPage))
	m.HandleFunc("GET /ui/reports/{name}", k.signedIn(k.reportsPageOrCSV))
	m.HandleFunc("GET /ui/policies", k.signedIn(k.policiesPage))
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		k.fail(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
	k.mux = m
	return k, nil
}

// ServeHTTP sets the security headers and serves the console.
func (k *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
		h.Set("Cache-Control", "no-store")
	}
	if r.Method == http.MethodPost && crossSite(r) {
		k.fail(w, r, nil, http.StatusForbidden, "This form was sent from another site; it was refused.")
		return
	}
	k.mux.ServeHTTP(w, r)
}

// crossSite reports a request that the browser says came from another origin.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		host := strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://")
		return host != r.Host
	}
	return false
}

// RedirectRoot sends GET / to the console.
func RedirectRoot(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// apiClient is a client of the in-process API acting with token for the browser at remote
// (its RemoteAddr).
func (k *Console) apiClient(token, remote string) *client.Client {
	c, err := client.New("http://hallmark.console", token, client.WithHTTPClient(&http.Client{Transport: inProcess{k.api, remote}}), client.WithUserAgent("hallmark-console"))
	if err != nil {
		panic(err) // the base URL is a constant that parses
	}
	return c
}

// problemStatus is the HTTP status an API error maps to on a page, and what to say.
func problemStatus(err error) (int, string) {
	var p *api.Problem
	if errors.As(err, &p) {
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		if p.Owner != "" {
			msg += " (owner: " + p.Owner + ")"
		}
		return p.Status, msg
	}
	return http.StatusBadGateway, "The API could not be reached: " + err.Error()
}
