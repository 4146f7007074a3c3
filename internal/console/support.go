package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

// supportWindows are the windows the request form offers; the environment's
// support_max_window bounds them again at the API.
var supportWindows = []string{"1h", "4h", "8h", "24h"}

type grantRow struct {
	api.SupportGrant
	Requester string
	Operator  string
	Env       string // the environment's name, or its ID
	Window    string // the window's length, "8h0m0s"
	Left      string // time left of an active grant
	MayDecide bool   // pending, and the person did not ask for it
}

type supportData struct {
	Grants       []grantRow
	Environments []api.Environment
	Windows      []string
	Notice       string
}

// supportPage lists the support grants the person's party asked for or approves (auditors:
// all), each with its window; a vendor asks for a new one, an operator approves, denies or
// revokes.
func (k *Console) supportPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	gs, err := s.api.ListSupportGrants(ctx, client.GrantFilter{Limit: 100})
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	n := s.names(ctx)
	now := time.Now()
	d := supportData{Windows: supportWindows}
	d.Environments, _ = s.api.ListEnvironments(ctx)
	for _, g := range gs {
		row := grantRow{SupportGrant: g, Env: n.Env(g.EnvironmentID), Requester: n.Principal(g.RequesterParty, g.RequesterPrincipal), Operator: n.Party(g.OperatorID),
			Window: span(g.NotAfter.Sub(g.NotBefore))}
		if g.Status == "active" && now.Before(g.NotAfter) {
			row.Left = span(g.NotAfter.Sub(now))
		}
		// The list carries no approval, only its ID: the operator's people (not the one who
		// asked) are offered the decision, and the API decides whether they may.
		row.MayDecide = g.State == "requested" && g.ApprovalID != "" && g.OperatorID == s.me.PartyID && g.RequesterPrincipal != s.me.ID
		d.Grants = append(d.Grants, row)
	}
	switch q := r.URL.Query(); {
	case q.Get("requested") != "":
		d.Notice = "Grant " + q.Get("requested") + " was requested; it waits for the operator's approval."
	case q.Get("revoked") != "":
		d.Notice = "Grant " + q.Get("revoked") + " is revoked."
	case q.Get("decided") != "":
		d.Notice = "Request " + q.Get("decided") + " is decided."
	}
	k.render(w, r, s, http.StatusOK, "support", "Support grants", d)
}

// span is a duration as people write it: "1 h 30 min", "45 min", "2 d 4 h".
func span(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "under a minute"
	}
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, strconv.Itoa(days)+" d")
	}
	if h > 0 {
		parts = append(parts, strconv.Itoa(h)+" h")
	}
	if m > 0 && days == 0 {
		parts = append(parts, strconv.Itoa(m)+" min")
	}
	return strings.Join(parts, " ")
}

// requestGrant asks for a support grant with the engineer's CSR; nothing is issued before the
// operator approves.
func (k *Console) requestGrant(w http.ResponseWriter, r *http.Request, s *session) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	window, err := time.ParseDuration(r.PostFormValue("window"))
	if err != nil || window <= 0 || window > 7*24*time.Hour {
		k.fail(w, r, s, http.StatusBadRequest, "Choose a window between 1 minute and 7 days.")
		return
	}
	req := api.SupportRequest{EnvironmentID: strings.TrimSpace(r.PostFormValue("environment")), LotID: strings.TrimSpace(r.PostFormValue("lot")),
		Reason: strings.TrimSpace(r.PostFormValue("reason")), CSR: strings.TrimSpace(r.PostFormValue("csr")), Engineer: strings.TrimSpace(r.PostFormValue("engineer"))}
	for _, d := range strings.FieldsFunc(r.PostFormValue("devices"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' }) {
		req.Devices = append(req.Devices, d)
	}
	now := time.Now().UTC().Truncate(time.Second)
	req.NotBefore, req.NotAfter = now, now.Add(window)
	g, err := s.api.RequestSupportGrant(r.Context(), req)
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/ui/support?requested="+url.QueryEscape(g.ID), http.StatusSeeOther)
}

// revokeGrant ends a grant early.
func (k *Console) revokeGrant(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if _, err := s.api.RevokeSupportGrant(r.Context(), id, api.RevokeGrantRequest{Reason: "privilegeWithdrawn"}); err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/ui/support?revoked="+url.QueryEscape(id), http.StatusSeeOther)
}
