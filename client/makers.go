package client

import (
	"bytes"
	"context"
	"net/url"

	"github.com/hallmark-id/hallmark/api"
)

// RegisterMaker registers a maker that does not run Hallmark.
func (c *Client) RegisterMaker(ctx context.Context, r api.RegisterMakerRequest) (api.Maker, error) {
	var v api.Maker
	return v, c.do(ctx, "POST", "/v1/makers", r, &v)
}

// ListMakers lists the makers of an operator (the caller's party when operatorID is empty).
func (c *Client) ListMakers(ctx context.Context, operatorID string) ([]api.Maker, error) {
	return list[api.Maker](ctx, c, withQuery("/v1/makers", "operator", operatorID))
}

// GetMaker returns one maker.
func (c *Client) GetMaker(ctx context.Context, id string) (api.Maker, error) {
	var v api.Maker
	return v, c.do(ctx, "GET", "/v1/makers/"+url.PathEscape(id), nil, &v)
}

// UpdateMaker changes a maker's intermediates, sources, manifest keys or policy.
func (c *Client) UpdateMaker(ctx context.Context, id string, r api.UpdateMakerRequest) (api.Maker, error) {
	var v api.Maker
	return v, c.do(ctx, "PATCH", "/v1/makers/"+url.PathEscape(id), r, &v)
}

// Manifest formats for UploadManifest.
const (
	ManifestDSSE = "dsse" // a DSSE envelope signed by a key registered for the maker
	ManifestCSV  = "csv"  // a CSV file; active once another principal approves it
)

// UploadManifest uploads a maker's device manifest: a DSSE envelope (format ManifestDSSE) or
// a CSV (ManifestCSV) with the reason its approvers read.
func (c *Client) UploadManifest(ctx context.Context, makerID, format string, data []byte, reason string) (api.ManifestResult, error) {
	ct := "application/json"
	switch format {
	case ManifestDSSE:
	case ManifestCSV:
		ct = "text/csv"
	default:
		return api.ManifestResult{}, invalidf("manifest format %q: want %s or %s", format, ManifestDSSE, ManifestCSV)
	}
	var v api.ManifestResult
	return v, c.send(ctx, "POST", withQuery("/v1/makers/"+url.PathEscape(makerID)+"/manifests", "reason", reason), ct, bytes.NewReader(data), &v)
}

// ListManifests lists a maker's manifests, newest first.
func (c *Client) ListManifests(ctx context.Context, makerID string) ([]api.Manifest, error) {
	return list[api.Manifest](ctx, c, "/v1/makers/"+url.PathEscape(makerID)+"/manifests")
}

// CheckMaker runs the revocation status watcher for one maker now.
func (c *Client) CheckMaker(ctx context.Context, makerID string) (api.MakerCheck, error) {
	var v api.MakerCheck
	return v, c.do(ctx, "POST", "/v1/makers/"+url.PathEscape(makerID)+"/check", nil, &v)
}
