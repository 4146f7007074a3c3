package httpapi

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"strings"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/rotation"
)

// SuccessionView is a rotation's or rollover's outcome as the API shows it.
type SuccessionView struct {
	Predecessor       CAView          `json:"predecessor"`
	Successor         CAView          `json:"successor"`
	LotsMoved         int64           `json:"lots_moved"`
	EnvironmentsMoved int64           `json:"environments_moved"`
	CrossCertificates []CrossCertView `json:"cross_certificates,omitempty"`
}

// CrossCertView is a rollover's cross-certificate with its PEM.
type CrossCertView struct {
	ca.CrossCert
	CertificatePEM string `json:"certificate_pem"`
}

func successionView(o authority.Succession) SuccessionView {
	v := SuccessionView{Predecessor: caView(o.Old), Successor: caView(o.New), LotsMoved: o.LotsMoved, EnvironmentsMoved: o.EnvironmentsMoved}
	for _, x := range o.Cross {
		v.CrossCertificates = append(v.CrossCertificates, CrossCertView{CrossCert: x, CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.CertDER}))})
	}
	return v
}

// rotationRoutes serves CA rotation (docs/rotation.md): rotating an issuing CA and rolling a
// root over are governed like creating the CA; a CA's path (chain and cross-certificates) is
// public, like its certificate. The CA expiry report is a report like the others.
func (s *Server) rotationRoutes(rot *rotation.Service, rep *reports.Service) {
	h := rotationHandlers{rot}
	s.handle("POST", "/v1/cas/{id}/rotate", h.rotate)
	s.handle("POST", "/v1/cas/{id}/rollover", h.rollover)
	s.public("GET", "/v1/cas/{id}/chain", h.chain)
	s.handle("POST", "/v1/manufacturers/{id}/build-record-key/rotate", s.rotateBuildRecordKey)
	s.public("GET", "/v1/manufacturers/{id}/build-record-keys", s.buildRecordKeys)
	s.handle("GET", "/v1/reports/ca-expiry", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		if rep == nil {
			return failure.New(failure.Unavailable, "reports are not configured on this server")
		}
		out, err := rep.CAExpiry(r.Context(), actor(p))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, out)
	})
}

// rotateBuildRecordKey is POST /v1/manufacturers/{id}/build-record-key/rotate: a new
// build-record key; the old one stays in the key history.
func (s *Server) rotateBuildRecordKey(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := decodeOptional(r, &struct{}{}); err != nil {
		return err
	}
	k, err := s.mfg.RotateBuildRecordKey(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, k)
}

// buildRecordKeys is GET /v1/manufacturers/{id}/build-record-keys: the key history as a key
// set file, the current key first (public).
func (s *Server) buildRecordKeys(w http.ResponseWriter, r *http.Request) error {
	set, err := s.mfg.BuildRecordKeySetPEM(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writePEM(w, set)
}

type rotationHandlers struct{ rot *rotation.Service }

func (h rotationHandlers) ready() error {
	if h.rot == nil {
		return failure.New(failure.Unavailable, "CA rotation is not configured on this server")
	}
	return nil
}

// rotate is POST /v1/cas/{id}/rotate: the issuing CA's successor takes its lots and
// environments.
func (h rotationHandlers) rotate(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := h.ready(); err != nil {
		return err
	}
	return replaceCA(w, r, p, h.rot.Rotate)
}

// rollover is POST /v1/cas/{id}/rollover: a new root with cross-certificates.
func (h rotationHandlers) rollover(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if err := h.ready(); err != nil {
		return err
	}
	return replaceCA(w, r, p, h.rot.Rollover)
}

func replaceCA(w http.ResponseWriter, r *http.Request, p party.Principal, do func(context.Context, audit.Actor, string, rotation.Request) (authority.Succession, error)) error {
	var req rotation.Request
	if err := decodeOptional(r, &req); err != nil {
		return err
	}
	out, err := do(r.Context(), actor(p), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, 201, successionView(out))
}

// chain is GET /v1/cas/{id}/chain: the CA's certificate, the CAs above it, and its root line's
// cross-certificates, PEM.
func (h rotationHandlers) chain(w http.ResponseWriter, r *http.Request) error {
	if err := h.ready(); err != nil {
		return err
	}
	certs, err := h.rot.Path(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return writePEM(w, b.String())
}

// decodeOptional is decode for operations whose body may be left out: no body (or an empty
// one) leaves v as it is.
func decodeOptional(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return failure.Wrap(failure.Invalid, err, "reading the request body")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	return decode(r, v)
}

// auditKeyRoutes serve the checkpoint key history (public: one note verifier key a line, the
// current first, for "hallmark audit verify --key") and its rotation (administrators).
func (s *Server) auditKeyRoutes(a *auditlog.Service, ready func() error) {
	s.public("GET", "/v1/audit/keys", func(w http.ResponseWriter, r *http.Request) error {
		if err := ready(); err != nil {
			return err
		}
		hist, err := a.KeyHistory(r.Context())
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, k := range hist {
			b.WriteString(k.VerifierKey + "\n")
		}
		return writeText(w, 200, b.String())
	})
	s.handle("POST", "/v1/audit/key/rotate", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		if err := ready(); err != nil {
			return err
		}
		if err := decodeOptional(r, &struct{}{}); err != nil {
			return err
		}
		k, err := a.RotateKey(r.Context(), actor(p))
		if err != nil {
			return err
		}
		return writeJSON(w, 201, k)
	})
}
