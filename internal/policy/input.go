package policy

import (
	"strings"
	"time"
)

// The inputs of a decision. Each struct is a CEL object type (policy.Device, ...) whose field
// names are the json tags; docs/policies.md lists them with their CEL types and sources.
// Hex values (digests, serials) are lower-cased by Evaluate before rules see them.

// Input is everything a rule may read.
type Input struct {
	Now         time.Time    // the clock, read at the edge; CEL variable now
	Device      Device       // Hallmark's inventory
	Factory     Factory      // the factory (IDevID) certificate and its revocation state
	BuildRecord BuildRecord  // the signed build record bound to the factory certificate
	Facts       Facts        // what the device reports now
	Environment Environment  // the environment asked to admit the device
	Operational *Operational // renewal: the identity being renewed; onboarding: the device's current one, nil if none
}

// Device is the device as Hallmark's inventory knows it.
type Device struct {
	ID           string `json:"id"`
	Serial       string `json:"serial"`
	State        string `json:"state"` // registered, active, quarantined, suspended, released, factory-revoked
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	Lot          string `json:"lot"`
	Custodian    string `json:"custodian"` // the party holding custody
	// Origin is "hallmark" for a device made here (it has a build record) and "external"
	// for one of a maker that does not run Hallmark (it has none: build_record is empty).
	Origin string `json:"origin"`
	// Maker is the registered maker's name of an external device; "" otherwise.
	Maker string `json:"maker"`
}

// Factory is the device's factory certificate.
type Factory struct {
	Serial       string    `json:"serial"` // hex
	Issuer       string    `json:"issuer"` // RFC 4514 distinguished name
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	SHA256       string    `json:"sha256"`        // of the DER certificate, hex
	HardwareType string    `json:"hardware_type"` // dotted OID of hardwareModuleName
	// HardwareSerial is hardwareModuleName's hwSerialNum as text ("" if none, or not text).
	HardwareSerial string `json:"hardware_serial"`
	Revoked        bool   `json:"revoked"`
	// ManifestListed is true when the maker's active manifest lists the device (external
	// devices only).
	ManifestListed bool `json:"manifest_listed"`
}

// BuildRecord is what the factory asserted about the device.
type BuildRecord struct {
	Manufacturer     string      `json:"manufacturer"`
	Model            string      `json:"model"`
	HardwareRevision string      `json:"hardware_revision"`
	Serial           string      `json:"serial"`
	Lot              string      `json:"lot"`
	Line             string      `json:"line"`
	FirmwareDigest   string      `json:"firmware_digest"` // hex
	Components       []Component `json:"components"`
	TestResult       string      `json:"test_result"` // pass or fail
	BuiltAt          time.Time   `json:"built_at"`
}

// Component is one part listed in a build record.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"` // hex
}

// Facts are what the device reports at the time of the decision. Empty strings mean "not
// reported".
type Facts struct {
	FirmwareDigest   string            `json:"firmware_digest,omitempty"` // hex
	HardwareRevision string            `json:"hardware_revision,omitempty"`
	Extra            map[string]string `json:"extra,omitempty"`
}

// Environment is the environment asking for the decision.
type Environment struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Site        string        `json:"site"`
	Zone        string        `json:"zone"`
	Operator    string        `json:"operator"` // the operator party's id
	Services    []string      `json:"services"`
	MaxLifetime time.Duration `json:"max_lifetime"`
	MaxAge      time.Duration `json:"max_age"`
}

// Operational is the operational identity presented for renewal.
type Operational struct {
	Serial   string        `json:"serial"` // hex
	IssuedAt time.Time     `json:"issued_at"`
	NotAfter time.Time     `json:"not_after"`
	Renewals int           `json:"renewals"` // renewals so far in this lineage
	Age      time.Duration `json:"age"`      // set by Evaluate to Now − IssuedAt; a given value is ignored
}

// normalized returns copies of the inputs as rules see them: hex lower-cased, Age computed,
// a nil Operational replaced by the zero value (so has(operational.serial) is false), nil
// slices and maps replaced by empty ones.
func (in Input) normalized() Input {
	in.Factory.Serial = strings.ToLower(in.Factory.Serial)
	in.Factory.SHA256 = strings.ToLower(in.Factory.SHA256)
	in.BuildRecord.FirmwareDigest = strings.ToLower(in.BuildRecord.FirmwareDigest)
	comps := make([]Component, len(in.BuildRecord.Components))
	for i, c := range in.BuildRecord.Components {
		c.SHA256 = strings.ToLower(c.SHA256)
		comps[i] = c
	}
	in.BuildRecord.Components = comps
	in.Facts.FirmwareDigest = strings.ToLower(in.Facts.FirmwareDigest)
	if in.Facts.Extra == nil {
		in.Facts.Extra = map[string]string{}
	}
	if in.Environment.Services == nil {
		in.Environment.Services = []string{}
	}
	var op Operational
	if in.Operational != nil {
		op = *in.Operational
		op.Serial = strings.ToLower(op.Serial)
		op.Age = in.Now.Sub(op.IssuedAt)
	}
	in.Operational = &op
	return in
}
