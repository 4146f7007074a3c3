package httpapi

import (
	"context"
	"encoding/pem"
	"net/http"
	"strings"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/rotation"
)

// caRoutes are manufacturing CAs, imported CAs and anchors (manufacturing.Service), CA
// rotation and root rollover (rotation.Service, docs/rotation.md) and build-record key
// rotation; a CA's certificate and path and a manufacturer's build-record keys are public.
func (s *Server) caRoutes() {
	s.handle("POST", "/v1/manufacturing/hierarchies", s.createHierarchy)
	s.handle("POST", "/v1/manufacturing/imports", s.importCA)
	s.handle("POST", "/v1/anchors", s.registerAnchor)
	s.handle("GET", "/v1/cas", s.listCAs)
	s.public("GET", "/v1/cas/{id}/certificate", s.caCertificate)
	s.public("GET", "/v1/manufacturers/{id}/build-record-key", s.buildRecordKey)
	s.handle("POST", "/v1/cas/{id}/rotate", s.rotateCA)
	s.handle("POST", "/v1/cas/{id}/rollover", s.rolloverCA)
	s.public("GET", "/v1/cas/{id}/chain", s.caChain)
	s.handle("POST", "/v1/manufacturers/{id}/build-record-key/rotate", s.rotateBuildRecordKey)
	s.public("GET", "/v1/manufacturers/{id}/build-record-keys", s.buildRecordKeys)
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

// rotation is the CA rotation service, or Unavailable when this server has none.
func (s *Server) rotation() (*rotation.Service, error) {
	if s.rot == nil {
		return nil, failure.New(failure.Unavailable, "CA rotation is not configured on this server")
	}
	return s.rot, nil
}

// rotateCA replaces an issuing CA by a successor that takes its lots and environments; the
// service checks the duty that creates the CA. The body may be left out.
func (s *Server) rotateCA(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rot, err := s.rotation()
	if err != nil {
		return err
	}
	return replaceCA(w, r, p, rot.Rotate)
}

// rolloverCA replaces a root by a new root with cross-certificates. The body may be left out.
func (s *Server) rolloverCA(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rot, err := s.rotation()
	if err != nil {
		return err
	}
	return replaceCA(w, r, p, rot.Rollover)
}

func replaceCA(w http.ResponseWriter, r *http.Request, p party.Principal, do func(context.Context, audit.Actor, string, rotation.Request) (rotation.Succession, error)) error {
	var req api.RotateCARequest
	if err := decodeOptional(r, &req); err != nil {
		return err
	}
	out, err := do(r.Context(), actor(p), r.PathValue("id"), fromRotateCARequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toSuccession(out))
}

// caChain is public: the CA's certificate, the CAs above it, and its root line's
// cross-certificates, PEM.
func (s *Server) caChain(w http.ResponseWriter, r *http.Request) error {
	rot, err := s.rotation()
	if err != nil {
		return err
	}
	certs, err := rot.Path(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return writePEM(w, b.String())
}

// rotateBuildRecordKey makes a manufacturer's new build-record key; the old one stays in the
// key history. The body may be left out.
func (s *Server) rotateBuildRecordKey(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := decodeOptional(r, &struct{}{}); err != nil {
		return err
	}
	k, err := s.mfg.RotateBuildRecordKey(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toBuildRecordKey(k))
}

// buildRecordKeys is public: a manufacturer's build-record key history as a key set file, the
// current key first.
func (s *Server) buildRecordKeys(w http.ResponseWriter, r *http.Request) error {
	set, err := s.mfg.BuildRecordKeySetPEM(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writePEM(w, set)
}
