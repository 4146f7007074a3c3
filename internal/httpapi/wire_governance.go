package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/support"
)

func toParty(p party.Party) api.Party {
	return api.Party{ID: p.ID, Name: p.Name, Kind: string(p.Kind), CreatedAt: p.CreatedAt}
}

func fromCreatePartyRequest(r api.CreatePartyRequest) governance.CreatePartyRequest {
	return governance.CreatePartyRequest{ID: r.ID, Name: r.Name, Kind: party.Kind(r.Kind)}
}

func toPrincipal(p party.Principal) api.Principal {
	return api.Principal{ID: p.ID, PartyID: p.PartyID, Name: p.Name, Kind: string(p.Kind), Admin: p.Admin,
		CreatedAt: p.CreatedAt, CreatedBy: p.CreatedBy, AccessID: p.AccessID, DisabledAt: p.DisabledAt, LastUsedAt: p.LastUsedAt}
}

func fromCreatePrincipalRequest(r api.CreatePrincipalRequest) governance.CreatePrincipalRequest {
	return governance.CreatePrincipalRequest{PartyID: r.PartyID, Name: r.Name, Kind: party.PrincipalKind(r.Kind), Admin: r.Admin, TokenLifetime: r.TokenLifetime}
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

func toSoDRule(r governance.SoDRule) api.SoDRule {
	return api.SoDRule{ID: r.ID, A: toPair(r.A), B: toPair(r.B), By: r.By, At: r.At}
}

func fromSoDRuleRequest(r api.SoDRuleRequest) governance.SoDRuleRequest {
	return governance.SoDRuleRequest{ID: r.ID, A: r.A, B: r.B}
}

func toApproval(q approval.Request) api.Approval {
	out := api.Approval{ID: q.ID, Kind: string(q.Kind), State: string(q.State), RequesterParty: q.RequesterParty,
		RequesterPrincipal: q.RequesterPrincipal, ApproverParty: q.ApproverParty, Scope: q.Scope, Subject: q.Subject, Reason: q.Reason,
		Until: q.Until, Payload: q.Payload, Approvers: q.Approvers, OtherParty: q.OtherParty,
		Decisions: each(q.Decisions, toApprovalDecision), CreatedAt: q.CreatedAt, ExpiresAt: q.ExpiresAt, DecidedAt: q.DecidedAt,
		ExecutedAt: q.ExecutedAt, Quorum: each(q.Quorum, toApprovalSeat)}
	if by, ok := q.ExecuteBy(); ok {
		out.ExecuteBy = &by
	}
	return out
}

func toApprovalSeat(s approval.Seat) api.ApprovalSeat {
	return api.ApprovalSeat{Group: s.Group, Approvals: s.Approvals, Members: s.Members}
}

func toApprovalDecision(d approval.Decision) api.ApprovalDecision {
	return api.ApprovalDecision{PartyID: d.PartyID, PrincipalID: d.PrincipalID, Approve: d.Approve, Comment: d.Comment, Group: d.Group, At: d.At}
}

func fromDecision(d api.Decision) governance.Decision {
	return governance.Decision{Approve: d.Approve, Comment: d.Comment}
}

func toDecideResult(r governance.DecideResult) api.DecideResult {
	return api.DecideResult{Approval: toApproval(r.Request), Executed: r.Executed, ExecError: r.ExecError}
}

func toApprovalRule(r governance.RuleView) api.ApprovalRule {
	return api.ApprovalRule{Kind: string(r.Kind), Approvers: r.Approvers, OtherParty: r.OtherParty, Expiry: r.Expiry, Stored: r.Stored}
}

func fromSetApprovalRuleRequest(r api.SetApprovalRuleRequest) governance.RuleRequest {
	return governance.RuleRequest{Approvers: r.Approvers, OtherParty: r.OtherParty, Expiry: r.Expiry}
}

func fromSupportRequest(r api.SupportRequest) support.Request {
	return support.Request{EnvironmentID: r.EnvironmentID, Devices: r.Devices, LotID: r.LotID, Reason: r.Reason, NotBefore: r.NotBefore,
		NotAfter: r.NotAfter, CSR: r.CSR, Engineer: r.Engineer}
}

func toSupportGrant(v support.View) api.SupportGrant {
	return api.SupportGrant{Grant: toGrant(v.Grant), Status: v.Status, Approval: ptr(v.Approval, toApproval),
		CertificatePEM: v.CertificatePEM, ChainPEM: v.ChainPEM}
}

func fromRevokeGrantRequest(r api.RevokeGrantRequest) support.RevokeRequest {
	return support.RevokeRequest{Reason: r.Reason}
}

func fromSupportCheckRequest(r api.SupportCheckRequest) support.CheckRequest {
	return support.CheckRequest{Certificate: r.Certificate, DeviceID: r.DeviceID}
}

func toReach(r grant.Reach) api.Reach {
	return api.Reach{Allowed: r.Allowed, Reason: r.Reason, GrantID: r.GrantID, Engineer: r.Engineer, NotAfter: r.NotAfter}
}
