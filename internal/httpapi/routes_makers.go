package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/manifest"
	"github.com/hallmark-id/hallmark/internal/party"
)

// makerRoutes serve makers that do not run Hallmark (makers.Service): their registration,
// settings, manifests and an on-demand status check. With no service every route answers
// 503.
func (s *Server) makerRoutes() {
	s.handle("POST", "/v1/makers", s.registerMaker)
	s.handle("GET", "/v1/makers", s.listMakers)
	s.handle("GET", "/v1/makers/{id}", s.getMaker)
	s.handle("PATCH", "/v1/makers/{id}", s.updateMaker)
	s.handle("POST", "/v1/makers/{id}/manifests", s.importManifest)
	s.handle("GET", "/v1/makers/{id}/manifests", s.listManifests)
	s.handle("POST", "/v1/makers/{id}/check", s.checkMaker)
}

// makers is the makers service, or Unavailable when this server has none.
func (s *Server) makers() (*makers.Service, error) {
	if s.mak == nil {
		return nil, failure.New(failure.Unavailable, "makers are not configured on this server")
	}
	return s.mak, nil
}

func (s *Server) registerMaker(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.makers()
	if err != nil {
		return err
	}
	var req api.RegisterMakerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := svc.Register(r.Context(), actor(p), fromRegisterMakerRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toMaker(m))
}

func (s *Server) listMakers(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.makers()
	if err != nil {
		return err
	}
	out, err := svc.List(r.Context(), actor(p), r.URL.Query().Get("operator"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toMaker)))
}

func (s *Server) getMaker(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.makers()
	if err != nil {
		return err
	}
	m, err := svc.Get(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toMaker(m))
}

func (s *Server) updateMaker(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.makers()
	if err != nil {
		return err
	}
	var req api.UpdateMakerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := svc.Update(r.Context(), actor(p), r.PathValue("id"), fromUpdateMakerRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toMaker(m))
}

// MaxManifestBody bounds a manifest upload: manifest.DefaultMaxBytes.
const MaxManifestBody = manifest.DefaultMaxBytes

// importManifest takes the manifest as the body itself: a DSSE envelope as application/json
// (or application/vnd.dsse+json), a CSV as text/csv with the approvers' reason in ?reason=.
func (s *Server) importManifest(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.makers()
	if err != nil {
		return err
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format := ""
	switch {
	case err != nil:
	case mt == "application/json" || mt == "application/vnd.dsse+json":
		format = string(manifest.FormatDSSE)
	case mt == "text/csv":
		format = string(manifest.FormatCSV)
	}
	if format == "" {
		return failure.New(failure.Invalid, "send a signed manifest (a DSSE envelope) as application/json, or a CSV as text/csv, not %q", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxManifestBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return failure.New(failure.TooLarge, "the manifest is larger than %d bytes", MaxManifestBody)
		}
		return failure.Wrap(failure.Invalid, err, "reading the manifest")
	}
	res, err := svc.ImportManifest(r.Context(), actor(p), r.PathValue("id"), makers.ManifestUpload{Format: format, Data: body, Reason: r.URL.Query().Get("reason")})
	if err != nil {
		return err
	}
	code := 201
	if res.Approval != nil {
		code = 202
	}
	return writeJSON(w, code, toManifestResult(res))
}

func (s *Server) listManifests(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.makers()
	if err != nil {
		return err
	}
	out, err := svc.ListManifests(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toManifest)))
}

func (s *Server) checkMaker(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.makers()
	if err != nil {
		return err
	}
	out, err := svc.Check(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toMakerCheck(out))
}
