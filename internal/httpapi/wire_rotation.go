package httpapi

import (
	"encoding/pem"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/rotation"
)

func fromRotateCARequest(r api.RotateCARequest) rotation.Request {
	return rotation.Request{Name: r.Name, Overlap: r.Overlap}
}

func toSuccession(o rotation.Succession) api.Succession {
	return api.Succession{Predecessor: toCA(o.Old), Successor: toCA(o.New), LotsMoved: o.LotsMoved, EnvironmentsMoved: o.EnvironmentsMoved,
		CrossCertificates: each(o.Cross, toCrossCert)}
}

func toCrossCert(x ca.CrossCert) api.CrossCert {
	return api.CrossCert{Serial: x.Serial, SubjectCAID: x.SubjectID, IssuerCAID: x.IssuerID, CreatedAt: x.CreatedAt,
		CertificatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.CertDER}))}
}

func toBuildRecordKey(k manufacturing.BuildRecordKey) api.BuildRecordKey {
	return api.BuildRecordKey{ID: k.ID, PartyID: k.PartyID, Purpose: k.Purpose, KeyID: k.KeyID, DSSEKeyID: k.DSSEKeyID,
		PublicKeyPEM: k.PublicKeyPEM, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt}
}

func toAuditKey(k auditlog.Key) api.AuditKey {
	return api.AuditKey{KeyID: k.KeyID, VerifierKey: k.VerifierKey, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt}
}

func toCAExpiryReport(r reports.CAExpiryReport) api.CAExpiryReport {
	return api.CAExpiryReport{GeneratedAt: r.GeneratedAt, Items: each(r.Items, toCAExpiry), Warnings: r.Warnings}
}

func toCAExpiry(e reports.CAExpiry) api.CAExpiry {
	return api.CAExpiry{CAID: e.CAID, Name: e.Name, PartyID: e.PartyID, Stage: e.Stage, Role: string(e.Role), Status: string(e.Status),
		NotAfter: e.NotAfter, Remaining: api.Duration(e.Remaining), Warning: string(e.Warning), SuccessorID: e.SuccessorID}
}

func toCAExpiryGap(g reports.CAExpiryGap) api.CAExpiryGap {
	return api.CAExpiryGap{CAExpiry: toCAExpiry(g.CAExpiry), Why: g.Why}
}
