package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/custody"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/inventory"
)

func toDeviceView(v inventory.DeviceView) api.DeviceView {
	return api.DeviceView{Device: toDevice(v.Device), Certificates: each(v.Certificates, toCertificate), BuildRecord: v.BuildRecord,
		Custody: each(v.Custody, toCustodyLink), Lineage: each(v.Lineage, toEvidence), SupportGrants: each(v.SupportGrants, toGrant), External: toDeviceOrigin(v),
		FactoryLineage: each(v.FactoryLineage, toFactoryLink)}
}

func toFactoryLink(l inventory.FactoryLink) api.FactoryLink {
	return api.FactoryLink{Serial: l.Serial, State: l.State, Reason: l.Reason, IssuedAt: l.IssuedAt, RevokedAt: l.RevokedAt,
		BuildRecordSHA256: l.BuildRecordSHA256, SupersededBy: l.SupersededBy, Current: l.Current}
}

func toCertificate(c ca.Cert) api.Certificate {
	return api.Certificate{Serial: c.SerialHex, CAID: c.CAID, DeviceID: c.DeviceID, Profile: c.Profile, State: string(c.State),
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, CreatedAt: c.CreatedAt, IssuedAt: c.IssuedAt, RevokedAt: c.RevokedAt, Reason: c.Reason}
}

func toCustodyLink(l device.CustodyLink) api.CustodyLink {
	return api.CustodyLink{TransferID: l.TransferID, FromID: l.FromID, ToID: l.ToID, At: l.At}
}

func toEvidence(e environment.Evidence) api.Evidence {
	return api.Evidence{Serial: e.Serial, DeviceID: e.DeviceID, EnvironmentID: e.EnvironmentID, Kind: e.Kind, BasedOn: e.BasedOn,
		Superseded: e.Superseded, FactorySerial: e.FactorySerial, Protocol: e.Protocol, PolicyKind: string(e.PolicyKind),
		PolicyVersion: e.PolicyVersion, PrincipalID: e.PrincipalID, Facts: e.Facts, CreatedAt: e.CreatedAt}
}

func toGrant(g grant.Grant) api.Grant {
	return api.Grant{ID: g.ID, ApprovalID: g.ApprovalID, RequesterParty: g.RequesterParty, RequesterPrincipal: g.RequesterPrincipal,
		Engineer: g.Engineer, EnvironmentID: g.EnvironmentID, OperatorID: g.OperatorID, LotID: g.LotID, Devices: g.Devices,
		Reason: g.Reason, NotBefore: g.NotBefore, NotAfter: g.NotAfter, State: string(g.State), CertSerial: g.CertSerial,
		CreatedAt: g.CreatedAt, RevokedAt: g.RevokedAt, RevokedBy: g.RevokedBy}
}

func fromOfferRequest(r api.OfferRequest) custody.OfferRequest {
	return custody.OfferRequest{To: r.To, DeviceIDs: r.DeviceIDs, LotID: r.LotID, Note: r.Note}
}

func toTransfer(t device.Transfer) api.Transfer {
	return api.Transfer{ID: t.ID, FromID: t.FromID, ToID: t.ToID, State: string(t.State), DeviceCount: t.DeviceCount, Note: t.Note,
		OfferedBy: t.OfferedBy, OfferedAt: t.OfferedAt, DecidedBy: t.DecidedBy, DecidedAt: t.DecidedAt}
}

func toAuditEvent(e audit.Event) api.AuditEvent {
	return api.AuditEvent{Seq: e.Seq, At: e.At, PartyID: e.PartyID, PrincipalID: e.PrincipalID, Action: e.Action, Stage: e.Stage,
		Scope: e.Scope, Subject: e.Subject, Detail: e.Detail}
}

func toInclusionProof(p auditlog.InclusionProof) api.InclusionProof {
	return api.InclusionProof{Index: p.Index, Size: p.Size, LeafHash: p.LeafHash, Root: p.Root, Hashes: p.Hashes}
}

func toConsistencyProof(p auditlog.ConsistencyProof) api.ConsistencyProof {
	return api.ConsistencyProof{From: p.From, To: p.To, FromRoot: p.FromRoot, ToRoot: p.ToRoot, Hashes: p.Hashes}
}

func toReconciliation(r auditlog.Reconciliation) api.Reconciliation {
	return api.Reconciliation{At: r.At, AfterSeq: r.AfterSeq, Events: r.Events, LastSeq: r.LastSeq, Certificates: r.Certificates,
		Devices: r.Devices, Origins: r.Origins, Uncovered: r.Uncovered, Disagreements: each(r.Disagreements, toDisagreement), Truncated: r.Truncated}
}

func toDisagreement(d auditlog.Disagreement) api.Disagreement {
	return api.Disagreement{Kind: d.Kind, ID: d.ID, Row: d.Row, Log: d.Log, Seq: d.Seq}
}
