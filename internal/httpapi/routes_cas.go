package httpapi

import (
	"net/http"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/party"
)

// caRoutes are manufacturing CAs, imported CAs and anchors (manufacturing.Service); a CA's
// certificate and a manufacturer's build-record key are public.
func (s *Server) caRoutes() {
	s.handle("POST", "/v1/manufacturing/hierarchies", s.createHierarchy)
	s.handle("POST", "/v1/manufacturing/imports", s.importCA)
	s.handle("POST", "/v1/anchors", s.registerAnchor)
	s.handle("GET", "/v1/cas", s.listCAs)
	s.public("GET", "/v1/cas/{id}/certificate", s.caCertificate)
	s.public("GET", "/v1/manufacturers/{id}/build-record-key", s.buildRecordKey)
}

func (s *Server) createHierarchy(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.CreateHierarchyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	root, iss, err := s.mfg.CreateHierarchy(r.Context(), actor(p), fromCreateHierarchyRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toHierarchy(root, iss))
}

func (s *Server) importCA(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.ImportCARequest
	if err := decode(r, &req); err != nil {
		return err
	}
	c, err := s.mfg.ImportCA(r.Context(), actor(p), fromImportCARequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toCA(c))
}

func (s *Server) registerAnchor(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.RegisterAnchorRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	c, err := s.mfg.RegisterAnchor(r.Context(), actor(p), fromRegisterAnchorRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toCA(c))
}

func (s *Server) listCAs(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.mfg.ListCAs(r.Context(), actor(p), r.URL.Query().Get("party"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toCA)))
}

// caCertificate is public: it serves the CA's certificate as PEM.
func (s *Server) caCertificate(w http.ResponseWriter, r *http.Request) error {
	c, err := s.mfg.GetCA(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writePEM(w, toCA(c).CertificatePEM)
}

// buildRecordKey is public: it serves the key that verifies a manufacturer's build records.
func (s *Server) buildRecordKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.mfg.BuildRecordKeyPEM(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writePEM(w, k)
}
