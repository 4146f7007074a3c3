// Package oid fixes, once, every object identifier Hallmark defines or relies on.
//
// # Why not the 2.25 (UUID) arc
//
// The product definition asked for private OIDs under 2.25 (ITU-T X.667, UUID-based). A UUID
// arc is a 128-bit integer, and Go's crypto/x509 refuses to parse any certificate whose
// extension OID has an arc above 2^63 ("x509: malformed extension OID field"); so do Botan,
// RustCrypto's const-oid and several others. RFC 5280 only requires relying parties to handle
// arcs up to 2^28-1. A device certificate that crypto/tls cannot parse cannot be used for EST
// over mTLS or in most service meshes, so every arc Hallmark puts in a certificate stays below
// 2^28 (TestArcsFitRFC5280 enforces it).
//
// Hallmark has no IANA Private Enterprise Number yet. Until one is registered, the arc is the
// one RFC 5612 reserves for documentation (1.3.6.1.4.1.32473): it collides with nobody's real
// extensions. Registering a PEN and changing Arc below is a release blocker for production
// deployments; these values are part of the wire format of every certificate issued, so once a
// deployment has issued certificates they never change.
package oid

import "encoding/asn1"

// Arc is the root of every identifier Hallmark defines.
var Arc = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 7601}

func child(n ...int) asn1.ObjectIdentifier {
	o := append(asn1.ObjectIdentifier{}, Arc...)
	return append(o, n...)
}

var (
	// BuildRecordDigest is the non-critical extension on a factory (IDevID) certificate whose
	// value is an OCTET STRING holding the SHA-256 of the signed build record's payload.
	BuildRecordDigest = child(1, 1)

	// FactoryIdentityRef is the non-critical extension on an operational (LDevID) certificate
	// naming the factory certificate it was issued on.
	FactoryIdentityRef = child(1, 2)

	// SupportScope is the extension on a support certificate listing the devices it may reach.
	SupportScope = child(1, 3)

	// HardwareTypeArc is the arc under which Hallmark allocates hwType values (RFC 4108
	// HardwareModuleName) for models that bring none of their own: HardwareTypeArc.<model number>.
	HardwareTypeArc = child(2)
)

// Standard identifiers used by the profiles.
var (
	// OtherNameHardwareModuleName is id-on-hardwareModuleName (RFC 4108 section 5).
	OtherNameHardwareModuleName = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 4}
	// MASAURL is id-pe-masa-url (RFC 8995 section 2.3.2): a non-critical IA5String naming the
	// MASA a registrar asks for the device's voucher.
	MASAURL = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 32}

	// ExtSubjectAltName is id-ce-subjectAltName (RFC 5280 section 4.2.1.6).
	ExtSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
)
