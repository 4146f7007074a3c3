package client

import (
	"context"

	"github.com/hallmark-id/hallmark/api"
)

// Principals, their tokens and break-glass access (docs/governance.md).

// GetPrincipal returns one principal.
func (c *Client) GetPrincipal(ctx context.Context, id string) (api.Principal, error) {
	var p api.Principal
	return p, c.do(ctx, "GET", "/v1/principals/"+seg(id), nil, &p)
}

// DeletePrincipal deletes a principal with its tokens and duty limits.
func (c *Client) DeletePrincipal(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/principals/"+seg(id), nil, nil)
}

// DisablePrincipal disables a principal: its tokens stop working at once.
func (c *Client) DisablePrincipal(ctx context.Context, id string) (api.Principal, error) {
	var p api.Principal
	return p, c.do(ctx, "POST", "/v1/principals/"+seg(id)+"/disable", nil, &p)
}

// EnablePrincipal enables a disabled principal again.
func (c *Client) EnablePrincipal(ctx context.Context, id string) (api.Principal, error) {
	var p api.Principal
	return p, c.do(ctx, "POST", "/v1/principals/"+seg(id)+"/enable", nil, &p)
}

// ListTokens lists a principal's tokens (never the tokens themselves), newest first.
func (c *Client) ListTokens(ctx context.Context, principalID string) ([]api.PrincipalToken, error) {
	return list[api.PrincipalToken](ctx, c, "/v1/principals/"+seg(principalID)+"/tokens")
}

// RotateToken makes a new token for a principal, returned this once; its other valid tokens
// keep working until the overlap ends.
func (c *Client) RotateToken(ctx context.Context, principalID string, r api.RotateTokenRequest) (api.IssuedToken, error) {
	var t api.IssuedToken
	return t, c.do(ctx, "POST", "/v1/principals/"+seg(principalID)+"/tokens", r, &t)
}

// RevokeToken revokes one token of a principal at once.
func (c *Client) RevokeToken(ctx context.Context, principalID, tokenID string) (api.PrincipalToken, error) {
	var t api.PrincipalToken
	return t, c.do(ctx, "POST", "/v1/principals/"+seg(principalID)+"/tokens/"+seg(tokenID)+"/revoke", nil, &t)
}

// RequestAccess asks, as a deployment administrator, for break-glass access to a party's
// principals; it opens when an administrator of the party approves.
func (c *Client) RequestAccess(ctx context.Context, partyID string, r api.AccessRequest) (api.Access, error) {
	var a api.Access
	return a, c.do(ctx, "POST", "/v1/parties/"+seg(partyID)+"/access", r, &a)
}

// ListAccess lists a party's break-glass requests, newest first.
func (c *Client) ListAccess(ctx context.Context, partyID string) ([]api.Access, error) {
	return list[api.Access](ctx, c, "/v1/parties/"+seg(partyID)+"/access")
}

// GetAccess returns one break-glass request.
func (c *Client) GetAccess(ctx context.Context, id string) (api.Access, error) {
	var a api.Access
	return a, c.do(ctx, "GET", "/v1/access/"+seg(id), nil, &a)
}

// DecideAccess approves or denies a pending break-glass request.
func (c *Client) DecideAccess(ctx context.Context, id string, d api.AccessDecision) (api.Access, error) {
	var a api.Access
	return a, c.do(ctx, "POST", "/v1/access/"+seg(id)+"/decision", d, &a)
}

// EndAccess closes an open break-glass window early.
func (c *Client) EndAccess(ctx context.Context, id string) (api.Access, error) {
	var a api.Access
	return a, c.do(ctx, "POST", "/v1/access/"+seg(id)+"/end", nil, &a)
}
