package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/party"
)

// apiPresented marks requests that prove key possession with a signed challenge.
var apiPresented = operational.Presented{Protocol: "api"}

// operationalRoutes are operational CAs, environments and their policies, onboarding and
// renewal with a signed challenge, runtime revocation and re-admission (operational.Service),
// and the manufacturer's revocation of factory identities with its cascade
// (manufacturing.Service).
func (s *Server) operationalRoutes() {
	s.handle("POST", "/v1/operational/hierarchies", s.createOperationalHierarchy)
	s.handle("POST", "/v1/environments", s.createEnvironment)
	s.handle("GET", "/v1/environments", s.listEnvironments)
	s.handle("GET", "/v1/environments/{id}", s.getEnvironment)
	s.handle("PUT", "/v1/environments/{id}/policies/{kind}", s.setPolicy)
	s.handle("GET", "/v1/environments/{id}/policies/{kind}", s.listPolicyVersions)
	s.handle("POST", "/v1/challenges", s.newChallenge)
	s.handle("POST", "/v1/environments/{id}/onboard", s.onboard)
	s.handle("POST", "/v1/renewals", s.renew)
	s.handle("POST", "/v1/devices/{id}/revoke", s.revokeDevice)
	s.handle("POST", "/v1/devices/{id}/readmit", s.readmitDevice)
	s.handle("POST", "/v1/devices/{id}/origin", s.reoriginDevice)
	s.handle("POST", "/v1/manufacturing/revocations", s.revokeFactory)
	s.handle("GET", "/v1/manufacturing/revocations/{id}", s.revocationCascade)
}

func (s *Server) createOperationalHierarchy(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.CreateOperationalHierarchyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	root, iss, err := s.ops.CreateHierarchy(r.Context(), actor(p), fromCreateOperationalHierarchyRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toHierarchy(root, iss))
}

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.CreateEnvironmentRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := s.ops.CreateEnvironment(r.Context(), actor(p), fromCreateEnvironmentRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toEnvironmentView(v))
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.ops.ListEnvironments(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toEnvironment)))
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	v, err := s.ops.GetEnvironment(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toEnvironmentView(v))
}

// setPolicy stores a new version of the environment's policy of the kind in the path; the
// body is the policy spec, passed on as it came.
func (s *Server) setPolicy(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var spec json.RawMessage
	if err := decode(r, &spec); err != nil {
		return err
	}
	pv, err := s.ops.SetPolicy(r.Context(), actor(p), r.PathValue("id"), environment.PolicyKind(r.PathValue("kind")), spec)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toPolicyVersion(pv))
}

// listPolicyVersions lists the stored versions of the environment's policy of the kind in the
// path, newest first.
func (s *Server) listPolicyVersions(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	vs, err := s.ops.PolicyVersions(r.Context(), actor(p), r.PathValue("id"), environment.PolicyKind(r.PathValue("kind")))
	if err != nil {
		return err
	}
	out := api.PolicyVersionList{Items: make([]api.PolicyVersion, 0, len(vs))}
	for _, v := range vs {
		out.Items = append(out.Items, toPolicyVersion(v))
	}
	return writeJSON(w, 200, out)
}

func (s *Server) newChallenge(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.ChallengeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	c, err := s.ops.NewChallenge(r.Context(), actor(p), fromChallengeRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toChallenge(c))
}

// onboard admits a device into the environment in the path.
func (s *Server) onboard(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var body api.OnboardRequest
	if err := decode(r, &body); err != nil {
		return err
	}
	req := fromOnboardRequest(body)
	req.EnvironmentID = r.PathValue("id")
	id, err := s.ops.Onboard(r.Context(), actor(p), req, apiPresented)
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toIdentity(id))
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.RenewRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	id, err := s.ops.Renew(r.Context(), actor(p), fromRenewRequest(req), apiPresented)
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toIdentity(id))
}

func (s *Server) revokeDevice(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.RevokeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := s.ops.Revoke(r.Context(), actor(p), r.PathValue("id"), fromRevokeRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toDevice(d))
}

// readmitDevice answers 202: re-admission waits for an approval.
func (s *Server) readmitDevice(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.ReadmitRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.ops.Readmit(r.Context(), actor(p), r.PathValue("id"), fromReadmitRequest(req))
	if err != nil {
		return err
	}
	// Re-admission waits for an approval: 202 with the request to decide.
	return writeJSON(w, 202, toReadmitResult(res))
}

// reoriginDevice answers 202: a maker's re-issued factory certificate becomes the device's
// current one once approved.
func (s *Server) reoriginDevice(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.ReoriginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.ops.Reorigin(r.Context(), actor(p), r.PathValue("id"), fromReoriginRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 202, toReoriginResult(res))
}

// revokeFactory answers 200 for a dry run, 201 when it revoked, and 202 when a whole-CA
// revocation waits for its approvers.
func (s *Server) revokeFactory(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.FactoryRevokeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.mfg.RevokeFactory(r.Context(), actor(p), fromFactoryRevokeRequest(req))
	if err != nil {
		return err
	}
	status := 200
	switch {
	case res.Approval != nil:
		status = 202 // a whole-CA revocation waits for its approvers
	case !res.DryRun:
		status = 201
	}
	return writeJSON(w, status, toFactoryRevokeResult(res))
}

// revocationCascade serves a factory revocation run and what it revoked or suspended.
func (s *Server) revocationCascade(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	run, items, err := s.mfg.Cascade(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, api.RevocationCascade{Run: toRevocationRun(run), Items: nonNil(each(items, toCascadeItem))})
}
