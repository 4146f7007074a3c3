package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
)

// Principals, their tokens and break-glass access (routes_principals.go).

func toPrincipalToken(t governance.TokenView) api.PrincipalToken {
	return api.PrincipalToken{ID: t.ID, PrincipalID: t.PrincipalID, State: string(t.State), CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy,
		ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt, SupersededBy: t.SupersededBy,
		Handover: t.Handover}
}

func toIssuedToken(t governance.NewToken) api.IssuedToken {
	return api.IssuedToken{PrincipalToken: toPrincipalToken(t.TokenView), Token: t.Secret}
}

func toCreatedPrincipal(p party.Principal, t governance.NewToken) api.CreatedPrincipal {
	out := api.CreatedPrincipal{Principal: toPrincipal(p), Token: t.Secret, TokenID: t.ID}
	if t.ExpiresAt != nil {
		out.TokenExpiresAt = *t.ExpiresAt
	}
	return out
}

func fromRotateTokenRequest(r api.RotateTokenRequest) governance.RotateRequest {
	return governance.RotateRequest{Overlap: r.Overlap, Lifetime: r.Lifetime}
}

func fromAccessRequest(r api.AccessRequest) governance.AccessRequest {
	return governance.AccessRequest{Reason: r.Reason, Duration: r.Duration}
}

func toAccess(a party.Access) api.Access {
	return api.Access{ID: a.ID, PartyID: a.PartyID, PrincipalID: a.PrincipalID, Reason: a.Reason, Duration: a.Duration.String(), State: string(a.State),
		RequestedAt: a.RequestedAt, ExpiresAt: a.ExpiresAt, DecidedBy: a.DecidedBy, DecidedAt: a.DecidedAt, Comment: a.Comment, Until: a.Until,
		EndedAt: a.EndedAt, EndedBy: a.EndedBy}
}
