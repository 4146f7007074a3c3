package oid

import (
	"encoding/asn1"
	"testing"
)

// TestArcsFitRFC5280 keeps every Hallmark OID parseable by relying parties that only handle
// arcs below 2^28 (RFC 5280), crypto/x509 among them.
func TestArcsFitRFC5280(t *testing.T) {
	for name, o := range map[string]asn1.ObjectIdentifier{
		"BuildRecordDigest":  BuildRecordDigest,
		"FactoryIdentityRef": FactoryIdentityRef,
		"SupportScope":       SupportScope,
		"HardwareTypeArc":    HardwareTypeArc,
	} {
		for _, a := range o {
			if a < 0 || a >= 1<<28 {
				t.Errorf("%s = %v: arc %d outside [0, 2^28)", name, o, a)
			}
		}
		if _, err := asn1.Marshal(o); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
