package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/reports"
)

func toCertSummary(c reports.CertSummary) api.CertSummary {
	return api.CertSummary{Serial: c.Serial, State: string(c.State), NotAfter: c.NotAfter}
}

func toInventoryRow(r reports.InventoryRow) api.InventoryRow {
	return api.InventoryRow{DeviceID: r.DeviceID, Serial: r.Serial, ManufacturerID: r.ManufacturerID, State: string(r.State),
		CustodianID: r.CustodianID, EnvironmentID: r.EnvironmentID, Factory: ptr(r.Factory, toCertSummary),
		Operational: ptr(r.Operational, toCertSummary)}
}

func toInventoryPage(p reports.InventoryPage) api.InventoryPage {
	return api.InventoryPage{Items: each(p.Items, toInventoryRow), NextAfter: p.NextAfter}
}

func toRotation(r reports.Rotation) api.Rotation {
	return api.Rotation{GeneratedAt: r.GeneratedAt, Active: r.Active, Compliant: r.Compliant, Share: r.Share,
		Environments: each(r.Environments, toRotationEnv), Overdue: each(r.Overdue, toOverdue), OverdueCount: r.OverdueCount,
		Trend: each(r.Trend, toTrendPoint), Credentials: toCredentials(r.Credentials)}
}

func toCredentials(c reports.Credentials) api.Credentials {
	return api.Credentials{MaxLifetime: api.Duration(c.MaxLifetime), IdleAfter: api.Duration(c.IdleAfter), Tokens: c.Tokens, Compliant: c.Compliant,
		Offenders: each(c.Offenders, func(o reports.TokenOffender) api.TokenOffender {
			return api.TokenOffender{TokenID: o.TokenID, PrincipalID: o.PrincipalID, PartyID: o.PartyID, Name: o.Name, Kind: o.Kind, Issue: o.Issue,
				CreatedAt: o.CreatedAt, ExpiresAt: o.ExpiresAt, LastUsedAt: o.LastUsedAt, Lifetime: api.Duration(o.Lifetime)}
		}),
		OffenderCount: c.OffenderCount,
		CAs: each(c.CAs, func(v reports.CACredential) api.CACredential {
			return api.CACredential{CAID: v.CAID, PartyID: v.PartyID, Name: v.Name, Stage: v.Stage, Role: v.Role, NotAfter: v.NotAfter,
				Remaining: api.Duration(v.Remaining), Retired: v.Retired, Issue: v.Issue}
		}),
		CAIssues: c.CAIssues}
}

func toRotationEnv(e reports.RotationEnv) api.RotationEnv {
	return api.RotationEnv{EnvironmentID: e.EnvironmentID, Name: e.Name, OperatorID: e.OperatorID, MaxAge: api.Duration(e.MaxAge),
		Active: e.Active, Compliant: e.Compliant, Share: e.Share}
}

func toOverdue(o reports.Overdue) api.Overdue {
	return api.Overdue{DeviceID: o.DeviceID, EnvironmentID: o.EnvironmentID, Serial: o.Serial, IssuedAt: o.IssuedAt,
		Age: api.Duration(o.Age), MaxAge: api.Duration(o.MaxAge)}
}

func toTrendPoint(p reports.TrendPoint) api.TrendPoint {
	return api.TrendPoint{At: p.At, Active: p.Active, Compliant: p.Compliant, Share: p.Share, Environments: each(p.Environments, toTrendEnv)}
}

func toTrendEnv(e reports.TrendEnv) api.TrendEnv {
	return api.TrendEnv{EnvironmentID: e.EnvironmentID, Active: e.Active, Compliant: e.Compliant, Share: e.Share}
}

func toSummary(s reports.Summary) api.Summary {
	return api.Summary{GeneratedAt: s.GeneratedAt, Devices: s.Devices, ByState: s.ByState, Active: s.Active, Compliant: s.Compliant,
		Share: s.Share, Expiring24h: s.Expiring24h}
}

func toExpiringReport(r reports.ExpiringReport) api.ExpiringReport {
	return api.ExpiringReport{GeneratedAt: r.GeneratedAt, Within: api.Duration(r.Within), Count: r.Count, Truncated: r.Truncated,
		Groups: each(r.Groups, toExpiringGroup)}
}

func toExpiringGroup(g reports.ExpiringGroup) api.ExpiringGroup {
	return api.ExpiringGroup{EnvironmentID: g.EnvironmentID, Name: g.Name, OperatorID: g.OperatorID, Count: g.Count,
		Items: each(g.Items, toExpiring)}
}

func toExpiring(e reports.Expiring) api.Expiring {
	return api.Expiring{DeviceID: e.DeviceID, Serial: e.Serial, NotAfter: e.NotAfter, Remaining: api.Duration(e.Remaining),
		DeviceState: e.DeviceState, EnvironmentID: e.EnvironmentID, OperatorID: e.OperatorID}
}

func toDriftReport(r reports.DriftReport) api.DriftReport {
	return api.DriftReport{GeneratedAt: r.GeneratedAt, Checked: r.Checked, PolicyChecked: r.PolicyChecked,
		PolicyEvaluated: r.PolicyEvaluated, Items: each(r.Items, toDrift), Policy: each(r.Policy, toPolicyDrift)}
}

func toDrift(d reports.Drift) api.Drift {
	return api.Drift{DeviceID: d.DeviceID, EnvironmentID: d.EnvironmentID, Field: d.Field, Recorded: d.Recorded, Reported: d.Reported,
		ReportedAt: d.ReportedAt, Serial: d.Serial}
}

func toPolicyDrift(d reports.PolicyDrift) api.PolicyDrift {
	return api.PolicyDrift{DeviceID: d.DeviceID, EnvironmentID: d.EnvironmentID, Serial: d.Serial, PolicyKind: string(d.PolicyKind),
		AdmittedVersion: d.AdmittedVersion, CurrentVersion: d.CurrentVersion, AdmittedAt: d.AdmittedAt,
		Failed: each(d.Failed, toPolicyFailure), ApprovalRequired: d.ApprovalRequired}
}

func toPolicyFailure(f policy.Failure) api.PolicyFailure {
	return api.PolicyFailure{Rule: f.Rule, Message: f.Message, Error: f.Error}
}

func toStandardsReport(r reports.StandardsReport) api.StandardsReport {
	return api.StandardsReport{GeneratedAt: r.GeneratedAt, Rows: each(r.Rows, toStandardsRow)}
}

func toStandardsRow(r reports.StandardsRow) api.StandardsRow {
	e := r.Evidence
	return api.StandardsRow{Framework: r.Framework, ID: r.ID, Title: r.Title, Coverage: string(r.Coverage), Control: r.Control,
		Evidence: api.StandardsEvidence{Count: e.Count, Total: e.Total, Oldest: e.Oldest, Note: e.Note, CheckedAt: e.CheckedAt, Status: e.Status, Offenders: e.Offenders}}
}

func toGapsReport(r reports.GapsReport) api.GapsReport {
	return api.GapsReport{GeneratedAt: r.GeneratedAt, IdleAfter: r.IdleAfter,
		Unowned: each(r.Unowned, func(u reports.UnownedDuty) api.UnownedDuty {
			return api.UnownedDuty{Scope: u.Scope, Stage: string(u.Stage), Duty: string(u.Duty)}
		}),
		Devices: each(r.Devices, func(d reports.DevicesWithoutOwner) api.DevicesWithoutOwner {
			return api.DevicesWithoutOwner{Scope: d.Scope, Stage: string(d.Stage), Duty: string(d.Duty), Devices: d.Devices}
		}),
		Lifetimes: each(r.Lifetimes, func(l reports.LifetimeGap) api.LifetimeGap {
			return api.LifetimeGap{EnvironmentID: l.EnvironmentID, Name: l.Name, OperatorID: l.OperatorID, Lifetime: l.Lifetime, Limit: l.Limit, Why: l.Why}
		}),
		Grants: each(r.Grants, func(g reports.GrantGap) api.GrantGap {
			return api.GrantGap{GrantID: g.GrantID, EnvironmentID: g.EnvironmentID, Requester: g.Requester, NotAfter: g.NotAfter, Window: g.Window, Limit: g.Limit}
		}),
		Idle: each(r.Idle, func(p reports.IdlePrincipal) api.IdlePrincipal {
			return api.IdlePrincipal{PrincipalID: p.PrincipalID, PartyID: p.PartyID, Name: p.Name, Admin: p.Admin, LastUsedAt: p.LastUsedAt, CreatedAt: p.CreatedAt}
		}),
		SelfApproval: each(r.SelfApproval, func(s reports.SelfApproval) api.SelfApproval {
			return api.SelfApproval{Scope: s.Scope, Kind: string(s.Kind), Duty: s.Duty, PartyID: s.PartyID}
		}),
		Total: r.Total, CAExpiry: each(r.CAExpiry, toCAExpiryGap),
		MakerSources: each(r.MakerSources, func(g reports.MakerSourceGap) api.MakerSourceGap {
			return api.MakerSourceGap{MakerID: g.MakerID, MakerName: g.MakerName, OperatorID: g.OperatorID, Kind: g.Kind, URL: g.URL, Issuer: g.Issuer,
				Outcome: g.Outcome, Error: g.Error, Since: g.Since, LastAttempt: g.LastAttempt, LastOK: g.LastOK, HeldUntil: g.HeldUntil, Why: g.Why}
		}),
		ChangeRules: each(r.ChangeRules, func(g reports.ChangeRuleGap) api.ChangeRuleGap {
			return api.ChangeRuleGap{PartyID: g.PartyID, Kind: string(g.Kind), Quorum: g.Quorum, Stored: g.Stored, Why: g.Why}
		}),
		Handover: each(r.Handover, func(g reports.HandoverGap) api.HandoverGap {
			return api.HandoverGap{PartyID: g.PartyID, PrincipalID: g.PrincipalID, Name: g.Name, Admin: g.Admin, TokenID: g.TokenID,
				MintedBy: g.MintedBy, MintedAt: g.MintedAt, ExpiresAt: g.ExpiresAt, Auditor: g.Auditor, Why: g.Why}
		}),
		TrustDomains: each(r.TrustDomains, func(g reports.TrustDomainGap) api.TrustDomainGap {
			return api.TrustDomainGap{TrustDomain: g.TrustDomain, EnvironmentID: g.EnvironmentID, Name: g.Name, OperatorID: g.OperatorID, HolderID: g.HolderID, Why: g.Why}
		})}
}
