package console

import (
	"context"
	"net/http"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

// Snapshot is one party's fleet-wide reports as the leader last computed them: the overview
// and the reports pages read it instead of scanning the fleet on every request. Each report is
// what the API answers that party (the snapshot is per party, as the reports are scoped).
type Snapshot struct {
	ComputedAt time.Time
	AuditSize  uint64 // the audit log's size when it was computed
	Summary    api.Summary
	Expiring7  api.ExpiringReport
	Expiring30 api.ExpiringReport
	Gaps       api.GapsReport
	Rotation   api.Rotation // daily trend over 30 days
	Drift      api.DriftReport
	Standards  api.StandardsReport
	// Problems are the reports the party may not read, by name (summary, expiring_7d,
	// expiring_30d, gaps, rotation, drift, standards), as the API refused them.
	Problems map[string]*api.Problem
}

// SnapshotOverview is the part of a snapshot the overview reads: Summary, Expiring7 (its
// counts, without the list of certificates) and Gaps. Each report page reads the part named
// as the report (rotation, expiring, drift, standards, gaps).
const SnapshotOverview = "overview"

// Snapshots reads the latest snapshot of a party, the given part only (the other fields are
// zero); ok is false when there is none yet.
type Snapshots interface {
	LatestSnapshot(ctx context.Context, partyID, part string) (s Snapshot, ok bool, err error)
}

// reportSource is where a page gets its reports: the API (live) or a snapshot.
type reportSource interface {
	ReportSummary(ctx context.Context) (api.Summary, error)
	ReportExpiring(ctx context.Context, within time.Duration) (api.ExpiringReport, error)
	ReportGaps(ctx context.Context, idle string) (api.GapsReport, error)
	ReportRotation(ctx context.Context, trend client.TrendOptions) (api.Rotation, error)
	ReportDrift(ctx context.Context) (api.DriftReport, error)
	ReportStandards(ctx context.Context) (api.StandardsReport, error)
}

// asOf says, on a page, where its figures come from: a snapshot (At is set) or live.
type asOf struct {
	At        time.Time
	AuditSize uint64
	LiveURL   string // the same page computed live
}

// source is the person's party's latest snapshot (of part) unless the request asks for live figures
// (?live=1) or there is none yet (or it cannot be read), then the API. The party is the one
// the API authenticated the session as (s.me), so a snapshot never shows another party's.
func (k *Console) source(r *http.Request, s *session, part string) (reportSource, asOf) {
	live := *r.URL
	q := live.Query()
	q.Set("live", "1")
	live.RawQuery = q.Encode()
	of := asOf{LiveURL: live.RequestURI()}
	if k.snapshots == nil || r.URL.Query().Get("live") != "" {
		return s.api, of
	}
	snap, ok, err := k.snapshots.LatestSnapshot(r.Context(), s.me.PartyID, part)
	if err != nil {
		k.log.Warn("console: reading the report snapshot", "party_id", s.me.PartyID, "err", err)
	}
	if err != nil || !ok {
		return s.api, of
	}
	of.At, of.AuditSize = snap.ComputedAt, snap.AuditSize
	return snapSource{snap}, of
}

// snapSource answers from a snapshot: the console asks only for the windows it stores.
type snapSource struct{ s Snapshot }

// problem is the stored refusal of a report, as an error; nil when it was computed.
func (x snapSource) problem(name string) error {
	if p := x.s.Problems[name]; p != nil {
		return p
	}
	return nil
}

func (x snapSource) ReportSummary(context.Context) (api.Summary, error) {
	return x.s.Summary, x.problem("summary")
}

// ReportExpiring answers the two windows the console asks for: 7 days (the overview) and
// 30 days (the reports page).
func (x snapSource) ReportExpiring(_ context.Context, within time.Duration) (api.ExpiringReport, error) {
	if within <= 7*24*time.Hour {
		return x.s.Expiring7, x.problem("expiring_7d")
	}
	return x.s.Expiring30, x.problem("expiring_30d")
}

func (x snapSource) ReportGaps(context.Context, string) (api.GapsReport, error) {
	return x.s.Gaps, x.problem("gaps")
}

func (x snapSource) ReportRotation(context.Context, client.TrendOptions) (api.Rotation, error) {
	return x.s.Rotation, x.problem("rotation")
}

func (x snapSource) ReportDrift(context.Context) (api.DriftReport, error) {
	return x.s.Drift, x.problem("drift")
}

func (x snapSource) ReportStandards(context.Context) (api.StandardsReport, error) {
	return x.s.Standards, x.problem("standards")
}
