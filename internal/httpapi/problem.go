package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
)

// ProblemBase prefixes every problem type (api.ProblemBase).
const ProblemBase = api.ProblemBase

var kinds = map[failure.Kind]struct {
	status int
	name   string
	title  string
}{
	failure.Invalid:         {http.StatusBadRequest, api.ProblemInvalid, "The request is not valid"},
	failure.NotFound:        {http.StatusNotFound, api.ProblemNotFound, "Not found"},
	failure.Conflict:        {http.StatusConflict, api.ProblemConflict, "Conflict with the current state"},
	failure.Denied:          {http.StatusForbidden, api.ProblemDenied, "Not allowed"},
	failure.Unauthenticated: {http.StatusUnauthorized, api.ProblemUnauthenticated, "Authentication required"},
	failure.Unavailable:     {http.StatusServiceUnavailable, api.ProblemUnavailable, "Temporarily unavailable"},
	failure.TooLarge:        {http.StatusRequestEntityTooLarge, api.ProblemTooLarge, "The request is too large"},
	failure.Pending:         {http.StatusAccepted, api.ProblemPending, "Accepted; waiting for an approval"},
}

// writeError is the one place where errors become HTTP responses.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	k := failure.KindOf(err)
	m, ok := kinds[k]
	p := api.Problem{Instance: r.URL.Path}
	if !ok {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		p.Type, p.Title, p.Status = ProblemBase+api.ProblemInternal, "Internal error", http.StatusInternalServerError
		p.Detail = "the server could not complete the request; the error is in its log"
	} else {
		p.Type, p.Title, p.Status, p.Detail = ProblemBase+m.name, m.title, m.status, publicMessage(err)
	}
	var denied *ownership.DeniedError
	if errors.As(err, &denied) {
		p.Type = ProblemBase + api.ProblemNotOwner
		p.Stage, p.Duty, p.Scope, p.Owner = string(denied.Stage), string(denied.Duty), denied.Scope.String(), denied.Owner
	}
	var pending *failure.PendingError
	if errors.As(err, &pending) {
		p.ApprovalID, p.RetryAfter = pending.Ref, pending.RetryAfter
		w.Header().Set("Retry-After", strconv.Itoa(int(p.RetryAfter.Seconds())))
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
