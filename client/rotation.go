package client

import (
	"context"
	"strings"

	"github.com/hallmark-id/hallmark/api"
)

// Rotation (docs/rotation.md): CA rotation and rollover, the paths they make, and the key
// histories of build-record and audit checkpoint keys.

// RotateCA replaces issuing CA id by a successor that takes its lots and environments.
func (c *Client) RotateCA(ctx context.Context, id string, r api.RotateCARequest) (api.Succession, error) {
	var out api.Succession
	return out, c.do(ctx, "POST", "/v1/cas/"+seg(id)+"/rotate", r, &out)
}

// RolloverCA replaces root id by a new root with cross-certificates.
func (c *Client) RolloverCA(ctx context.Context, id string, r api.RotateCARequest) (api.Succession, error) {
	var out api.Succession
	return out, c.do(ctx, "POST", "/v1/cas/"+seg(id)+"/rollover", r, &out)
}

// CAChain returns a CA's certificate, the CAs above it and its root line's cross-certificates,
// PEM (public).
func (c *Client) CAChain(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/v1/cas/"+seg(id)+"/chain", nil, &b)
}

// RotateBuildRecordKey replaces a manufacturer's build-record key; the old one stays in the
// key history.
func (c *Client) RotateBuildRecordKey(ctx context.Context, manufacturerID string) (api.BuildRecordKey, error) {
	var out api.BuildRecordKey
	return out, c.do(ctx, "POST", "/v1/manufacturers/"+seg(manufacturerID)+"/build-record-key/rotate", struct{}{}, &out)
}

// BuildRecordKeys returns a manufacturer's build-record key history as a key set file: PEM
// blocks, the current key first (public).
func (c *Client) BuildRecordKeys(ctx context.Context, manufacturerID string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/v1/manufacturers/"+seg(manufacturerID)+"/build-record-keys", nil, &b)
}

// AuditKeys returns the checkpoint key history, one note verifier key a line, the current
// first (public).
func (c *Client) AuditKeys(ctx context.Context) ([]string, error) {
	var b []byte
	if err := c.do(ctx, "GET", "/v1/audit/keys", nil, &b); err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// RotateAuditKey replaces the checkpoint key (deployment administrators).
func (c *Client) RotateAuditKey(ctx context.Context) (api.AuditKey, error) {
	var out api.AuditKey
	return out, c.do(ctx, "POST", "/v1/audit/key/rotate", struct{}{}, &out)
}

// ReportCAExpiry returns the CA expiry report.
func (c *Client) ReportCAExpiry(ctx context.Context) (api.CAExpiryReport, error) {
	var out api.CAExpiryReport
	err := c.do(ctx, "GET", "/v1/reports/ca-expiry", nil, &out)
	if out.Items == nil {
		out.Items = []api.CAExpiry{}
	}
	return out, err
}
