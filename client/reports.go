package client

import (
	"context"
	"strconv"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// ReportInventory returns one page of the inventory report (limit 0: the server's default).
func (c *Client) ReportInventory(ctx context.Context, after string, limit int) (api.InventoryPage, error) {
	l := ""
	if limit > 0 {
		l = strconv.Itoa(limit)
	}
	var p api.InventoryPage
	err := c.do(ctx, "GET", withQuery("/v1/reports/inventory", "after", after, "limit", l), nil, &p)
	if p.Items == nil {
		p.Items = []api.InventoryRow{}
	}
	return p, err
}

// ReportInventoryAll follows next_after to the last page.
func (c *Client) ReportInventoryAll(ctx context.Context) ([]api.InventoryRow, error) {
	return allPages("", func(after string) ([]api.InventoryRow, string, error) {
		p, err := c.ReportInventory(ctx, after, 0)
		return p.Items, p.NextAfter, err
	})
}

// TrendOptions asks for the rotation trend: compliance every Every over the Since before now
// (both zero: no trend).
type TrendOptions struct {
	Since, Every time.Duration
}

// ReportRotation returns the rotation compliance report, with the trend when trend asks
// for one.
func (c *Client) ReportRotation(ctx context.Context, trend TrendOptions) (api.Rotation, error) {
	since, every := "", ""
	if trend.Since > 0 || trend.Every > 0 {
		since, every = trend.Since.String(), trend.Every.String()
	}
	var r api.Rotation
	return r, c.do(ctx, "GET", withQuery("/v1/reports/rotation", "since", since, "every", every), nil, &r)
}

// ReportSummary returns the inventory summary.
func (c *Client) ReportSummary(ctx context.Context) (api.Summary, error) {
	var r api.Summary
	return r, c.do(ctx, "GET", "/v1/reports/summary", nil, &r)
}

// ReportExpiring returns operational certificates expiring within the window (0: 72h).
func (c *Client) ReportExpiring(ctx context.Context, within time.Duration) (api.ExpiringReport, error) {
	w := ""
	if within > 0 {
		w = within.String()
	}
	var r api.ExpiringReport
	return r, c.do(ctx, "GET", withQuery("/v1/reports/expiring", "within", w), nil, &r)
}

// ReportDrift returns the drift report.
func (c *Client) ReportDrift(ctx context.Context) (api.DriftReport, error) {
	var r api.DriftReport
	return r, c.do(ctx, "GET", "/v1/reports/drift", nil, &r)
}

// ReportStandards returns the standards mapping with live evidence.
func (c *Client) ReportStandards(ctx context.Context) (api.StandardsReport, error) {
	var r api.StandardsReport
	return r, c.do(ctx, "GET", "/v1/reports/standards", nil, &r)
}

// ReportGaps returns the governance gaps report; idle ("" for the default 90d) bounds how long
// a principal may go unused before it is listed.
func (c *Client) ReportGaps(ctx context.Context, idle string) (api.GapsReport, error) {
	var r api.GapsReport
	return r, c.do(ctx, "GET", withQuery("/v1/reports/gaps", "idle", idle), nil, &r)
}

// SignedReport returns report name (the last part of its path, e.g. "summary") with the query
// kv (pairs; empty values are left out) as a DSSE envelope signed with the audit checkpoint
// key (?signed=1).
func (c *Client) SignedReport(ctx context.Context, name string, kv ...string) (api.SignedReport, error) {
	var r api.SignedReport
	return r, c.do(ctx, "GET", withQuery("/v1/reports/"+seg(name), append(kv, "signed", "1")...), nil, &r)
}
