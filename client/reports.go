package client

import (
	"context"
	"strconv"
	"time"

	"github.com/hallmark-id/hallmark/internal/reports"
)

// ReportInventory returns one page of the inventory report (limit 0: the server's default).
func (c *Client) ReportInventory(ctx context.Context, after string, limit int) (reports.InventoryPage, error) {
	l := ""
	if limit > 0 {
		l = strconv.Itoa(limit)
	}
	var p reports.InventoryPage
	err := c.do(ctx, "GET", withQuery("/v1/reports/inventory", "after", after, "limit", l), nil, &p)
	if p.Items == nil {
		p.Items = []reports.InventoryRow{}
	}
	return p, err
}

// ReportInventoryAll follows next_after to the last page.
func (c *Client) ReportInventoryAll(ctx context.Context) ([]reports.InventoryRow, error) {
	return allPages("", func(after string) ([]reports.InventoryRow, string, error) {
		p, err := c.ReportInventory(ctx, after, 0)
		return p.Items, p.NextAfter, err
	})
}

// ReportRotation returns the rotation compliance report, with the trend when trend asks
// for one.
func (c *Client) ReportRotation(ctx context.Context, trend reports.TrendOptions) (reports.Rotation, error) {
	since, every := "", ""
	if trend.Since > 0 || trend.Every > 0 {
		since, every = trend.Since.String(), trend.Every.String()
	}
	var r reports.Rotation
	return r, c.do(ctx, "GET", withQuery("/v1/reports/rotation", "since", since, "every", every), nil, &r)
}

// ReportSummary returns the inventory summary.
func (c *Client) ReportSummary(ctx context.Context) (reports.Summary, error) {
	var r reports.Summary
	return r, c.do(ctx, "GET", "/v1/reports/summary", nil, &r)
}

// ReportExpiring returns operational certificates expiring within the window (0: 72h).
func (c *Client) ReportExpiring(ctx context.Context, within time.Duration) (reports.ExpiringReport, error) {
	w := ""
	if within > 0 {
		w = within.String()
	}
	var r reports.ExpiringReport
	return r, c.do(ctx, "GET", withQuery("/v1/reports/expiring", "within", w), nil, &r)
}

// ReportDrift returns the drift report.
func (c *Client) ReportDrift(ctx context.Context) (reports.DriftReport, error) {
	var r reports.DriftReport
	return r, c.do(ctx, "GET", "/v1/reports/drift", nil, &r)
}

// ReportStandards returns the standards mapping with live evidence.
func (c *Client) ReportStandards(ctx context.Context) (reports.StandardsReport, error) {
	var r reports.StandardsReport
	return r, c.do(ctx, "GET", "/v1/reports/standards", nil, &r)
}

// ReportGaps returns the governance gaps report; idle ("" for the default 90d) bounds how long
// a principal may go unused before it is listed.
func (c *Client) ReportGaps(ctx context.Context, idle string) (reports.GapsReport, error) {
	var r reports.GapsReport
	return r, c.do(ctx, "GET", withQuery("/v1/reports/gaps", "idle", idle), nil, &r)
}
