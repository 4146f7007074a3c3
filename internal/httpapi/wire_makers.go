package httpapi

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/inventory"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
)

func fromMakerPolicy(p api.MakerPolicy) maker.Policy {
	return maker.Policy{Revocation: maker.Mode(p.Revocation), RequireManifest: p.RequireManifest, RequireHardwareModuleName: p.RequireHardwareModuleName, KeyTypes: p.KeyTypes}
}

func toMakerPolicy(p maker.Policy) api.MakerPolicy {
	return api.MakerPolicy{Revocation: string(p.Mode()), RequireManifest: p.RequireManifest, RequireHardwareModuleName: p.RequireHardwareModuleName, KeyTypes: p.KeyTypes}
}

func fromRegisterMakerRequest(r api.RegisterMakerRequest) makers.RegisterRequest {
	return makers.RegisterRequest{OperatorID: r.OperatorID, Name: r.Name, AnchorsPEM: r.AnchorsPEM, IntermediatesPEM: r.IntermediatesPEM,
		CRLURLs: r.CRLURLs, OCSPURLs: r.OCSPURLs, ManifestKeysPEM: r.ManifestKeysPEM, BuildRecordKeysPEM: r.BuildRecordKeysPEM, Policy: fromMakerPolicy(r.Policy)}
}

func fromUpdateMakerRequest(r api.UpdateMakerRequest) makers.UpdateRequest {
	out := makers.UpdateRequest{IntermediatesPEM: r.IntermediatesPEM, CRLURLs: r.CRLURLs, OCSPURLs: r.OCSPURLs, ManifestKeysPEM: r.ManifestKeysPEM, BuildRecordKeysPEM: r.BuildRecordKeysPEM}
	if r.Policy != nil {
		p := fromMakerPolicy(*r.Policy)
		out.Policy = &p
	}
	return out
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func toMakerCertificate(c *x509.Certificate) api.MakerCertificate {
	sum := sha256.Sum256(c.Raw)
	return api.MakerCertificate{Subject: c.Subject.String(), NotAfter: c.NotAfter.UTC(), SHA256: hex.EncodeToString(sum[:]), CertificatePEM: certPEM(c)}
}

func toMaker(m maker.Maker) api.Maker {
	return api.Maker{ID: m.ID, OperatorID: m.OperatorID, Name: m.Name, Anchors: nonNil(each(m.Anchors, toMakerCertificate)),
		Intermediates: nonNil(each(m.Intermediates, toMakerCertificate)), CRLURLs: nonNil(m.CRLURLs), OCSPURLs: nonNil(m.OCSPURLs),
		ManifestKeysPEM: nonNil(m.ManifestKeys), BuildRecordKeysPEM: nonNil(m.BuildRecordKeys), Policy: toMakerPolicy(m.Policy), CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

func toManifest(m maker.Manifest) api.Manifest {
	return api.Manifest{ID: m.ID, MakerID: m.MakerID, Format: m.Format, SHA256: hex.EncodeToString(m.SHA256[:]), Entries: m.Entries, IssuedAt: m.IssuedAt,
		State: string(m.State), ApprovalID: m.ApprovalID, UploadedBy: m.UploadedBy, UploadedAt: m.UploadedAt, ActivatedAt: m.ActivatedAt}
}

func toManifestResult(r makers.ManifestResult) api.ManifestResult {
	out := api.ManifestResult{Manifest: toManifest(r.Manifest)}
	if r.Approval != nil {
		a := toApproval(*r.Approval)
		out.Approval = &a
	}
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toMakerSource(s makers.SourceState) api.MakerSource {
	return api.MakerSource{Kind: s.Kind, URL: s.URL, Issuer: s.Issuer, Outcome: s.Outcome, Error: s.Err, LastAttempt: optTime(s.LastAttempt), LastOK: optTime(s.LastOK),
		HeldNextUpdate: optTime(s.HeldNextUpdate), Gap: s.Gap}
}

func toMakerCheck(r makers.Round) api.MakerCheck {
	return api.MakerCheck{Started: r.Started, ElapsedMS: r.Elapsed.Milliseconds(), CRLs: r.CRLs, OCSP: r.OCSP, Devices: r.Devices, ByCRL: r.ByCRL, ByOCSP: r.ByOCSP,
		Unknown: r.Unknown, Revoked: r.Revoked, Recorded: r.Recorded, Sources: nonNil(each(r.Sources, toMakerSource))}
}

func toRevocationEvidence(e maker.Evidence) api.RevocationEvidence {
	return api.RevocationEvidence{Kind: e.Kind, URL: e.URL, ThisUpdate: e.ThisUpdate, NextUpdate: optTime(e.NextUpdate), Reason: e.Reason, RevokedAt: e.RevokedAt}
}

// toDeviceOrigin is the origin of an external device in a device view; nil for a device of
// this deployment.
func toDeviceOrigin(v inventory.DeviceView) *api.DeviceOrigin {
	if v.Origin == nil || v.Maker == nil {
		return nil
	}
	o := v.Origin
	out := &api.DeviceOrigin{MakerID: o.MakerID, MakerName: v.Maker.Name, Serial: o.Serial, FactorySerial: o.FactorySerial, FactoryCertificatePEM: certPEM(o.Factory),
		Issuer: o.Issuer.Subject.String(), State: string(o.State), RevokedAt: o.RevokedAt, CreatedAt: o.CreatedAt}
	if o.Evidence != nil {
		e := toRevocationEvidence(*o.Evidence)
		out.Evidence = &e
	}
	return out
}
