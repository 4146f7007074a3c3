package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/operational"
)

func toEnvironment(e environment.Environment) api.Environment {
	return api.Environment{ID: e.ID, OperatorID: e.OperatorID, Name: e.Name, Site: e.Site, Zone: e.Zone, IssuingCAID: e.IssuingCAID,
		TrustDomain: e.TrustDomain, Lifetime: api.Duration(e.Lifetime), MaxAge: api.Duration(e.MaxAge), Services: e.Services,
		SupportMaxWindow: api.Duration(e.SupportMaxWindow), CreatedAt: e.CreatedAt}
}

func toEnvironmentView(v operational.EnvironmentView) api.EnvironmentView {
	return api.EnvironmentView{Environment: toEnvironment(v.Environment), Onboarding: toPolicyVersion(v.Onboarding),
		Renewal: toPolicyVersion(v.Renewal), ESTLabel: v.ESTLabel}
}

func toPolicyVersion(p environment.PolicyVersion) api.PolicyVersion {
	return api.PolicyVersion{EnvironmentID: p.EnvironmentID, Kind: string(p.Kind), Version: p.Version, Spec: p.Spec,
		CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt}
}

func fromCreateEnvironmentRequest(r api.CreateEnvironmentRequest) operational.CreateEnvironmentRequest {
	return operational.CreateEnvironmentRequest{OperatorID: r.OperatorID, Name: r.Name, Site: r.Site, Zone: r.Zone, IssuingCAID: r.IssuingCAID,
		TrustDomain: r.TrustDomain, Lifetime: r.Lifetime, MaxAge: r.MaxAge, Services: r.Services, SupportMaxWindow: r.SupportMaxWindow,
		Onboarding: r.Onboarding, Renewal: r.Renewal}
}

func fromRevokeRequest(r api.RevokeRequest) operational.RevokeRequest {
	return operational.RevokeRequest{Reason: r.Reason}
}

func fromReadmitRequest(r api.ReadmitRequest) operational.ReadmitRequest {
	return operational.ReadmitRequest{Reason: r.Reason}
}

func toReadmitResult(r operational.ReadmitResult) api.ReadmitResult {
	return api.ReadmitResult{Device: toDevice(r.Device), Approval: ptr(r.Approval, toApproval)}
}

func fromReoriginRequest(r api.ReoriginRequest) operational.ReoriginRequest {
	return operational.ReoriginRequest{Certificate: r.Certificate, Reason: r.Reason}
}

func toReoriginResult(r operational.ReoriginResult) api.ReoriginResult {
	return api.ReoriginResult{Device: toDevice(r.Device), Approval: ptr(r.Approval, toApproval)}
}

func fromFactorySelector(s api.FactorySelector) manufacturing.FactorySelector {
	return manufacturing.FactorySelector(s)
}

func toFactorySelector(s manufacturing.FactorySelector) api.FactorySelector {
	return api.FactorySelector(s)
}

func fromFactoryRevokeRequest(r api.FactoryRevokeRequest) manufacturing.RevokeRequest {
	return manufacturing.RevokeRequest{Selector: fromFactorySelector(r.Selector), Reason: r.Reason, DryRun: r.DryRun, Why: r.Why, Limit: r.Limit}
}

func toFactoryRevokeResult(r manufacturing.RevokeResult) api.FactoryRevokeResult {
	return api.FactoryRevokeResult{DryRun: r.DryRun, RunID: r.RunID, Reason: r.Reason,
		Factory: each(r.Factory, func(c manufacturing.FactoryCert) api.FactoryCert {
			return api.FactoryCert{Serial: c.Serial, DeviceID: c.DeviceID, LotID: c.LotID, State: string(c.State)}
		}),
		Suspended: each(r.Suspended, func(s manufacturing.Suspension) api.Suspension { return api.Suspension(s) }),
		Skipped:   r.Skipped, Approval: ptr(r.Approval, toApproval),
		Counts: api.RevokeCounts{Factory: r.Counts.Factory, Suspended: r.Counts.Suspended,
			Environments: each(r.Counts.Environments, func(e manufacturing.EnvironmentCount) api.EnvironmentCount { return api.EnvironmentCount(e) })}}
}

func toRevocationRun(r manufacturing.RevocationRun) api.RevocationRun {
	return api.RevocationRun{ID: r.ID, ManufacturerID: r.ManufacturerID, Selector: toFactorySelector(r.Selector), Reason: r.Reason,
		RequestedBy: r.RequestedBy, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt}
}

func toCascadeItem(c manufacturing.CascadeItem) api.CascadeItem { return api.CascadeItem(c) }

func toChallenge(c operational.Challenge) api.Challenge {
	return api.Challenge{ID: c.ID, Nonce: c.Nonce, Purpose: string(c.Purpose), EnvironmentID: c.EnvironmentID, CSRKeySHA256: c.CSRKeySHA256, ExpiresAt: c.ExpiresAt}
}

func fromChallengeRequest(r api.ChallengeRequest) operational.ChallengeRequest {
	return operational.ChallengeRequest{Purpose: operational.Purpose(r.Purpose), EnvironmentID: r.EnvironmentID, CertificateSerial: r.CertificateSerial, CSRKeySHA256: r.CSRKeySHA256}
}

func fromProof(p api.Proof) operational.Proof {
	return operational.Proof{ChallengeID: p.ChallengeID, Signature: p.Signature}
}

func fromFacts(f api.Facts) environment.Facts {
	return environment.Facts{FirmwareDigest: f.FirmwareDigest, HardwareRevision: f.HardwareRevision, Extra: f.Extra}
}

// fromOnboardRequest leaves the environment to the caller (it is in the path).
func fromOnboardRequest(r api.OnboardRequest) operational.OnboardRequest {
	return operational.OnboardRequest{CSR: r.CSR, FactoryCertificate: r.FactoryCertificate, Proof: fromProof(r.Proof), Facts: fromFacts(r.Facts)}
}

func fromRenewRequest(r api.RenewRequest) operational.RenewRequest {
	return operational.RenewRequest{CSR: r.CSR, CurrentCertificate: r.CurrentCertificate, Proof: fromProof(r.Proof), Facts: fromFacts(r.Facts)}
}

func toIdentity(id operational.Identity) api.Identity {
	return api.Identity{Device: toDevice(id.Device), CertificatePEM: id.CertificatePEM, ChainPEM: id.ChainPEM, Evidence: toEvidence(id.Evidence)}
}
