package client

import (
	"context"
	"net/url"

	"github.com/hallmark-id/hallmark/api"
)

// SigninStart begins an OpenID Connect sign-in with a party's provider (no token needed).
func (c *Client) SigninStart(ctx context.Context, r api.SigninStartRequest) (api.SigninStart, error) {
	var out api.SigninStart
	return out, c.do(ctx, "POST", "/v1/auth/start", r, &out)
}

// SigninFinish trades the state and code the provider returned for a session.
func (c *Client) SigninFinish(ctx context.Context, r api.SigninFinishRequest) (api.SessionWithToken, error) {
	var out api.SessionWithToken
	return out, c.do(ctx, "POST", "/v1/auth/finish", r, &out)
}

// DevSignin signs a demo person in on a serve --dev server.
func (c *Client) DevSignin(ctx context.Context, person string) (api.SessionWithToken, error) {
	var out api.SessionWithToken
	return out, c.do(ctx, "POST", "/v1/auth/dev", api.DevSigninRequest{Person: person}, &out)
}

// RevokeSession ends a session.
func (c *Client) RevokeSession(ctx context.Context, id string) (api.Session, error) {
	var out api.Session
	return out, c.do(ctx, "DELETE", "/v1/auth/sessions/"+url.PathEscape(id), nil, &out)
}
