package httpapi

import (
	"net/http"
	"strconv"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/party"
)

// changeRoutes are governance changes under approval (issue 17): each party's change rules
// and approver groups, environment updates, a proposed policy's dry run against the fleet,
// and waivers. A governed change answers 202 with the pending approval request when its
// party's rule needs approval (server.go), and as before when it applies at once.
func (s *Server) changeRoutes() {
	s.handle("GET", "/v1/parties/{id}/change-rules", s.listChangeRules)
	s.handle("PUT", "/v1/parties/{id}/change-rules/{kind}", s.setChangeRule)
	s.handle("GET", "/v1/parties/{id}/approver-groups", s.listApproverGroups)
	s.handle("PUT", "/v1/parties/{id}/approver-groups/{name}", s.setApproverGroup)
	s.handle("PATCH", "/v1/environments/{id}", s.updateEnvironment)
	s.handle("POST", "/v1/environments/{id}/policies/{kind}/dry-run", s.dryRunPolicy)
	s.handle("POST", "/v1/waivers", s.requestWaiver)
	s.handle("GET", "/v1/waivers", s.listWaivers)
}

func (s *Server) listChangeRules(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.ChangeRules(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toChangeRule)))
}

func (s *Server) setChangeRule(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.SetChangeRuleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.gov.SetChangeRule(r.Context(), actor(p), r.PathValue("id"), r.PathValue("kind"), fromSetChangeRuleRequest(req))
	if err != nil {
		return err
	}
	if res.Proposal != nil {
		return writeJSON(w, 202, toApproval(*res.Proposal))
	}
	return writeJSON(w, 200, toChangeRule(*res.Applied))
}

func (s *Server) listApproverGroups(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.gov.ApproverGroups(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toApproverGroup)))
}

func (s *Server) setApproverGroup(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.SetApproverGroupRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.gov.SetApproverGroup(r.Context(), actor(p), r.PathValue("id"), r.PathValue("name"), fromSetApproverGroupRequest(req))
	if err != nil {
		return err
	}
	if res.Proposal != nil {
		return writeJSON(w, 202, toApproval(*res.Proposal))
	}
	return writeJSON(w, 200, toApproverGroup(*res.Applied))
}

// updateEnvironment changes an environment's lifetime, max age, services or issuing CA.
func (s *Server) updateEnvironment(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.EnvironmentUpdate
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := s.ops.UpdateEnvironment(r.Context(), actor(p), r.PathValue("id"), fromEnvironmentUpdate(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toEnvironmentView(v))
}

// dryRunPolicy evaluates a proposed renewal policy on one page of the environment's fleet.
func (s *Server) dryRunPolicy(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.DryRunRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.ops.DryRunPolicy(r.Context(), actor(p), r.PathValue("id"), environment.PolicyKind(r.PathValue("kind")), req.Policy, req.After, req.Limit)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toDryRunResult(out))
}

func (s *Server) requestWaiver(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.WaiverRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := s.ops.RequestWaiver(r.Context(), actor(p), fromWaiverRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toWaiver(v, true))
}

// listWaivers is the waivers report: ?device= narrows to one device, ?active=true keeps the
// waivers that still hold.
func (s *Server) listWaivers(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	active, _ := strconv.ParseBool(r.URL.Query().Get("active"))
	out, err := s.ops.ListWaivers(r.Context(), actor(p), r.URL.Query().Get("device"), active)
	if err != nil {
		return err
	}
	items := make([]api.Waiver, len(out))
	for i, v := range out {
		items[i] = toWaiver(v.Waiver, v.Active)
	}
	return writeJSON(w, 200, list(items))
}
