package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/refusals"
)

// RefusalRecorder records the refusals of authenticated callers (*refusals.Recorder).
type RefusalRecorder interface{ Record(refusals.Refusal) }

// refusalRoutes serve the refusals report (issue 17); without a reader it answers 503.
func (s *Server) refusalRoutes() {
	s.handle("GET", "/v1/reports/refusals", s.refusalReport)
}

// refused records a refused request of principal p: every error of kind denied, and any
// error that names the rule it broke. Other failures (not found, conflict, bad input) are
// not refusals of an authorised act.
func (s *Server) refused(r *http.Request, p party.Principal, err error) {
	if s.refusals == nil {
		return
	}
	reason, rule := refusals.Classify(err)
	if rule == "" && !failure.Is(err, failure.Denied) {
		return
	}
	s.refusals.Record(refusals.Refusal{PartyID: p.PartyID, PrincipalID: p.ID, Via: "api", Reason: reason, Rule: rule,
		Subject: subjectOf(r), Operation: r.Pattern, Message: err.Error()})
}

// subjectOf names what a request is about from its route: "device:<id>" for
// /v1/devices/{id}/..., likewise environments, lots, transfers, approvals, principals, and
// "" for routes without an {id}.
func subjectOf(r *http.Request) string {
	id := r.PathValue("id")
	if id == "" {
		return ""
	}
	seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	switch seg {
	case "parties":
		seg = "party"
	default:
		seg = strings.TrimSuffix(seg, "s")
	}
	return seg + ":" + id
}

// refusalReport lists refusal events newest first with totals by reason: auditors see all,
// others (deployment administrators included) their own principals' refusals; ?device= gives one device's
// refusal history to whoever may see the device. since is an RFC 3339 time (default: seven
// days ago), limit 1-1000.
func (s *Server) refusalReport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	if s.refusalReader == nil {
		return failure.New(failure.Unavailable, "refusal reports are not configured on this server")
	}
	q := r.URL.Query()
	rq := refusals.Query{DeviceID: q.Get("device")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return failure.New(failure.Invalid, "since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		}
		rq.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return failure.New(failure.Invalid, "limit must be 1-1000")
		}
		rq.Limit = n
	}
	rep, err := s.refusalReader.Report(r.Context(), actor(p), rq)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toRefusalReport(rep))
}
