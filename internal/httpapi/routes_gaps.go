package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/reports"
)

// gapsRoute serves the governance gaps report (reports.Service).
func (s *Server) gapsRoute() {
	s.handle("GET", "/v1/reports/gaps", s.gapsReport)
}

// gapsReport takes idle, how long a principal may go unused before it is a gap (a Go duration
// or "90d"); the lifetime cap to check against comes from the operational service.
func (s *Server) gapsReport(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	rs, err := s.reports()
	if err != nil {
		return err
	}
	o := reports.GapsOptions{}
	if v := r.URL.Query().Get("idle"); v != "" {
		d, err := parseDays(v)
		if err != nil || d <= 0 {
			return failure.New(failure.Invalid, "idle must be a positive duration such as 90d or 720h, not %q", v)
		}
		o.IdleAfter = d
	}
	if s.ops != nil {
		o.MaxLifetime = s.ops.MaxLifetime()
	}
	out, err := rs.Gaps(r.Context(), actor(p), o)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toGapsReport(out))
}

// parseDays reads a Go duration, or a whole number of days written "90d".
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, failure.New(failure.Invalid, "%q is not a number of days", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}
