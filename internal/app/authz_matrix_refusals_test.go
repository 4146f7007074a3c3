package app

import "testing"

// mxRefusalRows are the matrix rows of the refusal report (issue 17, point 1). Every party
// reads the report; what it holds is scoped to the caller's party (auditors: all), which
// TestRefusalsAudited checks with refusals in place. Here the cells say that no caller is
// refused the report itself.
func mxRefusalRows() []mxRow {
	return []mxRow{
		{op: "GET /v1/reports/refusals", own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/reports/refusals"} }},
	}
}
