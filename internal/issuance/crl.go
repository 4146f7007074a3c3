package issuance

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// CRLEntry is one revoked certificate in a CRL.
type CRLEntry struct {
	// Serial is the certificate serial as an unsigned big-endian magnitude (leading zero
	// octets are ignored); it must not be zero.
	Serial    []byte
	RevokedAt time.Time
	// Reason is the RFC 5280 CRLReason; 0 (unspecified) leaves the reasonCode extension out,
	// as RFC 5280 section 5.3.1 asks.
	Reason int
}

// CRLParams are the inputs of Issuer.SignCRL.
type CRLParams struct {
	Number     int64 // cRLNumber (RFC 5280 section 5.2.3), positive and growing
	ThisUpdate time.Time
	NextUpdate time.Time
	Entries    []CRLEntry
	// DistributionPoint, when set, is the URL of a partition: the CRL carries a critical
	// issuingDistributionPoint (RFC 5280 section 5.2.5) naming it, and covers only the
	// certificates that carry the same URL in their CRL distribution point.
	DistributionPoint string
}

// OIDs of RFC 5280.
var (
	oidAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLNumber      = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidIDP            = asn1.ObjectIdentifier{2, 5, 29, 28}
)

// reasonExt[r] is the DER of crlEntryExtensions holding one reasonCode extension
// (2.5.29.21) of value r: SEQUENCE { SEQUENCE { OID, OCTET STRING { ENUMERATED r } } }.
func reasonExt(r int) []byte {
	return []byte{0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, byte(r)}
}

// crlLintSample is how many entries of a CRL the pre-signing lint sees. The lints check the
// CRL's header, extensions and the shape of entries, which every entry shares; linting a
// million entries through zlint would take longer than building the CRL.
const crlLintSample = 64

// SignCRL builds a version 2 CRL (RFC 5280 section 5) with cRLNumber and authority key
// identifier, lints it (its header and a sample of entries) under a throwaway key, signs
// exactly the linted header with the CA key, and checks that the result parses and verifies
// under the CA certificate.
//
// Why not x509.CreateRevocationList: it builds a pkix.RevokedCertificate per entry and
// marshals through encoding/asn1's reflection, about 3.4 s for a million entries with reason
// codes on this machine. A CRL entry has a fixed shape (INTEGER, Time, optional reasonCode),
// so entries are appended by hand into one buffer; the header is built with cryptobyte.
func (is *Issuer) SignCRL(p CRLParams, rand io.Reader) ([]byte, error) {
	if p.Number <= 0 {
		return nil, failure.New(failure.Invalid, "CRL: number must be positive")
	}
	if !p.NextUpdate.After(p.ThisUpdate) {
		return nil, failure.New(failure.Invalid, "CRL: nextUpdate must be after thisUpdate")
	}
	if is.cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return nil, failure.New(failure.Invalid, "CRL: issuer %q lacks keyUsage cRLSign", is.cert.Subject.String())
	}
	sigAlg, ok := sigAlgIDs[is.alg.sigAlg]
	if !ok {
		return nil, fmt.Errorf("CRL: no algorithm identifier for %v", is.alg.sigAlg)
	}
	entries, err := encodeEntries(p.Entries)
	if err != nil {
		return nil, err
	}
	tbs, err := is.crlTBS(p, sigAlg, entries)
	if err != nil {
		return nil, err
	}
	// Lint a CRL that differs from the real one only in holding a sample of the entries.
	sample, err := encodeEntries(p.Entries[:min(len(p.Entries), crlLintSample)])
	if err != nil {
		return nil, err
	}
	sampleTBS, err := is.crlTBS(p, sigAlg, sample)
	if err != nil {
		return nil, err
	}
	throwaway, err := is.linter.throwaway.get(is.alg, rand)
	if err != nil {
		return nil, err
	}
	lintDER, err := signed(is.alg, throwaway, rand, sampleTBS, sigAlg)
	if err != nil {
		return nil, err
	}
	if err := is.linter.LintCRL(lintDER); err != nil {
		return nil, err
	}
	der, err := signed(is.alg, is.signer, rand, tbs, sigAlg)
	if err != nil {
		return nil, err
	}
	if err := is.checkCRL(der, tbs, len(p.Entries)); err != nil {
		return nil, err
	}
	return der, nil
}

// crlParseCheckMax is the largest CRL that checkCRL re-reads with x509.ParseRevocationList.
// Above it the parser costs more than it is worth: about 1.3 s for a million entries, and a
// big.Int, a time.Time and their slices per entry. On the million-device database, with
// partitions of 62,000 entries rebuilt through a renewal storm, the full parse made 58% of all
// the CRL builder's allocations, which set the server's memory peaks. So above 10,000 entries
// the check walks the structure with cryptobyte instead. Tests compare the encoder with the
// standard library's parser entry by entry.
var crlParseCheckMax = 10_000

// checkCRL checks that der is a CRL whose TBS is exactly tbs, with n entries, and whose
// signature verifies under the issuer's certificate.
func (is *Issuer) checkCRL(der, tbs []byte, n int) error {
	if n <= crlParseCheckMax {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return fmt.Errorf("CRL: the signed CRL does not parse: %w", err)
		}
		if !bytes.Equal(crl.RawTBSRevocationList, tbs) || len(crl.RevokedCertificateEntries) != n {
			return errors.New("CRL: signed TBS differs from the built TBS")
		}
		if err := crl.CheckSignatureFrom(is.cert); err != nil {
			return fmt.Errorf("CRL: signature does not verify: %w", err)
		}
		return nil
	}
	in := cryptobyte.String(der)
	var list, signedTBS, sigAlg cryptobyte.String
	var sig asn1.BitString
	if !in.ReadASN1(&list, cbasn1.SEQUENCE) || !in.Empty() || !list.ReadASN1Element(&signedTBS, cbasn1.SEQUENCE) ||
		!list.ReadASN1Element(&sigAlg, cbasn1.SEQUENCE) || !list.ReadASN1BitString(&sig) || !list.Empty() {
		return errors.New("CRL: the signed CRL is not a CertificateList")
	}
	if !bytes.Equal(signedTBS, tbs) {
		return errors.New("CRL: signed TBS differs from the built TBS")
	}
	var body, entries cryptobyte.String
	var version int64
	if !signedTBS.ReadASN1(&body, cbasn1.SEQUENCE) || !body.ReadASN1Integer(&version) || version != 1 ||
		!body.SkipASN1(cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.SEQUENCE) || !skipTime(&body) || !skipTime(&body) ||
		!body.ReadASN1(&entries, cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !body.Empty() {
		return errors.New("CRL: the signed TBSCertList is malformed")
	}
	for i := 0; i < n; i++ {
		var e cryptobyte.String
		var serial []byte
		if !entries.ReadASN1(&e, cbasn1.SEQUENCE) || !e.ReadASN1Bytes(&serial, cbasn1.INTEGER) || len(serial) == 0 || serial[0]&0x80 != 0 || !skipTime(&e) ||
			(!e.Empty() && !e.SkipASN1(cbasn1.SEQUENCE)) || !e.Empty() {
			return fmt.Errorf("CRL: entry %d is malformed", i)
		}
	}
	if !entries.Empty() {
		return errors.New("CRL: more entries than built")
	}
	if err := is.cert.CheckSignature(is.alg.sigAlg, tbs, sig.RightAlign()); err != nil {
		return fmt.Errorf("CRL: signature does not verify: %w", err)
	}
	return nil
}

func skipTime(s *cryptobyte.String) bool {
	if s.PeekASN1Tag(cbasn1.UTCTime) {
		return s.SkipASN1(cbasn1.UTCTime)
	}
	return s.SkipASN1(cbasn1.GeneralizedTime)
}

// sigAlgIDs are the DER AlgorithmIdentifiers of the algorithms keyAlg picks (RFC 5758, RFC
// 8410, RFC 4055: ECDSA and Ed25519 without parameters, RSA with NULL).
var sigAlgIDs = map[x509.SignatureAlgorithm][]byte{
	x509.ECDSAWithSHA256: {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02},
	x509.ECDSAWithSHA384: {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03},
	x509.PureEd25519:     {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70},
	x509.SHA256WithRSA:   {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00},
}

// crlTBS builds TBSCertList (RFC 5280 section 5.1.2) around the encoded entries.
func (is *Issuer) crlTBS(p CRLParams, sigAlg, entries []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1) // v2
		b.AddBytes(sigAlg)
		b.AddBytes(is.cert.RawSubject)
		addTime(b, p.ThisUpdate)
		addTime(b, p.NextUpdate)
		if len(entries) > 0 {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(entries) })
		}
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				addExt(b, oidAuthorityKeyID, false, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(is.cert.SubjectKeyId) })
					})
				})
				addExt(b, oidCRLNumber, false, func(b *cryptobyte.Builder) { b.AddASN1Int64(p.Number) })
				if p.DistributionPoint != "" {
					// IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
					addExt(b, oidIDP, true, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
									b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(p.DistributionPoint)) })
								})
							})
						})
					})
				}
			})
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("CRL: encoding: %w", err)
	}
	return out, nil
}

func addExt(b *cryptobyte.Builder, id asn1.ObjectIdentifier, critical bool, value func(*cryptobyte.Builder)) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(id)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1(cbasn1.OCTET_STRING, value)
	})
}

// addTime adds a Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 section
// 5.1.2.4).
func addTime(b *cryptobyte.Builder, t time.Time) {
	var buf [17]byte
	enc := appendTime(buf[:0], t)
	b.AddBytes(enc)
}

// appendTime appends a DER Time of t (seconds, UTC).
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	two := func(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }
	if y >= 1950 && y < 2050 {
		dst = append(dst, 0x17, 13)
		dst = two(dst, y%100)
	} else {
		dst = append(dst, 0x18, 15)
		dst = two(dst, y/100)
		dst = two(dst, y%100)
	}
	dst = two(dst, int(mo))
	dst = two(dst, d)
	dst = two(dst, h)
	dst = two(dst, mi)
	dst = two(dst, s)
	return append(dst, 'Z')
}

// encodeEntries appends every revokedCertificates entry: SEQUENCE { INTEGER serial, Time,
// crlEntryExtensions OPTIONAL }. Each entry is shorter than 128 octets, so its lengths are
// single octets.
func encodeEntries(es []CRLEntry) ([]byte, error) {
	out := make([]byte, 0, len(es)*56)
	for i := range es {
		e := &es[i]
		serial := e.Serial
		for len(serial) > 0 && serial[0] == 0 {
			serial = serial[1:]
		}
		if len(serial) == 0 || len(serial) > 20 {
			return nil, failure.New(failure.Invalid, "CRL: entry %d: serial must be 1 to 20 octets and not zero", i)
		}
		if e.Reason < 0 || e.Reason > 10 || e.Reason == 7 {
			return nil, failure.New(failure.Invalid, "CRL: entry %d: reason %d is not an RFC 5280 CRLReason", i, e.Reason)
		}
		pad := int(serial[0] >> 7)
		intLen := 2 + pad + len(serial)
		timeLen := 15
		if y := e.RevokedAt.UTC().Year(); y < 1950 || y >= 2050 {
			timeLen = 17
		}
		extLen := 0
		if e.Reason != 0 {
			extLen = 14
		}
		out = append(out, 0x30, byte(intLen+timeLen+extLen), 0x02, byte(pad+len(serial)))
		if pad == 1 {
			out = append(out, 0)
		}
		out = append(out, serial...)
		out = appendTime(out, e.RevokedAt)
		if extLen > 0 {
			out = append(out, reasonExt(e.Reason)...)
		}
	}
	return out, nil
}

// signed signs tbs and assembles CertificateList ::= SEQUENCE { tbsCertList,
// signatureAlgorithm, signatureValue BIT STRING }.
func signed(alg keyAlg, s crypto.Signer, rand io.Reader, tbs, sigAlg []byte) ([]byte, error) {
	sig, err := alg.sign(s, rand, tbs)
	if err != nil {
		return nil, fmt.Errorf("CRL: signing: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(sigAlg)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}

// SerialBytes returns the magnitude of a positive serial, for CRLEntry.Serial.
func SerialBytes(n *big.Int) []byte { return n.Bytes() }

// LintCRL runs zlint's CRL lints (RFC 5280 and the community sources) over der. Any Error
// or Fatal result is a failure.Invalid error naming the lints.
func (l *Linter) LintCRL(der []byte) error {
	crl, err := zx509.ParseRevocationList(der)
	if err != nil {
		return failure.Wrap(failure.Invalid, err, "lint: CRL does not parse")
	}
	res := zlint.LintRevocationListEx(crl, l.crlRegistry)
	var failed []string
	for name, r := range res.Results {
		if r.Status == lint.Error || r.Status == lint.Fatal {
			failed = append(failed, name+": "+r.Details)
		}
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		return failure.New(failure.Invalid, "lint: CRL fails %s", strings.Join(failed, "; "))
	}
	return nil
}
