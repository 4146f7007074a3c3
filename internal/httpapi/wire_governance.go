package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
)

func toParty(p party.Party) api.Party {
	return api.Party{ID: p.ID, Name: p.Name, Kind: string(p.Kind), CreatedAt: p.CreatedAt}
}

func fromCreatePartyRequest(r api.CreatePartyRequest) governance.CreatePartyRequest {
	return governance.CreatePartyRequest{ID: r.ID, Name: r.Name, Kind: party.Kind(r.Kind)}
}

func toPrincipal(p party.Principal) api.Principal {
	return api.Principal{ID: p.ID, PartyID: p.PartyID, Name: p.Name, Kind: string(p.Kind), Admin: p.Admin,
		CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt}
}

func fromCreatePrincipalRequest(r api.CreatePrincipalRequest) governance.CreatePrincipalRequest {
	return governance.CreatePrincipalRequest{PartyID: r.PartyID, Name: r.Name, Kind: party.PrincipalKind(r.Kind), Admin: r.Admin}
}

func toScope(s ownership.Scope) api.Scope { return api.Scope{Kind: string(s.Kind), ID: s.ID} }

func toCell(c ownership.Cell) api.Cell {
	return api.Cell{Stage: string(c.Stage), Duty: string(c.Duty), Scope: toScope(c.Scope), PartyID: c.PartyID}
}

func fromCell(c api.Cell) ownership.Cell {
	return ownership.Cell{Stage: ownership.Stage(c.Stage), Duty: ownership.Duty(c.Duty),
		Scope: ownership.Scope{Kind: ownership.ScopeKind(c.Scope.Kind), ID: c.Scope.ID}, PartyID: c.PartyID}
}

func toPair(p ownership.Pair) api.Pair { return api.Pair{Stage: string(p.Stage), Duty: string(p.Duty)} }
