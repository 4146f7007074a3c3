package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ProblemBase prefixes every problem type; the suffixes below are stable API.
const ProblemBase = "https://hallmark.dev/problems/"

// Problem type names: a problem's Type is ProblemBase followed by one of them. Except for
// ProblemNotOwner (a ProblemDenied that names the ownership-matrix cell) they are also the
// names of the kinds of failure a caller acts on.
const (
	ProblemInvalid         = "invalid"         // 400: the input is malformed or breaks a rule
	ProblemNotFound        = "not-found"       // 404
	ProblemConflict        = "conflict"        // 409: the state changed, or the thing exists
	ProblemDenied          = "denied"          // 403
	ProblemNotOwner        = "not-owner"       // 403, refused by the ownership matrix
	ProblemUnauthenticated = "unauthenticated" // 401
	ProblemUnavailable     = "unavailable"     // 503: retry later (see Retry-After)
	ProblemTooLarge        = "too-large"       // 413
	ProblemPending         = "pending"         // 202: accepted, waiting for an approval
	ProblemInternal        = "internal"        // 500: the server's log has the error
)

// Problem is an RFC 9457 problem details object (media type application/problem+json), with
// Hallmark's extension members. The server writes one for every refusal; the client returns
// one as the error of a call the server refused.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Stage, Duty, Scope and Owner name the ownership-matrix cell behind a not-owner refusal:
	// Owner is the party owning it (empty when nobody does).
	Stage string `json:"stage,omitempty"`
	Duty  string `json:"duty,omitempty"`
	Scope string `json:"scope,omitempty"`
	Owner string `json:"owner,omitempty"`
	// ApprovalID names the approval request a pending answer waits for.
	ApprovalID string `json:"approval_id,omitempty"`
	// RetryAfter is the answer's Retry-After header (RFC 9110 section 10.2.3) in whole
	// seconds, when it carried one (a pending request, a shed request's 503); zero otherwise.
	// It is not part of the JSON body.
	RetryAfter time.Duration `json:"-"`
}

// Error returns "detail (HTTP status)", or the title or status text when there is no detail.
func (p *Problem) Error() string {
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = http.StatusText(p.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, p.Status)
}

// Name is the problem type without ProblemBase, e.g. "not-found" or "not-owner".
func (p *Problem) Name() string { return strings.TrimPrefix(p.Type, ProblemBase) }

// NotOwner reports whether the ownership matrix refused the call; Stage, Duty, Scope and
// Owner then say which cell decided it.
func (p *Problem) NotOwner() bool { return p.Name() == ProblemNotOwner }

// KindName is the kind of failure: the problem type name, with not-owner counted as denied,
// "internal" for an internal error, and an answer that was not a Hallmark problem (a proxy's
// error page) classified by its status. It lets internal/failure classify a Problem.
func (p *Problem) KindName() string {
	switch n := p.Name(); n {
	case ProblemInvalid, ProblemNotFound, ProblemConflict, ProblemDenied, ProblemUnauthenticated,
		ProblemUnavailable, ProblemTooLarge, ProblemInternal:
		return n
	case ProblemNotOwner:
		return ProblemDenied
	}
	switch p.Status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return ProblemInvalid
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return ProblemNotFound
	case http.StatusConflict:
		return ProblemConflict
	case http.StatusForbidden:
		return ProblemDenied
	case http.StatusUnauthorized:
		return ProblemUnauthenticated
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return ProblemUnavailable
	case http.StatusRequestEntityTooLarge:
		return ProblemTooLarge
	}
	return ProblemInternal
}
