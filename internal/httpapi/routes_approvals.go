package httpapi

import (
	"net/http"
	"strconv"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
)

// approvalRoutes are approval requests and their rules, separation-of-duties rules and a
// principal's duties (governance.Service).
func (s *Server) approvalRoutes() {
	s.handle("GET", "/v1/approvals", s.listApprovals)
	s.handle("GET", "/v1/approvals/{id}", s.getApproval)
	s.handle("POST", "/v1/approvals/{id}/decision", s.decideApproval)
	s.handle("POST", "/v1/approvals/{id}/execute", s.executeApproval)
	s.handle("POST", "/v1/approvals/{id}/cancel", s.cancelApproval)
	s.handle("GET", "/v1/approval-rules", s.listApprovalRules)
	s.handle("PUT", "/v1/approval-rules/{kind}", s.setApprovalRule)
	s.handle("GET", "/v1/sod-rules", s.listSoDRules)
	s.handle("POST", "/v1/sod-rules", s.addSoDRule)
	s.handle("DELETE", "/v1/sod-rules/{id}", s.deleteSoDRule)
	s.handle("GET", "/v1/principals/{id}/duties", s.principalDuties)
	s.handle("PUT", "/v1/principals/{id}/duties", s.setPrincipalDuties)
}

// listApprovals filters by kind (checked), subject and state; a limit that is not a number is
// ignored, as it always was.
func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	q := r.URL.Query()
	f := governance.ApprovalFilter{Kind: approval.Kind(q.Get("kind")), Subject: q.Get("subject"), State: approval.State(q.Get("state"))}
	if f.Kind != "" {
		if _, err := approval.ParseKind(string(f.Kind)); err != nil {
			return err
		}
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil {
		f.Limit = n
	}
	out, err := s.gov.ListApprovals(r.Context(), actor(p), f)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toApproval)))
}

func (s *Server) getApproval(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	q, err := s.gov.GetApproval(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toApproval(q))
}

func (s *Server) decideApproval(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.Decision
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.gov.Decide(r.Context(), actor(p), r.PathValue("id"), fromDecision(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toDecideResult(res))
}

// executeApproval carries out an approved request.
func (s *Server) executeApproval(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	res, err := s.gov.Execute(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toDecideResult(res))
}

func (s *Server) cancelApproval(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	q, err := s.gov.Cancel(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toApproval(q))
}

func (s *Server) listApprovalRules(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.ApprovalRules(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toApprovalRule)))
}

func (s *Server) setApprovalRule(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.SetApprovalRuleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := s.gov.SetApprovalRule(r.Context(), actor(p), r.PathValue("kind"), fromSetApprovalRuleRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toApprovalRule(v))
}

func (s *Server) listSoDRules(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.SoDRules(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toSoDRule)))
}

func (s *Server) addSoDRule(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.SoDRuleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := s.gov.AddSoDRule(r.Context(), actor(p), fromSoDRuleRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toSoDRule(v))
}

func (s *Server) deleteSoDRule(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := s.gov.DeleteSoDRule(r.Context(), actor(p), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) principalDuties(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.PrincipalDuties(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toPair)))
}

// setPrincipalDuties replaces the principal's duties and answers with them.
func (s *Server) setPrincipalDuties(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.SetDutiesRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.gov.SetPrincipalDuties(r.Context(), actor(p), r.PathValue("id"), req.Duties)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toPair)))
}
