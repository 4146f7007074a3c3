package client

import (
	"bytes"
	"context"
	"net/url"

	"github.com/hallmark-id/hallmark/api"
)

// RegisterCustodyKey registers a public key custody vouchers for the caller's party may be
// addressed to.
func (c *Client) RegisterCustodyKey(ctx context.Context, r api.RegisterCustodyKeyRequest) (api.CustodyKey, error) {
	var v api.CustodyKey
	return v, c.do(ctx, "POST", "/v1/custody/keys", r, &v)
}

// ListCustodyKeys lists the caller's party's custody keys.
func (c *Client) ListCustodyKeys(ctx context.Context) ([]api.CustodyKey, error) {
	return list[api.CustodyKey](ctx, c, "/v1/custody/keys")
}

// ExportVoucher exports devices the caller's party holds in a custody voucher; the answer
// carries the voucher file (File).
func (c *Client) ExportVoucher(ctx context.Context, r api.ExportVoucherRequest) (api.CustodyVoucher, error) {
	var v api.CustodyVoucher
	return v, c.do(ctx, "POST", "/v1/custody/vouchers/export", r, &v)
}

// ImportVoucher imports a custody voucher file.
func (c *Client) ImportVoucher(ctx context.Context, file []byte) (api.ImportedVoucher, error) {
	var v api.ImportedVoucher
	return v, c.send(ctx, "POST", "/v1/custody/vouchers/import", "application/json", bytes.NewReader(file), &v)
}

// ListVouchers lists the custody vouchers the caller's party exported or imported.
func (c *Client) ListVouchers(ctx context.Context) ([]api.CustodyVoucher, error) {
	return list[api.CustodyVoucher](ctx, c, "/v1/custody/vouchers")
}

// GetVoucher returns one custody voucher with its file.
func (c *Client) GetVoucher(ctx context.Context, id string) (api.CustodyVoucher, error) {
	var v api.CustodyVoucher
	return v, c.do(ctx, "GET", "/v1/custody/vouchers/"+url.PathEscape(id), nil, &v)
}
