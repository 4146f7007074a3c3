package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

type approvalRow struct {
	api.Approval
	Requester string
	Approver  string
	Why       []string // why separation of duties applies to this request
	Decisions []string
	Mine      bool // the signed-in person asked for it
}

type approvalsData struct {
	Pending []approvalRow
	Recent  []approvalRow
	Notice  string
}

// maxComment bounds an approver's comment.
const maxComment = 2000

// approvals is the queue: pending requests the party asked for or decides, with a form to
// approve or deny each, and the recently decided ones.
func (k *Console) approvals(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	qs, err := s.api.ListApprovals(ctx, client.ApprovalFilter{Limit: 100})
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	rules := map[string]api.ApprovalRule{}
	if rs, err := s.api.ApprovalRules(ctx); err == nil {
		for _, x := range rs {
			rules[x.Kind] = x
		}
	}
	n := s.names(ctx)
	d := approvalsData{}
	decided := r.URL.Query().Get("decided")
	for _, q := range qs {
		row := approvalRow{Approval: q, Requester: n.Principal(q.RequesterParty, q.RequesterPrincipal), Approver: n.Party(q.ApproverParty), Mine: q.RequesterPrincipal == s.me.ID}
		row.Why = why(q, rules[q.Kind], n)
		for _, dec := range q.Decisions {
			verb := "denied"
			if dec.Approve {
				verb = "approved"
			}
			line := n.Principal(dec.PartyID, dec.PrincipalID) + " " + verb
			if dec.Comment != "" {
				line += ": “" + dec.Comment + "”"
			}
			row.Decisions = append(row.Decisions, line)
		}
		if q.ID == decided {
			d.Notice = "Request " + q.ID + " is now " + q.State + "."
		}
		if q.State == "pending" {
			d.Pending = append(d.Pending, row)
		} else {
			d.Recent = append(d.Recent, row)
		}
	}
	k.render(w, r, s, http.StatusOK, "approvals", "Approvals", d)
}

// why says, in words, which separation-of-duties rules bind a request.
func why(q api.Approval, rule api.ApprovalRule, n *names) []string {
	out := []string{"The person who asked, " + n.Principal(q.RequesterParty, q.RequesterPrincipal) + ", may not decide it."}
	who := "a principal"
	if q.Approvers > 1 {
		who = itoaWord(q.Approvers) + " distinct principals"
	}
	out = append(out, "It needs "+who+" of "+n.Party(q.ApproverParty)+", the party owning the approve duty over "+q.Scope+".")
	if q.OtherParty {
		out = append(out, "The approver must belong to another party than the requester's.")
	}
	if rule.Expiry != "" {
		out = append(out, "Undecided, it expires after "+rule.Expiry+".")
	}
	return out
}

func itoaWord(n int) string {
	switch n {
	case 2:
		return "two"
	case 3:
		return "three"
	}
	return "several"
}

// decide approves or denies one request with a comment, through the API; a refusal shows on
// the queue with the API's reason and status.
func (k *Console) decide(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	comment := strings.TrimSpace(r.PostFormValue("comment"))
	if len(comment) > maxComment {
		k.fail(w, r, s, http.StatusBadRequest, "The comment is longer than 2000 characters.")
		return
	}
	var approve bool
	switch r.PostFormValue("decision") {
	case "approve":
		approve = true
	case "deny":
	default:
		k.fail(w, r, s, http.StatusBadRequest, "Choose approve or deny.")
		return
	}
	res, err := s.api.DecideApproval(r.Context(), id, api.Decision{Approve: approve, Comment: comment})
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	if res.ExecError != "" {
		k.fail(w, r, s, http.StatusConflict, "Request "+id+" is "+res.Approval.State+" but its action did not run: "+res.ExecError)
		return
	}
	if r.PostFormValue("return") == "support" {
		http.Redirect(w, r, "/ui/support?decided="+url.QueryEscape(id), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/ui/approvals?decided="+url.QueryEscape(id), http.StatusSeeOther)
}
