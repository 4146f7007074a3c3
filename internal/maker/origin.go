package maker

import (
	"crypto/x509"
	"encoding/json"
	"time"
	"unicode"
	"unicode/utf8"
)

// FactoryState is what is known of an external device's factory certificate.
type FactoryState string

// The states: good until the maker's CRL or OCSP says otherwise, then revoked for good.
const (
	Good    FactoryState = "good"
	Revoked FactoryState = "revoked"
)

// Origin is where an external device comes from: created at its first onboarding beside its
// device record (which has no manufacturer, model or lot of this deployment).
type Origin struct {
	DeviceID string
	MakerID  string
	// Serial is the device serial (DeviceSerial of the factory certificate), unique per maker.
	Serial string
	// Factory is the factory certificate the device was first onboarded with, Issuer the CA
	// certificate that signed it; FactorySerial is Factory's serial number in hex.
	Factory       *x509.Certificate
	Issuer        *x509.Certificate
	FactorySerial string
	SPKISHA256    [32]byte
	State         FactoryState
	// RevokedAt, Reason and Evidence are set when the maker revoked the factory certificate:
	// the revocation time and RFC 5280 reason code the maker published, and the answer that
	// said so (Evidence).
	RevokedAt *time.Time
	Reason    *int
	Evidence  *Evidence
	CreatedAt time.Time
}

// Evidence is the CRL or OCSP answer a revocation rests on.
type Evidence struct {
	Kind       string    `json:"kind"` // crl or ocsp
	URL        string    `json:"url"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update,omitzero"`
	Reason     string    `json:"reason"` // the RFC 5280 reason name
	RevokedAt  time.Time `json:"revoked_at"`
}

// JSON is the evidence as stored.
func (e Evidence) JSON() string {
	b, _ := json.Marshal(e) // a struct of strings and times always encodes
	return string(b)
}

// DeviceSerial is how an external device is named: the hwSerialNum of its hardwareModuleName
// when that is printable text, else the subject serialNumber, else the certificate serial in
// hex. hwSerial is the hwSerialNum given ("" or nil when the certificate has none).
func DeviceSerial(c *x509.Certificate, hwSerial []byte) string {
	if len(hwSerial) > 0 && len(hwSerial) <= 128 && utf8.Valid(hwSerial) && printable(string(hwSerial)) {
		return string(hwSerial)
	}
	if s := c.Subject.SerialNumber; s != "" && len(s) <= 128 && printable(s) {
		return s
	}
	return c.SerialNumber.Text(16)
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return s != ""
}
