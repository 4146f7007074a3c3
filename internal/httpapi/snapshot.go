package httpapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/reports"
)

// ReportViews are the reports the console's overview and reports pages show, each exactly as
// the API's /v1/reports/* answers the actor's party with the console's parameters: the
// snapshot the leader stores (internal/app/snapshots.go). A report the party may not read
// (the standards report is for auditors) is in Problems, by name, as the API would refuse it.
type ReportViews struct {
	Summary    api.Summary         `json:"summary"`
	Expiring7  api.ExpiringReport  `json:"expiring_7d"`
	Expiring30 api.ExpiringReport  `json:"expiring_30d"`
	Gaps       api.GapsReport      `json:"gaps"`
	Rotation   api.Rotation        `json:"rotation"` // with a daily trend over 30 days
	Drift      api.DriftReport     `json:"drift"`
	Standards  api.StandardsReport `json:"standards"`
	// Problems are the refusals, by report: summary, expiring_7d, expiring_30d, gaps,
	// rotation, drift, standards.
	Problems map[string]*api.Problem `json:"problems,omitempty"`
}

// ReportViews computes the views for actor a, with the same services and options the routes
// use. A refusal of a known kind (denied, not found...) is kept in Problems; any other error
// fails it.
func (s *Server) ReportViews(ctx context.Context, a audit.Actor) (ReportViews, error) {
	v := ReportViews{Problems: map[string]*api.Problem{}}
	rs, err := s.reports()
	if err != nil {
		return v, err
	}
	keep := func(name string, err error) error {
		if err == nil {
			return nil
		}
		k := failure.KindOf(err)
		m, ok := kinds[k]
		if !ok {
			return fmt.Errorf("%s: %w", name, err)
		}
		p := &api.Problem{Type: ProblemBase + m.name, Title: m.title, Status: m.status, Detail: publicMessage(err), Instance: "/v1/reports/" + name}
		var denied *ownership.DeniedError
		if errors.As(err, &denied) {
			p.Type = ProblemBase + api.ProblemNotOwner
			p.Stage, p.Duty, p.Scope, p.Owner = string(denied.Stage), string(denied.Duty), denied.Scope.String(), denied.Owner
		}
		v.Problems[name] = p
		return nil
	}
	sum, err := rs.Summary(ctx, a)
	if err := keep("summary", err); err != nil {
		return v, err
	}
	v.Summary = toSummary(sum)
	ex, err := rs.Expiring(ctx, a, 7*24*time.Hour)
	if err := keep("expiring_7d", err); err != nil {
		return v, err
	}
	v.Expiring7 = toExpiringReport(ex)
	ex, err = rs.Expiring(ctx, a, 30*24*time.Hour)
	if err := keep("expiring_30d", err); err != nil {
		return v, err
	}
	v.Expiring30 = toExpiringReport(ex)
	o := reports.GapsOptions{}
	if s.ops != nil {
		o.MaxLifetime = s.ops.MaxLifetime()
	}
	g, err := rs.Gaps(ctx, a, o)
	if err := keep("gaps", err); err != nil {
		return v, err
	}
	v.Gaps = toGapsReport(g)
	rot, err := rs.Rotation(ctx, a, reports.TrendOptions{Since: 30 * 24 * time.Hour, Every: 24 * time.Hour})
	if err := keep("rotation", err); err != nil {
		return v, err
	}
	v.Rotation = toRotation(rot)
	dr, err := rs.Drift(ctx, a)
	if err := keep("drift", err); err != nil {
		return v, err
	}
	v.Drift = toDriftReport(dr)
	st, err := rs.StandardsFor(ctx, a)
	if err := keep("standards", err); err != nil {
		return v, err
	}
	v.Standards = toStandardsReport(st)
	return v, nil
}
