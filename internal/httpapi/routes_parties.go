package httpapi

import (
	"net/http"
	"strings"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
)

// partyRoutes are parties, principals and the ownership matrix (governance.Service).
func (s *Server) partyRoutes() {
	s.handle("POST", "/v1/parties", s.createParty)
	s.handle("GET", "/v1/parties", s.listParties)
	s.handle("POST", "/v1/principals", s.createPrincipal)
	s.handle("GET", "/v1/parties/{id}/principals", s.listPrincipals)
	s.handle("GET", "/v1/ownership", s.listCells)
	s.handle("PUT", "/v1/ownership", s.setCell)
	s.handle("DELETE", "/v1/ownership", s.deleteCell)
}

func (s *Server) createParty(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.CreatePartyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.gov.CreateParty(r.Context(), actor(p), fromCreatePartyRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toParty(out))
}

func (s *Server) listParties(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.ListParties(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toParty)))
}

// createPrincipal answers with the principal and its bearer token, shown this once.
func (s *Server) createPrincipal(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.CreatePrincipalRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, token, err := s.gov.CreatePrincipal(r.Context(), actor(p), fromCreatePrincipalRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toCreatedPrincipal(out, token))
}

func (s *Server) listPrincipals(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.ListPrincipals(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toPrincipal)))
}

func (s *Server) listCells(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.ListCells(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toCell)))
}

func (s *Server) setCell(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.Cell
	if err := decode(r, &req); err != nil {
		return err
	}
	c := fromCell(req)
	if err := s.gov.SetCell(r.Context(), actor(p), c); err != nil {
		return err
	}
	return writeJSON(w, 200, toCell(c))
}

// deleteCell names the cell in the query: stage, duty and scope (kind:id).
func (s *Server) deleteCell(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	q := r.URL.Query()
	kind, id, ok := strings.Cut(q.Get("scope"), ":")
	if !ok {
		return failure.New(failure.Invalid, "scope must be kind:id, e.g. lot:lot_abc")
	}
	k := ownership.Key{Stage: ownership.Stage(q.Get("stage")), Duty: ownership.Duty(q.Get("duty")), Scope: ownership.Scope{Kind: ownership.ScopeKind(kind), ID: id}}
	if err := s.gov.DeleteCell(r.Context(), actor(p), k); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
