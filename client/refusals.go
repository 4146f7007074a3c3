package client

import (
	"context"
	"strconv"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// RefusalQuery selects a refusals report; zero fields keep the server's defaults.
type RefusalQuery struct {
	DeviceID string    // one device's refusal history
	Since    time.Time // default: seven days ago
	Limit    int       // 1-1000
}

// ReportRefusals returns the refusals report (GET /v1/reports/refusals).
func (c *Client) ReportRefusals(ctx context.Context, q RefusalQuery) (api.RefusalReport, error) {
	var r api.RefusalReport
	since, limit := "", ""
	if !q.Since.IsZero() {
		since = q.Since.UTC().Format(time.RFC3339)
	}
	if q.Limit != 0 {
		limit = strconv.Itoa(q.Limit)
	}
	return r, c.do(ctx, "GET", withQuery("/v1/reports/refusals", "device", q.DeviceID, "since", since, "limit", limit), nil, &r)
}
