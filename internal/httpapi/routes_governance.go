package httpapi

import (
	"net/http"
	"strconv"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// governanceRoutes are approvals, separation of duties and support grants.
func (s *Server) governanceRoutes() {
	s.handle("GET", "/v1/approvals", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		q := r.URL.Query()
		f := store.ApprovalFilter{Kind: approval.Kind(q.Get("kind")), Subject: q.Get("subject"), State: approval.State(q.Get("state"))}
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
	})
	s.handle("GET", "/v1/approvals/{id}", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		q, err := s.gov.GetApproval(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toApproval(q))
	})
	s.handle("POST", "/v1/approvals/{id}/decision", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.Decision
		if err := decode(r, &req); err != nil {
			return err
		}
		res, err := s.gov.Decide(r.Context(), actor(p), r.PathValue("id"), fromDecision(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toDecideResult(res))
	})
	s.handle("POST", "/v1/approvals/{id}/execute", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		res, err := s.gov.Execute(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toDecideResult(res))
	})
	s.handle("POST", "/v1/approvals/{id}/cancel", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		q, err := s.gov.Cancel(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toApproval(q))
	})
	s.handle("GET", "/v1/approval-rules", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.gov.ApprovalRules(r.Context())
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toApprovalRule)))
	})
	s.handle("PUT", "/v1/approval-rules/{kind}", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.SetApprovalRuleRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		v, err := s.gov.SetApprovalRule(r.Context(), actor(p), r.PathValue("kind"), fromSetApprovalRuleRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toApprovalRule(v))
	})
	s.handle("GET", "/v1/sod-rules", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.gov.SoDRules(r.Context())
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toSoDRule)))
	})
	s.handle("POST", "/v1/sod-rules", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.SoDRuleRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		v, err := s.gov.AddSoDRule(r.Context(), actor(p), fromSoDRuleRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toSoDRule(v))
	})
	s.handle("DELETE", "/v1/sod-rules/{id}", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		if err := s.gov.DeleteSoDRule(r.Context(), actor(p), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	s.handle("GET", "/v1/principals/{id}/duties", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		out, err := s.gov.PrincipalDuties(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toPair)))
	})
	s.handle("PUT", "/v1/principals/{id}/duties", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.SetDutiesRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		out, err := s.gov.SetPrincipalDuties(r.Context(), actor(p), r.PathValue("id"), req.Duties)
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toPair)))
	})

	s.handle("POST", "/v1/support/hierarchies", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.CreateSupportHierarchyRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		root, iss, err := s.sup.CreateHierarchy(r.Context(), actor(p), fromCreateSupportHierarchyRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, toHierarchy(root, iss))
	})
	s.handle("POST", "/v1/support/grants", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.SupportRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		v, err := s.sup.RequestGrant(r.Context(), actor(p), fromSupportRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 202, toSupportGrant(v)) // waits for the operator's approval
	})
	s.handle("GET", "/v1/support/grants", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		q := r.URL.Query()
		f := store.GrantFilter{EnvironmentID: q.Get("environment"), DeviceID: q.Get("device"), LotID: q.Get("lot"), State: grant.State(q.Get("state"))}
		if n, err := strconv.Atoi(q.Get("limit")); err == nil {
			f.Limit = n
		}
		out, err := s.sup.List(r.Context(), actor(p), f)
		if err != nil {
			return err
		}
		return writeJSON(w, 200, list(each(out, toSupportGrant)))
	})
	s.handle("GET", "/v1/support/grants/{id}", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		v, err := s.sup.Get(r.Context(), actor(p), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toSupportGrant(v))
	})
	s.handle("POST", "/v1/support/grants/{id}/revoke", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.RevokeGrantRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		v, err := s.sup.Revoke(r.Context(), actor(p), r.PathValue("id"), fromRevokeGrantRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toSupportGrant(v))
	})
	s.handle("POST", "/v1/support/check", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		var req api.SupportCheckRequest
		if err := decode(r, &req); err != nil {
			return err
		}
		v, err := s.sup.Check(r.Context(), actor(p), fromSupportCheckRequest(req))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toReach(v))
	})
}
