package operational

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/policy"
)

// PolicyInput maps Hallmark's records to the documented policy inputs (docs/policies.md). Onboarding
// and renewal build their decisions with it, and the drift report (internal/reports) builds the
// same input again from stored evidence to evaluate an environment's current policy.
func PolicyInput(now time.Time, d device.Device, model, lot string, factory *x509.Certificate, factRec ca.Cert, rec *buildrecord.Record,
	env environment.Environment, facts environment.Facts, op *policy.Operational) policy.Input {
	sum := sha256.Sum256(factory.Raw)
	hwType := ""
	if t, _, err := issuance.ParseHardwareModuleName(factory); err == nil {
		hwType = t.String()
	}
	in := policy.Input{
		Now:    now,
		Device: policy.Device{ID: d.ID, Serial: d.Serial, State: string(d.State), Manufacturer: d.ManufacturerID, Model: model, Lot: lot, Custodian: d.CustodianID},
		Factory: policy.Factory{Serial: factRec.SerialHex, Issuer: factory.Issuer.String(), NotBefore: factory.NotBefore, NotAfter: factory.NotAfter,
			SHA256: hex.EncodeToString(sum[:]), HardwareType: hwType, Revoked: factRec.State != ca.Issued},
		BuildRecord: policy.BuildRecord{Manufacturer: rec.Manufacturer, Model: rec.Model, HardwareRevision: rec.HardwareRevision, Serial: rec.Serial,
			Lot: rec.Lot, Line: rec.Line, FirmwareDigest: rec.FirmwareDigest.SHA256, TestResult: rec.TestResult, BuiltAt: rec.BuiltAt},
		Facts: policy.Facts{FirmwareDigest: facts.FirmwareDigest, HardwareRevision: facts.HardwareRevision, Extra: facts.Extra},
		Environment: policy.Environment{ID: env.ID, Name: env.Name, Site: env.Site, Zone: env.Zone, Operator: env.OperatorID, Services: env.Services,
			MaxLifetime: time.Duration(env.Lifetime), MaxAge: time.Duration(env.MaxAge)},
		Operational: op,
	}
	for _, c := range rec.Components {
		in.BuildRecord.Components = append(in.BuildRecord.Components, policy.Component{Name: c.Name, Version: c.Version, SHA256: c.Digest.SHA256})
	}
	return in
}
