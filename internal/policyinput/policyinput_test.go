package policyinput_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/policyinput"
)

// selfSigned signs tmpl with a new P-256 key and parses the result.
func selfSigned(t *testing.T, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.PublicKey = k.Public() // the parent's key: the signer's
	tmpl.SerialNumber = big.NewInt(0x7b)
	tmpl.Subject.CommonName = "SN-1"
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBuild(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hwType := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := issuance.FactoryTemplate(issuance.FactoryParams{DeviceSerial: "SN-1", Organization: "Acme", HardwareType: hwType,
		BuildRecordDigest: [32]byte{1}, PublicKey: k.Public(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	factory := selfSigned(t, tmpl)
	plain := selfSigned(t, &x509.Certificate{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})

	d := device.Device{ID: "dev_1", Serial: "SN-1", State: device.Active, ManufacturerID: "acme", CustodianID: "fleetco"}
	rec := &buildrecord.Record{Manufacturer: "acme", Model: "sensor-x", HardwareRevision: "B", Serial: "SN-1", Lot: "lot-7", Line: "line-a",
		FirmwareDigest: buildrecord.Digest{SHA256: "AB12"}, TestResult: "pass", BuiltAt: now.Add(-48 * time.Hour),
		Components: []buildrecord.Component{{Name: "radio", Version: "1.2", Digest: buildrecord.Digest{SHA256: "cd34"}}}}
	env := environment.Environment{ID: "env_1", Name: "plant-a", Site: "berlin", Zone: "line-3", OperatorID: "fleetco",
		Services: []string{"ota"}, Lifetime: environment.Duration(24 * time.Hour), MaxAge: environment.Duration(72 * time.Hour)}
	facts := environment.Facts{FirmwareDigest: "ab12", HardwareRevision: "B", Extra: map[string]string{"region": "eu"}}
	op := &policy.Operational{Serial: "9f", IssuedAt: now.Add(-time.Hour), NotAfter: now.Add(23 * time.Hour), Renewals: 2}

	for _, tc := range []struct {
		name    string
		factory *x509.Certificate
		state   ca.CertState
		hwType  string
		hwSer   string
		revoked bool
	}{
		{"factory identity", factory, ca.Issued, hwType.String(), "SN-1", false},
		{"revoked factory identity", factory, ca.Revoked, hwType.String(), "SN-1", true},
		{"no hardwareModuleName", plain, ca.Issued, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := policyinput.Build(now, d, "sensor-x", "lot-7", tc.factory, ca.Cert{SerialHex: "7b", State: tc.state}, rec, env, facts, op)
			sum := sha256.Sum256(tc.factory.Raw)
			want := policy.Input{
				Now:    now,
				Device: policy.Device{ID: "dev_1", Serial: "SN-1", State: "active", Manufacturer: "acme", Model: "sensor-x", Lot: "lot-7", Custodian: "fleetco", Origin: policyinput.OriginHallmark},
				Factory: policy.Factory{Serial: "7b", Issuer: tc.factory.Issuer.String(), NotBefore: tc.factory.NotBefore, NotAfter: tc.factory.NotAfter,
					SHA256: hex.EncodeToString(sum[:]), HardwareType: tc.hwType, HardwareSerial: tc.hwSer, Revoked: tc.revoked},
				BuildRecord: policy.BuildRecord{Manufacturer: "acme", Model: "sensor-x", HardwareRevision: "B", Serial: "SN-1", Lot: "lot-7", Line: "line-a",
					FirmwareDigest: "AB12", TestResult: "pass", BuiltAt: now.Add(-48 * time.Hour),
					Components: []policy.Component{{Name: "radio", Version: "1.2", SHA256: "cd34"}}},
				Facts: policy.Facts(facts),
				Environment: policy.Environment{ID: "env_1", Name: "plant-a", Site: "berlin", Zone: "line-3", Operator: "fleetco",
					Services: []string{"ota"}, MaxLifetime: 24 * time.Hour, MaxAge: 72 * time.Hour},
				Operational: op,
			}
			if !reflect.DeepEqual(in, want) {
				t.Fatalf("input\n got %+v\nwant %+v", in, want)
			}
		})
	}
}

// TestExternal: a device of a maker that does not run Hallmark has no model, lot or build
// record; it names its maker and whether the maker's manifest lists it.
func TestExternal(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hwType := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := issuance.FactoryTemplate(issuance.FactoryParams{DeviceSerial: "EXT-9", Organization: "Other", HardwareType: hwType,
		BuildRecordDigest: [32]byte{2}, PublicKey: k.Public(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	factory := selfSigned(t, tmpl)
	d := device.Device{ID: "dev_2", Serial: "EXT-9", State: device.Registered, CustodianID: "fleetco"}
	env := environment.Environment{ID: "env_1", Name: "plant-a", OperatorID: "fleetco", Lifetime: environment.Duration(time.Hour)}
	facts := environment.Facts{HardwareRevision: "C"}
	for _, listed := range []bool{false, true} {
		in := policyinput.External(now, d, "othermaker", factory, listed, env, facts, nil)
		sum := sha256.Sum256(factory.Raw)
		want := policy.Input{
			Now:    now,
			Device: policy.Device{ID: "dev_2", Serial: "EXT-9", State: "registered", Custodian: "fleetco", Origin: policyinput.OriginExternal, Maker: "othermaker"},
			Factory: policy.Factory{Serial: "7b", Issuer: factory.Issuer.String(), NotBefore: factory.NotBefore, NotAfter: factory.NotAfter,
				SHA256: hex.EncodeToString(sum[:]), HardwareType: hwType.String(), HardwareSerial: "EXT-9", ManifestListed: listed},
			Facts:       policy.Facts{HardwareRevision: "C"},
			Environment: policy.Environment{ID: "env_1", Name: "plant-a", Operator: "fleetco", MaxLifetime: time.Hour},
		}
		if !reflect.DeepEqual(in, want) {
			t.Fatalf("listed %v: input\n got %+v\nwant %+v", listed, in, want)
		}
	}
}
