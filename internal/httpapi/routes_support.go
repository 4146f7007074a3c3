package httpapi

import (
	"net/http"
	"strconv"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/support"
)

// supportRoutes are the support CA hierarchy and support grants (support.Service).
func (s *Server) supportRoutes() {
	s.handle("POST", "/v1/support/hierarchies", s.createSupportHierarchy)
	s.handle("POST", "/v1/support/grants", s.requestGrant)
	s.handle("GET", "/v1/support/grants", s.listGrants)
	s.handle("GET", "/v1/support/grants/{id}", s.getGrant)
	s.handle("POST", "/v1/support/grants/{id}/revoke", s.revokeGrant)
	s.handle("POST", "/v1/support/check", s.checkSupport)
}

func (s *Server) createSupportHierarchy(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.CreateSupportHierarchyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	root, iss, err := s.sup.CreateHierarchy(r.Context(), actor(p), fromCreateSupportHierarchyRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toHierarchy(root, iss))
}

// requestGrant answers 202: the grant waits for the operator's approval.
func (s *Server) requestGrant(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.SupportRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := s.sup.RequestGrant(r.Context(), actor(p), fromSupportRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 202, toSupportGrant(v)) // waits for the operator's approval
}

// listGrants filters by environment, device, lot and state; a limit that is not a number is
// ignored.
func (s *Server) listGrants(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	q := r.URL.Query()
	f := support.GrantFilter{EnvironmentID: q.Get("environment"), DeviceID: q.Get("device"), LotID: q.Get("lot"), State: grant.State(q.Get("state"))}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil {
		f.Limit = n
	}
	out, err := s.sup.List(r.Context(), actor(p), f)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toSupportGrant)))
}

func (s *Server) getGrant(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	v, err := s.sup.Get(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toSupportGrant(v))
}

func (s *Server) revokeGrant(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.RevokeGrantRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := s.sup.Revoke(r.Context(), actor(p), r.PathValue("id"), fromRevokeGrantRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toSupportGrant(v))
}

// checkSupport answers whether a support certificate may reach a device now, with the reason.
func (s *Server) checkSupport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.SupportCheckRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := s.sup.Check(r.Context(), actor(p), fromSupportCheckRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toReach(v))
}
