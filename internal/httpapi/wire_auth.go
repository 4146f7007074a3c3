package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/signin"
)

// Converters of the sign-in routes (routes_auth.go).

func fromSigninProviderRequest(partyID string, r api.SigninProviderRequest) signin.ProviderRequest {
	return signin.ProviderRequest{PartyID: partyID, Issuer: r.Issuer, ClientID: r.ClientID, ClientSecretEnv: r.ClientSecretEnv, Claim: r.Claim, RedirectURIs: r.RedirectURIs}
}

func toSigninProvider(p signin.Provider) api.SigninProvider {
	return api.SigninProvider{PartyID: p.PartyID, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecretEnv: p.ClientSecretEnv, Claim: p.Claim,
		RedirectURIs: nonNil(p.RedirectURIs), UpdatedBy: p.UpdatedBy, UpdatedAt: p.UpdatedAt}
}

func toSigninBinding(b signin.Binding) api.SigninBinding {
	return api.SigninBinding{PartyID: b.PartyID, Value: b.ClaimValue, PrincipalID: b.PrincipalID, CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt}
}

func toSession(v signin.Session) api.Session {
	return api.Session{ID: v.ID, PrincipalID: v.PrincipalID, PartyID: v.PartyID, Method: v.Method, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt, RevokedAt: v.RevokedAt}
}

func toSessionWithToken(v signin.Issued) api.SessionWithToken {
	return api.SessionWithToken{Token: v.Token, Session: toSession(v.Session), Dev: v.Session.Method == "dev"}
}
