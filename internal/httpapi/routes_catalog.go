package httpapi

import (
	"net/http"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/party"
)

// catalogRoutes are models, lots and factory identities issued into a lot, or again to a
// repaired device (manufacturing.Service).
func (s *Server) catalogRoutes() {
	s.handle("POST", "/v1/models", s.createModel)
	s.handle("GET", "/v1/models", s.listModels)
	s.handle("POST", "/v1/lots", s.createLot)
	s.handle("GET", "/v1/lots", s.listLots)
	s.handle("GET", "/v1/lots/{id}", s.getLot)
	s.handle("POST", "/v1/lots/{id}/devices", s.issueFactory)
	s.handle("POST", "/v1/manufacturers/{id}/manifest", s.signManifest)
	s.handle("POST", "/v1/devices/{id}/repair", s.repairDevice)
}

// signManifest signs the device manifest of some of the manufacturer's lots with its
// build-record key.
func (s *Server) signManifest(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.SignManifestRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := s.mfg.SignManifest(r.Context(), actor(p), r.PathValue("id"), req.LotIDs)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toSignedManifest(m))
}

func (s *Server) createModel(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.CreateModelRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := s.mfg.CreateModel(r.Context(), actor(p), fromCreateModelRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toModel(m))
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.mfg.ListModels(r.Context(), actor(p), r.URL.Query().Get("manufacturer"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toModel)))
}

func (s *Server) createLot(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.CreateLotRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	l, err := s.mfg.CreateLot(r.Context(), actor(p), fromCreateLotRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toLot(l))
}

func (s *Server) listLots(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.mfg.ListLots(r.Context(), actor(p), r.URL.Query().Get("manufacturer"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toLot)))
}

func (s *Server) getLot(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	l, err := s.mfg.GetLot(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toLot(l))
}

// issueFactory issues a factory identity into the lot named in the path.
func (s *Server) issueFactory(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var body api.IssueFactoryRequest
	if err := decode(r, &body); err != nil {
		return err
	}
	req, err := fromIssueFactoryRequest(body)
	if err != nil {
		return err
	}
	req.LotID = r.PathValue("id")
	out, err := s.mfg.IssueFactory(r.Context(), actor(p), req)
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toFactoryIdentity(out))
}

// repairDevice asks for a repaired device's new factory identity: 202 with the approval it
// waits for (manufacturing.Repair); the approval's execution issues it.
func (s *Server) repairDevice(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var body api.RepairRequest
	if err := decode(r, &body); err != nil {
		return err
	}
	req, err := fromRepairRequest(body)
	if err != nil {
		return err
	}
	out, err := s.mfg.Repair(r.Context(), actor(p), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, 202, toRepairResult(out))
}
