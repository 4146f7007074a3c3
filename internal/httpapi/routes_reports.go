package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/reports"
)

// reportRoutes serve the security reports under /v1/reports (reports.Service); with no
// reports service they answer 503.
func (s *Server) reportRoutes() {
	s.handle("GET", "/v1/reports/inventory", s.inventoryReport)
	s.handle("GET", "/v1/reports/summary", s.summaryReport)
	s.handle("GET", "/v1/reports/rotation", s.rotationReport)
	s.handle("GET", "/v1/reports/expiring", s.expiringReport)
	s.handle("GET", "/v1/reports/drift", s.driftReport)
	s.handle("GET", "/v1/reports/standards", s.standardsReport)
	s.handle("GET", "/v1/reports/ca-expiry", s.caExpiryReport)
}

// reports is the reports service, or Unavailable when this server has none.
func (s *Server) reports() (*reports.Service, error) {
	if s.rep == nil {
		return nil, failure.New(failure.Unavailable, "reports are not configured on this server")
	}
	return s.rep, nil
}

// inventoryReport pages the inventory by device ID (after, limit 1-1000).
func (s *Server) inventoryReport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rs, err := s.reports()
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
}

func (s *Server) summaryReport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rs, err := s.reports()
	if err != nil {
		return err
	}
	out, err := rs.Summary(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toSummary(out))
}

// rotationReport adds a trend when the query gives both since and every (spans such as 30d).
func (s *Server) rotationReport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rs, err := s.reports()
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
}

// expiringReport takes within, a positive Go duration (the service's 72h when absent).
func (s *Server) expiringReport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rs, err := s.reports()
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
}

func (s *Server) driftReport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rs, err := s.reports()
	if err != nil {
		return err
	}
	out, err := rs.Drift(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toDriftReport(out))
}

func (s *Server) standardsReport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rs, err := s.reports()
	if err != nil {
		return err
	}
	out, err := rs.StandardsFor(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toStandardsReport(out))
}

// caExpiryReport lists the CAs the caller may see, soonest end first, with their warnings.
func (s *Server) caExpiryReport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rs, err := s.reports()
	if err != nil {
		return err
	}
	out, err := rs.CAExpiry(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toCAExpiryReport(out))
}
