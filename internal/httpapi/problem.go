package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
)

// ProblemBase prefixes every problem type; the suffixes are stable API.
const ProblemBase = "https://hallmark.dev/problems/"

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Extension members for a refusal by the ownership matrix.
	Stage string `json:"stage,omitempty"`
	Duty  string `json:"duty,omitempty"`
	Scope string `json:"scope,omitempty"`
	Owner string `json:"owner,omitempty"`
	// Ref names what a pending request waits for (an approval ID).
	Ref string `json:"approval_id,omitempty"`
}

var kinds = map[failure.Kind]struct {
	status int
	name   string
	title  string
}{
	failure.Invalid:         {http.StatusBadRequest, "invalid", "The request is not valid"},
	failure.NotFound:        {http.StatusNotFound, "not-found", "Not found"},
	failure.Conflict:        {http.StatusConflict, "conflict", "Conflict with the current state"},
	failure.Denied:          {http.StatusForbidden, "denied", "Not allowed"},
	failure.Unauthenticated: {http.StatusUnauthorized, "unauthenticated", "Authentication required"},
	failure.Unavailable:     {http.StatusServiceUnavailable, "unavailable", "Temporarily unavailable"},
	failure.TooLarge:        {http.StatusRequestEntityTooLarge, "too-large", "The request is too large"},
	failure.Pending:         {http.StatusAccepted, "pending", "Accepted; waiting for an approval"},
}

// writeError is the one place where errors become HTTP responses.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	k := failure.KindOf(err)
	m, ok := kinds[k]
	p := Problem{Instance: r.URL.Path}
	if !ok {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		p.Type, p.Title, p.Status = ProblemBase+"internal", "Internal error", http.StatusInternalServerError
		p.Detail = "the server could not complete the request; the error is in its log"
	} else {
		p.Type, p.Title, p.Status, p.Detail = ProblemBase+m.name, m.title, m.status, publicMessage(err)
	}
	var denied *ownership.DeniedError
	if errors.As(err, &denied) {
		p.Type = ProblemBase + "not-owner"
		p.Stage, p.Duty, p.Scope, p.Owner = string(denied.Stage), string(denied.Duty), denied.Scope.String(), denied.Owner
	}
	var pending *failure.PendingError
	if errors.As(err, &pending) {
		p.Ref = pending.Ref
		w.Header().Set("Retry-After", strconv.Itoa(int(pending.RetryAfter.Seconds())))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hallmark"`)
	}
	if ok {
		s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", p.Status, "problem", p.Type, "detail", p.Detail)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// publicMessage is what the caller is told. Errors of a known kind carry messages written
// for callers (services build them; the store's wrap only names what was looked for).
func publicMessage(err error) string { return err.Error() }
