// Package httpapi is the REST API under /v1: routes, request decoding, authentication, and
// the one map from error kinds to RFC 9457 problem+json responses. It holds no business rules:
// every handler decodes, calls one service method with the authenticated actor, and encodes;
// authorisation and every read of the store happen in the services (it imports no store).
// Each route group has its file, routes_<group>.go: a short registrar naming one handler
// method per route.
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
	"github.com/hallmark-id/hallmark/internal/custodyvouchers"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/inventory"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/refusals"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/rotation"
	"github.com/hallmark-id/hallmark/internal/signin"
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
	AuditLog      *auditlog.Service // events, checkpoints and proofs (routes_audit.go); nil: those routes answer 503
	Reports       *reports.Service  // security reports (routes_reports.go); nil: those routes answer 503
	Support       *support.Service  // support grants (routes_support.go)
	Rotation      *rotation.Service // CA rotation and rollover (routes_cas.go); nil: those routes answer 503
	Signin        *signin.Service   // OpenID Connect sign-in and sessions (routes_auth.go); nil: those routes answer 503
	Makers        *makers.Service   // makers that do not run Hallmark (routes_makers.go); nil: those routes answer 503
	// Vouchers are custody vouchers between deployments (routes_vouchers.go); nil: those routes answer 503.
	Vouchers *custodyvouchers.Service
	Log      *slog.Logger

	Refusals      RefusalRecorder  // records refused requests (routes_refusals.go); nil: none recorded
	RefusalReader *refusals.Reader // the refusals report; nil: it answers 503
}

// Server is the /v1 handler.
type Server struct {
	gov    *governance.Service
	mfg    *manufacturing.Service
	cus    *custody.Service
	inv    *inventory.Service
	ops    *operational.Service
	sup    *support.Service
	audit  *auditlog.Service        // nil: the audit log routes answer 503
	rot    *rotation.Service        // nil: the CA rotation routes answer 503
	rep    *reports.Service         // nil: the report routes answer 503
	signin *signin.Service          // nil: the sign-in routes answer 503 and session tokens are refused
	mak    *makers.Service          // nil: the makers routes answer 503
	vch    *custodyvouchers.Service // nil: the custody voucher routes answer 503
	log    *slog.Logger
	mux    *http.ServeMux
	Spec   []Route // every route, for the OpenAPI check

	refusals      RefusalRecorder
	refusalReader *refusals.Reader
}

// Route is one registered operation.
type Route struct{ Method, Path string }

// New builds the handler.
func New(c Config) *Server {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	s := &Server{gov: c.Governance, mfg: c.Manufacturing, cus: c.Custody, inv: c.Inventory, ops: c.Operational, sup: c.Support,
		audit: c.AuditLog, rep: c.Reports, rot: c.Rotation, log: c.Log, mux: http.NewServeMux()}
	s.signin, s.mak = c.Signin, c.Makers
	s.vch = c.Vouchers
	s.refusals, s.refusalReader = c.Refusals, c.RefusalReader
	s.routes()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle registers an authenticated operation.
func (s *Server) handle(method, path string, h func(w http.ResponseWriter, r *http.Request, p party.Principal) error) {
	s.Spec = append(s.Spec, Route{method, path})
	if name := reportName(method, path); name != "" {
		h = s.reportHandler(name, h) // signed_reports.go: ?signed=1
	}
	s.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r, p); err != nil {
			// A governed change that became a pending proposal: accepted, not applied.
			var pend *governance.Pending
			if errors.As(err, &pend) {
				_ = writeJSON(w, http.StatusAccepted, toApproval(pend.Request))
				return
			}
			s.refused(r, p, err)
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
	token = strings.TrimSpace(token)
	if strings.HasPrefix(token, signin.SessionPrefix) && s.signin != nil {
		p, _, err := s.signin.Authenticate(r.Context(), token)
		return p, err
	}
	return s.gov.Authenticate(r.Context(), token)
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

// writeJSON writes v as compact JSON and a newline. Compact, not indented: clients parse it
// (the CLI prints its own tables and --json), and indenting cost CPU and bytes on every
// response (issue 21); `| jq .` pretty-prints it for a person.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func writePEM(w http.ResponseWriter, pemText string) error {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, err := io.WriteString(w, pemText)
	return err
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
