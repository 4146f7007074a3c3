package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/reports"
)

// reportRoutes serves the security reports under /v1/reports; with no reports service they
// answer 503.
func (s *Server) reportRoutes(rep *reports.Service) {
	svc := func() (*reports.Service, error) {
		if rep == nil {
			return nil, failure.New(failure.Unavailable, "reports are not configured on this server")
		}
		return rep, nil
	}
	s.handle("GET", "/v1/reports/inventory", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		rs, err := svc()
		if err != nil {
			return err
		}
		q := r.URL.Query()
		limit := 0
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return failure.New(failure.Invalid, "limit must be 1-1000")
			}
			limit = n
		}
		page, err := rs.Inventory(r.Context(), actor(p), q.Get("after"), limit)
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toInventoryPage(page))
	})
	s.handle("GET", "/v1/reports/summary", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		rs, err := svc()
		if err != nil {
			return err
		}
		out, err := rs.Summary(r.Context(), actor(p))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toSummary(out))
	})
	s.handle("GET", "/v1/reports/rotation", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		rs, err := svc()
		if err != nil {
			return err
		}
		var trend reports.TrendOptions
		q := r.URL.Query()
		if v := q.Get("since"); v != "" {
			if trend.Since, err = reports.ParseSpan(v); err != nil {
				return failure.New(failure.Invalid, "since: %v", err)
			}
		}
		if v := q.Get("every"); v != "" {
			if trend.Every, err = reports.ParseSpan(v); err != nil {
				return failure.New(failure.Invalid, "every: %v", err)
			}
		}
		if (trend.Since == 0) != (trend.Every == 0) {
			return failure.New(failure.Invalid, "give both since and every (such as since=30d&every=1d), or neither")
		}
		out, err := rs.Rotation(r.Context(), actor(p), trend)
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toRotation(out))
	})
	s.handle("GET", "/v1/reports/expiring", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		rs, err := svc()
		if err != nil {
			return err
		}
		var within time.Duration
		if v := r.URL.Query().Get("within"); v != "" {
			if within, err = time.ParseDuration(v); err != nil || within <= 0 {
				return failure.New(failure.Invalid, "within must be a positive Go duration such as 72h")
			}
		}
		out, err := rs.Expiring(r.Context(), actor(p), within)
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toExpiringReport(out))
	})
	s.handle("GET", "/v1/reports/drift", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		rs, err := svc()
		if err != nil {
			return err
		}
		out, err := rs.Drift(r.Context(), actor(p))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toDriftReport(out))
	})
	s.handle("GET", "/v1/reports/standards", func(w http.ResponseWriter, r *http.Request, p party.Principal) error {
		rs, err := svc()
		if err != nil {
			return err
		}
		out, err := rs.StandardsFor(r.Context(), actor(p))
		if err != nil {
			return err
		}
		return writeJSON(w, 200, toStandardsReport(out))
	})
}
