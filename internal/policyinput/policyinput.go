// Package policyinput maps Hallmark's records to the documented inputs of an onboarding or
// renewal policy (docs/policies.md): the one mapping that onboarding and renewal decide with
// (internal/operational) and that the drift report rebuilds from stored evidence to evaluate
// an environment's current policy again (internal/reports).
//
// The package is pure: it reads only the values it is given, and the time of the decision is
// a parameter.
package policyinput

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/policy"
)

// Build returns the input of a decision at now about device d (of the model and lot named),
// whose factory certificate is factory with its issuance record factRec and whose verified
// build record is rec, asking to be admitted to env, reporting facts, and holding (or, at
// renewal, presenting) the operational identity op, nil if none. The factory certificate's
// hardware type is empty when it names no hardwareModuleName. d is never handed-off (exported
// in a custody voucher): onboarding and renewal refuse such a device before building an input,
// so no policy sees that state (docs/policies.md).
func Build(now time.Time, d device.Device, model, lot string, factory *x509.Certificate, factRec ca.Cert, rec *buildrecord.Record,
	env environment.Environment, facts environment.Facts, op *policy.Operational) policy.Input {
	in := policy.Input{
		Now:     now,
		Device:  policy.Device{ID: d.ID, Serial: d.Serial, State: string(d.State), Manufacturer: d.ManufacturerID, Model: model, Lot: lot, Custodian: d.CustodianID, Origin: OriginHallmark},
		Factory: factoryInput(factory, factRec.SerialHex, factRec.State != ca.Issued),
		BuildRecord: policy.BuildRecord{Manufacturer: rec.Manufacturer, Model: rec.Model, HardwareRevision: rec.HardwareRevision, Serial: rec.Serial,
			Lot: rec.Lot, Line: rec.Line, FirmwareDigest: rec.FirmwareDigest.SHA256, TestResult: rec.TestResult, BuiltAt: rec.BuiltAt},
		Facts:       policy.Facts(facts),
		Environment: environmentInput(env),
		Operational: op,
	}
	for _, c := range rec.Components {
		in.BuildRecord.Components = append(in.BuildRecord.Components, policy.Component{Name: c.Name, Version: c.Version, SHA256: c.Digest.SHA256})
	}
	return in
}

// The device origins policies see (policy.Device.Origin).
const (
	OriginHallmark = "hallmark" // made by this deployment: it has a build record
	OriginExternal = "external" // of a maker that does not run Hallmark
)

// factoryInput is the policy view of a factory certificate.
func factoryInput(factory *x509.Certificate, serialHex string, revoked bool) policy.Factory {
	sum := sha256.Sum256(factory.Raw)
	f := policy.Factory{Serial: serialHex, Issuer: factory.Issuer.String(), NotBefore: factory.NotBefore, NotAfter: factory.NotAfter,
		SHA256: hex.EncodeToString(sum[:]), Revoked: revoked}
	if t, serial, err := issuance.ParseHardwareModuleName(factory); err == nil {
		f.HardwareType = t.String()
		if utf8.Valid(serial) && !strings.ContainsFunc(string(serial), func(r rune) bool { return !unicode.IsPrint(r) }) {
			f.HardwareSerial = string(serial)
		}
	}
	return f
}

// External is Build for a device of a maker that does not run Hallmark: no model, lot or
// build record; the device names its maker (makerName), and the factory view says whether the
// maker's active manifest lists it (listed).
func External(now time.Time, d device.Device, makerName string, factory *x509.Certificate, listed bool,
	env environment.Environment, facts environment.Facts, op *policy.Operational) policy.Input {
	in := policy.Input{
		Now:         now,
		Device:      policy.Device{ID: d.ID, Serial: d.Serial, State: string(d.State), Custodian: d.CustodianID, Origin: OriginExternal, Maker: makerName},
		Factory:     factoryInput(factory, ca.SerialHex(factory.SerialNumber), false),
		Facts:       policy.Facts(facts),
		Environment: environmentInput(env),
		Operational: op,
	}
	in.Factory.ManifestListed = listed
	return in
}

// environmentInput is the policy view of an environment.
func environmentInput(env environment.Environment) policy.Environment {
	return policy.Environment{ID: env.ID, Name: env.Name, Site: env.Site, Zone: env.Zone, Operator: env.OperatorID, Services: env.Services,
		MaxLifetime: time.Duration(env.Lifetime), MaxAge: time.Duration(env.MaxAge)}
}
