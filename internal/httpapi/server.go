// Package httpapi is the REST API under /v1: routes, request decoding, authentication, and
// the one map from error kinds to RFC 9457 problem+json responses. It holds no business rules:
// every handler decodes, calls one service method with the authenticated actor, and encodes.
// Bodies are the wire types of package api; wire*.go converts them to the services' request
// types and the services' results back, so a service type never reaches the wire.
package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/custody"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/inventory"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/support"
)

// MaxBody bounds every JSON request body.
const MaxBody = 1 << 20

// Config holds the services.
type Config struct {
	Governance    *governance.Service
	Manufacturing *manufacturing.Service
	Custody       *custody.Service
	Inventory     *inventory.Service
	Operational   *operational.Service
	Store         store.Store       // for the audit listing
	AuditLog      *auditlog.Service // checkpoints and proofs (routes_audit.go); nil: those routes answer 503
	Reports       *reports.Service  // security reports (routes_reports.go); nil: those routes answer 503
	Support       *support.Service  // support grants (routes_governance.go)
	Log           *slog.Logger
}

// Server is the /v1 handler.
type Server struct {
	gov  *governance.Service
	mfg  *manufacturing.Service
	cus  *custody.Service
	inv  *inventory.Service
	ops  *operational.Service
	sup  *support.Service
	st   store.Store
	log  *slog.Logger
	mux  *http.ServeMux
	Spec []Route // every route, for the OpenAPI check
}

// Route is one registered operation.
type Route struct{ Method, Path string }

// New builds the handler.
func New(c Config) *Server {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	s := &Server{gov: c.Governance, mfg: c.Manufacturing, cus: c.Custody, inv: c.Inventory, ops: c.Operational, sup: c.Support, st: c.Store, log: c.Log, mux: http.NewServeMux()}
	s.routes()
	s.operationalRoutes()
	s.auditRoutes(c.AuditLog)
	s.reportRoutes(c.Reports)
	s.governanceRoutes()
	s.gapsRoute(c.Reports)
	s.principalRoutes() // routes_principals.go
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle registers an authenticated operation.
func (s *Server) handle(method, path string, h func(w http.ResponseWriter, r *http.Request, p party.Principal) error) {
	s.Spec = append(s.Spec, Route{method, path})
	s.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r, p); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// public registers an operation that needs no token (published certificates and keys).
func (s *Server) public(method, path string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.Spec = append(s.Spec, Route{method, path})
	s.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (party.Principal, error) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return party.Principal{}, failure.New(failure.Unauthenticated, "send a bearer token: Authorization: Bearer <token>")
	}
	return s.gov.Authenticate(r.Context(), strings.TrimSpace(token))
}

func actor(p party.Principal) audit.Actor { return governance.Actor(p) }

// decode reads a JSON body strictly: JSON content type, at most MaxBody bytes, no unknown
// fields, exactly one value.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return failure.New(failure.Invalid, "send the body as application/json (got %q)", ct)
		}
	}
	return DecodeJSON(io.LimitReader(r.Body, MaxBody+1), v)
}

// DecodeJSON is the strict decoder used for every request body (exported for its fuzz test).
func DecodeJSON(body io.Reader, v any) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return failure.Wrap(failure.Invalid, err, "reading the request body")
	}
	if len(data) > MaxBody {
		return failure.New(failure.TooLarge, "the request body is larger than %d bytes", MaxBody)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return failure.New(failure.Invalid, "the request body is empty; send a JSON object")
		}
		return failure.New(failure.Invalid, "the request body is not valid JSON for this operation: %v", err)
	}
	if dec.More() {
		return failure.New(failure.Invalid, "the request body has data after the JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return failure.New(failure.Invalid, "the request body has data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writePEM(w http.ResponseWriter, pemText string) error {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, err := io.WriteString(w, pemText)
	return err
}
