package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/reports"
)

// ReportViews are the reports the console's overview and reports pages show, each exactly as
// the API's /v1/reports/* answers the actor's party with the console's parameters: the
// snapshot the leader stores (internal/app/snapshots.go).
type ReportViews struct {
	Summary    api.Summary         `json:"summary"`
	Expiring7  api.ExpiringReport  `json:"expiring_7d"`
	Expiring30 api.ExpiringReport  `json:"expiring_30d"`
	Gaps       api.GapsReport      `json:"gaps"`
	Rotation   api.Rotation        `json:"rotation"` // with a daily trend over 30 days
	Drift      api.DriftReport     `json:"drift"`
	Standards  api.StandardsReport `json:"standards"`
}

// ReportViews computes the views for actor a, with the same services and options the routes
// use; the first report that fails fails it.
func (s *Server) ReportViews(ctx context.Context, a audit.Actor) (ReportViews, error) {
	var v ReportViews
	rs, err := s.reports()
	if err != nil {
		return v, err
	}
	sum, err := rs.Summary(ctx, a)
	if err != nil {
		return v, fmt.Errorf("summary: %w", err)
	}
	v.Summary = toSummary(sum)
	for _, e := range []struct {
		within time.Duration
		out    *api.ExpiringReport
	}{{7 * 24 * time.Hour, &v.Expiring7}, {30 * 24 * time.Hour, &v.Expiring30}} {
		ex, err := rs.Expiring(ctx, a, e.within)
		if err != nil {
			return v, fmt.Errorf("expiring within %s: %w", e.within, err)
		}
		*e.out = toExpiringReport(ex)
	}
	o := reports.GapsOptions{}
	if s.ops != nil {
		o.MaxLifetime = s.ops.MaxLifetime()
	}
	g, err := rs.Gaps(ctx, a, o)
	if err != nil {
		return v, fmt.Errorf("gaps: %w", err)
	}
	v.Gaps = toGapsReport(g)
	rot, err := rs.Rotation(ctx, a, reports.TrendOptions{Since: 30 * 24 * time.Hour, Every: 24 * time.Hour})
	if err != nil {
		return v, fmt.Errorf("rotation: %w", err)
	}
	v.Rotation = toRotation(rot)
	dr, err := rs.Drift(ctx, a)
	if err != nil {
		return v, fmt.Errorf("drift: %w", err)
	}
	v.Drift = toDriftReport(dr)
	st, err := rs.StandardsFor(ctx, a)
	if err != nil {
		return v, fmt.Errorf("standards: %w", err)
	}
	v.Standards = toStandardsReport(st)
	return v, nil
}
