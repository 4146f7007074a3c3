package est

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"testing"
)

// certsOnlyASN1 is the certs-only SignedData written with encoding/asn1 element by element:
// the reference CertsOnly's hand-written DER must equal.
func certsOnlyASN1(t *testing.T, raws [][]byte) []byte {
	t.Helper()
	tlv := func(class, tag int, parts ...[]byte) []byte {
		b, err := asn1.Marshal(asn1.RawValue{Class: class, Tag: tag, IsCompound: true, Bytes: bytes.Join(parts, nil)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	oid := func(o asn1.ObjectIdentifier) []byte {
		b, err := asn1.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	version, _ := asn1.Marshal(1)
	empty := tlv(asn1.ClassUniversal, asn1.TagSet)
	sd := tlv(asn1.ClassUniversal, asn1.TagSequence, version, empty,
		tlv(asn1.ClassUniversal, asn1.TagSequence, oid(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1})),
		tlv(asn1.ClassContextSpecific, 0, raws...), empty)
	return tlv(asn1.ClassUniversal, asn1.TagSequence, oid(oidSignedData), tlv(asn1.ClassContextSpecific, 0, sd))
}

// TestCertsOnlyDER: CertsOnly's bytes equal encoding/asn1's for no certificate, one, two,
// and certificates long enough for two- and three-octet lengths.
func TestCertsOnlyDER(t *testing.T) {
	a, b := selfSigned(t, "a", true), selfSigned(t, "b", true)
	big := &x509.Certificate{Raw: append([]byte{0x30, 0x83, 0x01, 0x00, 0x00}, make([]byte, 1<<16)...)}
	mid := &x509.Certificate{Raw: append([]byte{0x30, 0x82, 0x01, 0x00}, make([]byte, 256)...)}
	for name, certs := range map[string][]*x509.Certificate{
		"none": nil, "one": {a.Leaf}, "two": {a.Leaf, b.Leaf}, "mid": {mid}, "big": {big, a.Leaf},
	} {
		var raws [][]byte
		for _, c := range certs {
			raws = append(raws, c.Raw)
		}
		if got, want := CertsOnly(certs), certsOnlyASN1(t, raws); !bytes.Equal(got, want) {
			t.Errorf("%s: CertsOnly = %x\nwant %x", name, got[:min(len(got), 64)], want[:min(len(want), 64)])
		}
	}
}
