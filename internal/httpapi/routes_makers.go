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

// makerAPI serves makers that do not run Hallmark (makers.Service): their registration,
// settings, manifests and an on-demand status check. With no service every route answers
// 503.
type makerAPI struct{ m *makers.Service }

// makerRoutes registers the makers API.
func (s *Server) makerRoutes(m *makers.Service) {
	h := makerAPI{m: m}
	s.handle("POST", "/v1/makers", h.register)
	s.handle("GET", "/v1/makers", h.list)
	s.handle("GET", "/v1/makers/{id}", h.get)
	s.handle("PATCH", "/v1/makers/{id}", h.update)
	s.handle("POST", "/v1/makers/{id}/manifests", h.importManifest)
	s.handle("GET", "/v1/makers/{id}/manifests", h.listManifests)
	s.handle("POST", "/v1/makers/{id}/check", h.check)
}

func (h makerAPI) ready() error {
	if h.m == nil {
		return failure.New(failure.Unavailable, "makers are not configured on this server")
	}
	return nil
}

func (h makerAPI) register(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := h.ready(); err != nil {
		return err
	}
	var req api.RegisterMakerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := h.m.Register(r.Context(), actor(p), fromRegisterMakerRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toMaker(m))
}

func (h makerAPI) list(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := h.ready(); err != nil {
		return err
	}
	out, err := h.m.List(r.Context(), actor(p), r.URL.Query().Get("operator"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toMaker)))
}

func (h makerAPI) get(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := h.ready(); err != nil {
		return err
	}
	m, err := h.m.Get(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toMaker(m))
}

func (h makerAPI) update(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := h.ready(); err != nil {
		return err
	}
	var req api.UpdateMakerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := h.m.Update(r.Context(), actor(p), r.PathValue("id"), fromUpdateMakerRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toMaker(m))
}

// MaxManifestBody bounds a manifest upload: manifest.DefaultMaxBytes.
const MaxManifestBody = manifest.DefaultMaxBytes

// importManifest takes the manifest as the body itself: a DSSE envelope as application/json
// (or application/vnd.dsse+json), a CSV as text/csv with the approvers' reason in ?reason=.
func (h makerAPI) importManifest(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := h.ready(); err != nil {
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
	res, err := h.m.ImportManifest(r.Context(), actor(p), r.PathValue("id"), makers.ManifestUpload{Format: format, Data: body, Reason: r.URL.Query().Get("reason")})
	if err != nil {
		return err
	}
	code := 201
	if res.Approval != nil {
		code = 202
	}
	return writeJSON(w, code, toManifestResult(res))
}

func (h makerAPI) listManifests(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := h.ready(); err != nil {
		return err
	}
	out, err := h.m.ListManifests(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toManifest)))
}

func (h makerAPI) check(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := h.ready(); err != nil {
		return err
	}
	out, err := h.m.Check(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toMakerCheck(out))
}
