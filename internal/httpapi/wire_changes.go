package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

func toChangeRule(v governance.ChangeRuleView) api.ChangeRule {
	return api.ChangeRule{PartyID: v.PartyID, Kind: string(v.Kind), Quorum: nonNil(each(v.Quorum, toChangeNeed)), Expiry: v.Expiry, Stored: v.Stored}
}

func toChangeNeed(n approval.Need) api.ChangeNeed {
	return api.ChangeNeed{Group: n.Group, Approvals: n.Approvals}
}

func fromChangeNeed(n api.ChangeNeed) approval.Need {
	return approval.Need{Group: n.Group, Approvals: n.Approvals}
}

func fromSetChangeRuleRequest(r api.SetChangeRuleRequest) governance.ChangeRuleRequest {
	return governance.ChangeRuleRequest{Quorum: each(r.Quorum, fromChangeNeed), Expiry: r.Expiry, Reason: r.Reason}
}

func toApproverGroup(g approval.Group) api.ApproverGroup {
	return api.ApproverGroup{PartyID: g.PartyID, Name: g.Name, Members: nonNil(g.Members)}
}

func fromSetApproverGroupRequest(r api.SetApproverGroupRequest) governance.GroupRequest {
	return governance.GroupRequest{Members: r.Members, Reason: r.Reason}
}

func fromEnvironmentUpdate(u api.EnvironmentUpdate) operational.EnvironmentUpdate {
	return operational.EnvironmentUpdate{Lifetime: u.Lifetime, MaxAge: u.MaxAge, Services: u.Services, IssuingCAID: u.IssuingCAID, Reason: u.Reason}
}

func fromWaiverRequest(r api.WaiverRequest) operational.WaiverRequest {
	return operational.WaiverRequest{DeviceID: r.DeviceID, Rule: r.Rule, Reason: r.Reason, For: r.For}
}

func toWaiver(w waiver.Waiver, active bool) api.Waiver {
	return api.Waiver{ID: w.ID, PartyID: w.PartyID, DeviceID: w.DeviceID, EnvironmentID: w.EnvironmentID, Rule: w.Rule, Reason: w.Reason,
		ApprovalID: w.ApprovalID, RequestedBy: w.RequestedBy, NotAfter: w.NotAfter, CreatedAt: w.CreatedAt, Active: active}
}

func toDryRunResult(r operational.DryRunResult) api.DryRunResult {
	return api.DryRunResult{EnvironmentID: r.EnvironmentID, Kind: r.Kind, Evaluated: r.Evaluated, Refused: nonNil(each(r.Refused, toDryRunRefusal)), Next: r.Next}
}

func toDryRunRefusal(r operational.DryRunRefusal) api.DryRunRefusal {
	return api.DryRunRefusal{DeviceID: r.DeviceID, Serial: r.Serial, Failed: nonNil(each(r.Failed, toPolicyFailure)), Waived: r.Waived}
}
