package httpapi

import (
	"net/http"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/party"
)

// Principals, their tokens and break-glass access (docs/governance.md, *Principals and
// tokens*, *Break-glass*). POST /v1/principals and GET /v1/parties/{id}/principals live in
// routes_parties.go, the duty routes in routes_approvals.go.

// principalRoutes registers the routes of this file.
func (s *Server) principalRoutes() {
	s.handle("GET", "/v1/principals/{id}", s.getPrincipal)
	s.handle("DELETE", "/v1/principals/{id}", s.deletePrincipal)
	s.handle("POST", "/v1/principals/{id}/disable", s.disablePrincipal)
	s.handle("POST", "/v1/principals/{id}/enable", s.enablePrincipal)
	s.handle("GET", "/v1/principals/{id}/tokens", s.listTokens)
	s.handle("POST", "/v1/principals/{id}/tokens", s.rotateToken)
	s.handle("POST", "/v1/principals/{id}/tokens/{token}/revoke", s.revokeToken)
	s.handle("POST", "/v1/parties/{id}/access", s.requestAccess)
	s.handle("GET", "/v1/parties/{id}/access", s.listAccess)
	s.handle("GET", "/v1/access/{id}", s.getAccess)
	s.handle("POST", "/v1/access/{id}/decision", s.decideAccess)
	s.handle("POST", "/v1/access/{id}/end", s.endAccess)
}

func (s *Server) getPrincipal(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.GetPrincipal(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toPrincipal(out))
}

func (s *Server) deletePrincipal(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := s.gov.DeletePrincipal(r.Context(), actor(p), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) disablePrincipal(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return s.setDisabled(w, r, p, true)
}

func (s *Server) enablePrincipal(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return s.setDisabled(w, r, p, false)
}

func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, p party.Principal, disabled bool) error {
	out, err := s.gov.SetDisabled(r.Context(), actor(p), r.PathValue("id"), disabled)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toPrincipal(out))
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.ListTokens(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toPrincipalToken)))
}

func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.RotateTokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.gov.RotateToken(r.Context(), actor(p), r.PathValue("id"), fromRotateTokenRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toIssuedToken(out))
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.RevokeToken(r.Context(), actor(p), r.PathValue("id"), r.PathValue("token"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toPrincipalToken(out))
}

func (s *Server) requestAccess(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.AccessRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.gov.RequestAccess(r.Context(), actor(p), r.PathValue("id"), fromAccessRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toAccess(out))
}

func (s *Server) listAccess(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.ListAccess(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toAccess)))
}

func (s *Server) getAccess(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.GetAccess(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toAccess(out))
}

func (s *Server) decideAccess(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.AccessDecision
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.gov.DecideAccess(r.Context(), actor(p), r.PathValue("id"), req.Approve, req.Comment)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toAccess(out))
}

func (s *Server) endAccess(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.EndAccess(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toAccess(out))
}
