package console

import (
	"net/http"
	"sort"
	"strings"

	"github.com/hallmark-id/hallmark/api"
)

// revocationReasons are the RFC 5280 reasons the manufacturing path accepts
// (internal/revocation); the API checks them again.
var revocationReasons = []string{"keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation"}

// revokeForm is the manufacturing revocation the person chose: a manufacturer (by default the
// person's party; a party the maker delegated the revoke duty to names the maker), one of its
// lots, devices or a whole issuing CA, a reason and, for a whole CA, why.
type revokeForm struct {
	Maker  string // the manufacturer whose factory identities these are
	By     string // lot, device or ca
	Value  string
	Reason string
	Why    string
}

func (f revokeForm) request(dryRun bool) (api.FactoryRevokeRequest, string) {
	if f.Maker == "" || len(f.Maker) > 200 {
		return api.FactoryRevokeRequest{}, "Name the manufacturer."
	}
	sel := api.FactorySelector{ManufacturerID: f.Maker}
	switch f.By {
	case "lot":
		sel.LotID = f.Value
	case "device":
		sel.DeviceID = f.Value
	case "ca":
		sel.IssuingCAID = f.Value
	default:
		return api.FactoryRevokeRequest{}, "Choose what to revoke: a lot, a device or an issuing CA."
	}
	if f.Value == "" || len(f.Value) > 200 {
		return api.FactoryRevokeRequest{}, "Name the " + f.By + " to revoke."
	}
	if len(f.Why) > maxComment {
		return api.FactoryRevokeRequest{}, "The justification is longer than 2000 characters."
	}
	req := api.FactoryRevokeRequest{Selector: sel, Reason: f.Reason, DryRun: &dryRun, Why: f.Why}
	if dryRun {
		// The API counts the dry run whole and lists only what the page shows.
		req.Limit = shownRows
	}
	return req, ""
}

// shownRows bounds the rows a revocation page lists per table: a lot of 10,000 devices made a
// page of 20,000 rows (and most of its server time). A dry run asks the API for only these
// rows (its limit) with whole counts; the full lists come from the API without a limit
// (hallmark revocation create … -o json, a dry run).
const shownRows = 200

// envGroup is what a revocation suspends in one environment.
type envGroup struct {
	Environment string           // its name where the person's party may list it, else its ID
	Count       int              // how many it suspends there
	Items       []api.Suspension // the first shownRows of them
}

type revocationData struct {
	Form      revokeForm
	Reasons   []string
	Lots      []api.Lot
	CAs       []api.CA
	Result    *api.FactoryRevokeResult
	Factory   []api.FactoryCert // the first shownRows of the factory identities
	More      int               // how many factory identities are not listed
	ByEnv     []envGroup
	Approval  *approvalRow
	Cascade   *api.RevocationCascade
	Executed  bool
	Requester string
}

// revocationPage is the manufacturing revocation: choose a lot, a device or an issuing CA of
// the person's party; a dry run shows what would be revoked and, per environment, which
// operational identities would be suspended; then execute. A whole-CA revocation waits for
// the approval it needs and the page says whose.
func (k *Console) revocationPage(w http.ResponseWriter, r *http.Request, s *session) {
	d := k.revocationChoices(r, s)
	d.Form = revokeForm{Maker: s.me.PartyID, By: "lot", Reason: "keyCompromise"}
	k.render(w, r, s, http.StatusOK, "revocation", "Manufacturing revocation", d)
}

func (k *Console) revocationChoices(r *http.Request, s *session) revocationData {
	d := revocationData{Reasons: revocationReasons}
	d.Lots, _ = s.api.ListLots(r.Context(), s.me.PartyID)
	cas, _ := s.api.ListCAs(r.Context(), s.me.PartyID)
	for _, c := range cas {
		if c.Stage == "manufacturing" && c.Role == "issuing" && c.RetiredAt == nil {
			d.CAs = append(d.CAs, c)
		}
	}
	return d
}

// revoke runs the dry run (action=preview) or the revocation (action=execute), through the
// API with the person's credential.
func (k *Console) revoke(w http.ResponseWriter, r *http.Request, s *session) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	f := revokeForm{Maker: strings.TrimSpace(r.PostFormValue("maker")), By: r.PostFormValue("by"), Value: strings.TrimSpace(r.PostFormValue("value")),
		Reason: r.PostFormValue("reason"), Why: strings.TrimSpace(r.PostFormValue("why"))}
	execute := r.PostFormValue("action") == "execute"
	req, bad := f.request(!execute)
	if bad != "" {
		k.fail(w, r, s, http.StatusBadRequest, bad)
		return
	}
	res, err := s.api.RevokeFactory(r.Context(), req)
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	d := k.revocationChoices(r, s)
	d.Form, d.Result, d.Executed = f, &res, execute
	n := s.names(r.Context())
	d.ByEnv = byEnvironment(res.Counts, res.Suspended, n.Env)
	d.Factory = res.Factory[:min(len(res.Factory), shownRows)]
	d.More = res.Counts.Factory - len(d.Factory)
	if res.Approval != nil {
		row := approvalRow{Approval: *res.Approval, Requester: n.Principal(res.Approval.RequesterParty, res.Approval.RequesterPrincipal), Approver: n.Party(res.Approval.ApproverParty)}
		row.Why = why(*res.Approval, api.ApprovalRule{}, n)
		d.Approval = &row
	}
	if execute && res.RunID != "" {
		if c, err := s.api.GetRevocation(r.Context(), res.RunID); err == nil {
			d.Cascade = &c
			d.Requester = n.Principal(c.Run.ManufacturerID, c.Run.RequestedBy)
		}
	}
	k.render(w, r, s, http.StatusOK, "revocation", "Manufacturing revocation", d)
}

// byEnvironment groups suspensions by environment, in the environment's order, with each
// environment's whole count (counts; ss may list only the first of each).
func byEnvironment(counts api.RevokeCounts, ss []api.Suspension, name func(string) string) []envGroup {
	m := map[string][]api.Suspension{}
	for _, x := range ss {
		m[x.Environment] = append(m[x.Environment], x)
	}
	out := make([]envGroup, 0, len(counts.Environments))
	for _, c := range counts.Environments {
		items := m[c.EnvironmentID]
		out = append(out, envGroup{name(c.EnvironmentID), c.Suspended, items[:min(len(items), shownRows)]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Environment < out[j].Environment })
	return out
}
