package issuance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// Errors of Sign and SignSelfSigned that mean the caller misused a Prepared.
var (
	ErrPreparedUsed = errors.New("issuance: prepared certificate already signed (or its signing was attempted)")
	ErrWrongIssuer  = errors.New("issuance: prepared certificate belongs to another issuer")
)

// serialBytes is the length of a serial: 16 octets with the top bit cleared, so the DER
// INTEGER needs no leading zero.
const serialBytes = 16

// serialTimeBits is how many of a serial's leading bits, after its top two (0 and 1), count
// seconds since 1970: 38 bits, until the year 10680. The other serialRandomBytes octets are
// random.
const (
	serialTimeBits    = 38
	serialRandomBytes = 11 // 88 bits
)

// NewSerial returns a serial for a certificate whose validity starts at notBefore (RFC 5280
// section 4.1.2.2): 127 bits long, the 2nd bit set, then notBefore in seconds since 1970 (38
// bits), then 88 bits read from rand, more than the CA/B Forum's 64 bits of CSPRNG output.
// It fails if rand fails or its 88 bits are all zero eight draws in a row (a broken source).
//
// Why the time leads: a serial is the key of the certificates table's unique index, of its
// index by CA and profile, and of the evidence table. Purely random keys land every new
// certificate on a random leaf page of each of those B-trees, so one group commit writes a
// page per certificate and index, and a large fleet's indexes fall out of the page cache. Keys
// that grow with time land on the indexes' right edges, which a commit's certificates share
// (BENCHMARKS.md, issue 21's seventh round). The time says nothing the certificate's
// notBefore does not, and the serial stays unpredictable through its random part. The 2nd bit
// keeps every serial 127 bits long, so its hex text (ca.SerialHex, n.Text(16)) has one length
// and sorts as the numbers do.
func NewSerial(notBefore time.Time, rand io.Reader) (*big.Int, error) {
	if rand == nil {
		return nil, errors.New("serial: no random source")
	}
	secs := uint64(max(notBefore.Unix(), 0)) & (1<<serialTimeBits - 1)
	b := make([]byte, serialBytes)
	lead := uint64(1)<<serialTimeBits | secs // 39 bits, below the top bit of 40
	for i := range serialBytes - serialRandomBytes {
		b[i] = byte(lead >> (8 * (serialBytes - serialRandomBytes - 1 - i)))
	}
	for range 8 {
		r := b[serialBytes-serialRandomBytes:]
		if _, err := io.ReadFull(rand, r); err != nil {
			return nil, fmt.Errorf("serial: reading randomness: %w", err)
		}
		if slices.ContainsFunc(r, func(c byte) bool { return c != 0 }) {
			return new(big.Int).SetBytes(b), nil
		}
	}
	return nil, errors.New("serial: the random source returns only zeros")
}

// keyAlg is what the issuance cycle needs to know about a CA key: the signature algorithm
// crypto/x509 picks for it by default, the hash to sign with, and how to make a throwaway key
// of the same algorithm, curve and size.
type keyAlg struct {
	name   string
	sigAlg x509.SignatureAlgorithm
	sigOID asn1.ObjectIdentifier // sigAlg's OID (RFC 5758, RFC 8410, RFC 4055)
	hash   crypto.Hash           // 0 for Ed25519 (pure)
	gen    func(io.Reader) (crypto.Signer, error)
}

// The signature algorithm OIDs crypto/x509 encodes for the keyAlg of each key.
var (
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
)

func algOf(pub crypto.PublicKey) (keyAlg, error) {
	if err := csr.CheckKey(pub); err != nil {
		return keyAlg{}, err
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return keyAlg{"ecdsa-p256", x509.ECDSAWithSHA256, oidECDSAWithSHA256, crypto.SHA256, func(r io.Reader) (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), r) }}, nil
		}
		return keyAlg{"ecdsa-p384", x509.ECDSAWithSHA384, oidECDSAWithSHA384, crypto.SHA384, func(r io.Reader) (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), r) }}, nil
	case ed25519.PublicKey:
		return keyAlg{"ed25519", x509.PureEd25519, oidEd25519, 0, func(r io.Reader) (crypto.Signer, error) {
			_, priv, err := ed25519.GenerateKey(r)
			return priv, err
		}}, nil
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		return keyAlg{fmt.Sprintf("rsa-%d", bits), x509.SHA256WithRSA, oidSHA256WithRSA, crypto.SHA256, func(r io.Reader) (crypto.Signer, error) { return rsa.GenerateKey(r, bits) }}, nil
	}
	return keyAlg{}, failure.New(failure.Invalid, "key: unsupported %T", pub)
}

// sign signs tbs as a certificate signature of algorithm a: SHA-256 for P-256 and RSA
// (PKCS #1 v1.5), SHA-384 for P-384, pure Ed25519.
func (a keyAlg) sign(s crypto.Signer, rand io.Reader, tbs []byte) ([]byte, error) {
	switch a.hash {
	case crypto.SHA256:
		h := sha256.Sum256(tbs)
		return s.Sign(rand, h[:], crypto.SHA256)
	case crypto.SHA384:
		h := sha512.Sum384(tbs)
		return s.Sign(rand, h[:], crypto.SHA384)
	default:
		return s.Sign(rand, tbs, crypto.Hash(0))
	}
}

// throwawayKeys caches one throwaway key per algorithm (RSA key generation is slow). The keys
// sign only certificates that are linted and discarded; they never leave the process.
type throwawayKeys struct {
	mu   sync.Mutex
	keys map[string]*lazyKey
}

type lazyKey struct {
	mu  sync.Mutex
	key crypto.Signer
	sig []byte // the key's signature over placeholderMessage
}

// placeholderMessage is what the throwaway key signs once, to give lint-only certificates a
// signature value of the right form (see throwawayCertificate).
var placeholderMessage = []byte("hallmark: lint-only certificate, signature not over its TBS")

func (t *throwawayKeys) get(a keyAlg, rand io.Reader) (crypto.Signer, error) {
	k, _, err := t.getWithSig(a, rand)
	return k, err
}

// getWithSig returns the throwaway key of a and its signature over placeholderMessage, both
// made once.
func (t *throwawayKeys) getWithSig(a keyAlg, rand io.Reader) (crypto.Signer, []byte, error) {
	t.mu.Lock()
	if t.keys == nil {
		t.keys = map[string]*lazyKey{}
	}
	lk, ok := t.keys[a.name]
	if !ok {
		lk = &lazyKey{}
		t.keys[a.name] = lk
	}
	t.mu.Unlock()

	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.key == nil {
		k, err := a.gen(rand)
		if err != nil {
			return nil, nil, fmt.Errorf("generating the %s throwaway key: %w", a.name, err)
		}
		sig, err := a.sign(k, rand, placeholderMessage)
		if err != nil {
			return nil, nil, fmt.Errorf("signing with the %s throwaway key: %w", a.name, err)
		}
		lk.key, lk.sig = k, sig
	}
	return lk.key, lk.sig, nil
}

// Prepared is a linted, not yet signed certificate: a one-shot token that only the Issuer
// that made it (or SignSelfSigned, for a root) can turn into a certificate. The caller
// records Serial and TBS before signing.
type Prepared struct {
	issuer   *Issuer          // nil for a self-signed root
	selfKey  crypto.PublicKey // the root's key, for a self-signed root
	alg      keyAlg
	profile  Profile
	serial   *big.Int
	tbs      []byte
	sigAlgID []byte // DER AlgorithmIdentifier, equal to the one inside tbs
	notB     time.Time
	notA     time.Time
	warnings []string
	rand     io.Reader
	used     atomic.Bool
}

// Serial returns the certificate's serial number.
func (p *Prepared) Serial() *big.Int { return new(big.Int).Set(p.serial) }

// TBS returns the exact DER of the TBSCertificate that was linted and that Sign will sign.
func (p *Prepared) TBS() []byte { return bytes.Clone(p.tbs) }

// Profile returns the profile the certificate was linted under.
func (p *Prepared) Profile() Profile { return p.profile }

// NotBefore returns the start of the certificate's validity.
func (p *Prepared) NotBefore() time.Time { return p.notB }

// NotAfter returns the end of the certificate's validity.
func (p *Prepared) NotAfter() time.Time { return p.notA }

// Warnings returns the lint warnings, "w_name: details", sorted.
func (p *Prepared) Warnings() []string { return append([]string(nil), p.warnings...) }

// Issuer holds one CA's certificate and signer. It is safe for concurrent use.
type Issuer struct {
	cert   *x509.Certificate
	signer crypto.Signer
	linter *Linter
	alg    keyAlg
}

// NewIssuer returns the issuer of CA certificate cert whose key signer holds. It refuses
// (failure.Invalid) a signer that does not match the certificate, a certificate that is not a
// CA allowed to sign certificates or that has no subject key identifier, and keys outside the
// policy of csr.CheckKey.
func NewIssuer(cert *x509.Certificate, signer crypto.Signer, l *Linter) (*Issuer, error) {
	if cert == nil || signer == nil || l == nil {
		return nil, errors.New("issuer: certificate, signer and linter are required")
	}
	alg, err := algOf(cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("issuer %q: %w", cert.Subject.String(), err)
	}
	if !samePublicKey(signer.Public(), cert.PublicKey) {
		return nil, failure.New(failure.Invalid, "issuer %q: the signer's key does not match the certificate", cert.Subject.String())
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, failure.New(failure.Invalid, "issuer %q: not a CA certificate", cert.Subject.String())
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, failure.New(failure.Invalid, "issuer %q: keyUsage lacks keyCertSign", cert.Subject.String())
	}
	if len(cert.SubjectKeyId) == 0 {
		return nil, failure.New(failure.Invalid, "issuer %q: no subject key identifier (RFC 5280 section 4.2.1.2 requires one on CAs)", cert.Subject.String())
	}
	return &Issuer{cert: cert, signer: signer, linter: l, alg: alg}, nil
}

// Certificate returns the CA certificate.
func (is *Issuer) Certificate() *x509.Certificate { return is.cert }

// Prepare assigns a fresh serial from rand to a copy of tmpl, builds the TBSCertificate the CA
// would sign, and lints it under profile. tmpl itself is not modified. The TBS is built by
// signing with a throwaway key of the CA key's algorithm, curve and size, under a lint parent
// carrying the CA's RawSubject and SubjectKeyId: issuer name, authority key identifier and
// signature algorithm are byte-identical to what the CA signs. A lint error returns the error
// and no Prepared. rand is also used by Sign.
//
// The certificate's notAfter may not be after the issuer's, with one exception: a factory
// (IDevID) certificate may carry UndefinedNotAfter, 802.1AR's "no well-defined expiration".
func (is *Issuer) Prepare(profile Profile, tmpl *x509.Certificate, rand io.Reader) (*Prepared, error) {
	if profile == ProfileRootCA {
		return nil, failure.New(failure.Invalid, "prepare: a root CA certificate is self-signed; use PrepareSelfSigned")
	}
	if tmpl == nil {
		return nil, errors.New("prepare: no template")
	}
	if tmpl.NotAfter.After(is.cert.NotAfter) && !(profile == ProfileFactory && tmpl.NotAfter.Equal(UndefinedNotAfter)) {
		return nil, failure.New(failure.Invalid, "prepare: notAfter %s is after the issuer's notAfter %s",
			tmpl.NotAfter.UTC().Format(time.RFC3339), is.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	p, err := prepare(profile, tmpl, is.cert, is.alg, is.linter, rand)
	if err != nil {
		return nil, err
	}
	p.issuer = is
	return p, nil
}

// Sign signs exactly p.TBS() with the CA key and returns the certificate, after checking that
// its signature verifies under the CA certificate and that its TBS equals the linted bytes. It
// refuses a Prepared of another issuer (ErrWrongIssuer) and one already signed or whose
// signing failed (ErrPreparedUsed).
func (is *Issuer) Sign(p *Prepared) (*x509.Certificate, error) {
	if p == nil || p.issuer != is {
		return nil, ErrWrongIssuer
	}
	if !p.used.CompareAndSwap(false, true) {
		return nil, ErrPreparedUsed
	}
	return finish(p, is.signer, is.cert)
}

// PrepareSelfSigned is Prepare for a self-signed root (profile ProfileRootCA): tmpl's public
// key must be signer's. The lint parent is tmpl itself with a throwaway key.
func PrepareSelfSigned(profile Profile, tmpl *x509.Certificate, signer crypto.Signer, l *Linter, rand io.Reader) (*Prepared, error) {
	if profile != ProfileRootCA {
		return nil, failure.New(failure.Invalid, "prepare: only a %s certificate is self-signed, not %s", ProfileRootCA, profile)
	}
	if tmpl == nil || signer == nil || l == nil {
		return nil, errors.New("prepare: template, signer and linter are required")
	}
	if !samePublicKey(signer.Public(), tmpl.PublicKey) {
		return nil, failure.New(failure.Invalid, "prepare: the signer's key is not the template's public key")
	}
	alg, err := algOf(tmpl.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	p, err := prepare(profile, tmpl, nil, alg, l, rand)
	if err != nil {
		return nil, err
	}
	p.selfKey = tmpl.PublicKey
	return p, nil
}

// SignSelfSigned signs a Prepared from PrepareSelfSigned with the root's key, with the same
// checks and one-shot rule as Issuer.Sign.
func SignSelfSigned(p *Prepared, signer crypto.Signer) (*x509.Certificate, error) {
	if p == nil || p.issuer != nil || p.selfKey == nil || signer == nil || !samePublicKey(signer.Public(), p.selfKey) {
		return nil, ErrWrongIssuer
	}
	if !p.used.CompareAndSwap(false, true) {
		return nil, ErrPreparedUsed
	}
	return finish(p, signer, nil)
}

// prepare builds and lints the TBS of tmpl under parent (nil: self-signed).
func prepare(profile Profile, tmpl, parent *x509.Certificate, alg keyAlg, l *Linter, rand io.Reader) (*Prepared, error) {
	if !profile.known() {
		return nil, failure.New(failure.Invalid, "prepare: unknown profile %q", profile)
	}
	if tmpl.IsCA != profile.IsCA() {
		return nil, failure.New(failure.Invalid, "prepare: template IsCA=%t does not fit profile %s", tmpl.IsCA, profile)
	}
	if rand == nil {
		return nil, errors.New("prepare: no random source")
	}
	if err := csr.CheckKey(tmpl.PublicKey); err != nil {
		return nil, fmt.Errorf("prepare: subject %w", err)
	}
	serial, err := NewSerial(tmpl.NotBefore, rand)
	if err != nil {
		return nil, err
	}
	throwaway, placeholder, err := l.throwaway.getWithSig(alg, rand)
	if err != nil {
		return nil, err
	}
	t := *tmpl
	t.SerialNumber = serial
	t.SignatureAlgorithm = x509.UnknownSignatureAlgorithm // the default for the key, which alg mirrors
	var lp x509.Certificate
	if parent != nil {
		lp = *parent
	} else {
		lp = t
	}
	lp.PublicKey = throwaway.Public()

	tc := &tbsCapture{Signer: throwaway}
	var tbs, sigAlgID []byte
	der, err := x509.CreateCertificate(rand, &t, &lp, t.PublicKey, tc)
	if errors.Is(err, errTBSCaptured) {
		tbs = tc.tbs
		der, sigAlgID, err = throwawayCertificate(tbs, placeholder)
	} else if err == nil {
		// CreateCertificate signed by itself (see tbsCapture): take the parts from its output.
		var c certificateASN1
		if rest, uerr := asn1.Unmarshal(der, &c); uerr != nil || len(rest) != 0 {
			return nil, fmt.Errorf("prepare: re-reading the built certificate: %v", uerr)
		}
		tbs, sigAlgID = c.TBS.FullBytes, c.SignatureAlgorithm.FullBytes
	}
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "prepare: building the certificate")
	}
	// The certificate is parsed once, by the linter (zcrypto); its validity and signature
	// algorithm are read from that parse. finish checks the signed certificate's validity,
	// parsed by crypto/x509, against these.
	zc, warnings, err := l.lint(profile, der)
	if err != nil {
		return nil, err
	}
	if !slices.Equal([]int(zc.SignatureAlgorithmOID), []int(alg.sigOID)) {
		return nil, fmt.Errorf("prepare: built with signature algorithm %v, expected %v for a %s key", zc.SignatureAlgorithmOID, alg.sigAlg, alg.name)
	}
	return &Prepared{
		alg: alg, profile: profile, serial: serial,
		tbs: tbs, sigAlgID: sigAlgID,
		notB: zc.NotBefore, notA: zc.NotAfter, warnings: warnings, rand: rand,
	}, nil
}

// errTBSCaptured stops x509.CreateCertificate at its last step: tbsCapture has the TBS.
var errTBSCaptured = errors.New("issuance: TBS captured")

// tbsCapture is the throwaway key as x509.CreateCertificate's signer. CreateCertificate hands
// a crypto.MessageSigner the TBSCertificate it has encoded, unhashed, as its last step, and
// then checks the signature it gets back against the key; tbsCapture keeps the TBS and
// refuses to sign, so that prepare assembles the certificate itself (throwawayCertificate)
// and skips that check. The check verifies the throwaway key's signature over a certificate that is only
// linted and thrown away: it proves nothing about the certificate issued, whose own real
// signature finish verifies, and it cost a P-256 verification per certificate (without it,
// CreateCertificate fell from 21% to 6% of BenchmarkPrepareSign's CPU, the throwaway
// signature made here included). Everything CreateCertificate checks and encodes
// before signing still runs. Should CreateCertificate ever call Sign with a digest instead,
// tbsCapture signs as the throwaway key and CreateCertificate finishes as it used to.
type tbsCapture struct {
	crypto.Signer
	tbs []byte
}

// SignMessage keeps msg, the TBS, and refuses with errTBSCaptured.
func (c *tbsCapture) SignMessage(_ io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	c.tbs = bytes.Clone(msg)
	return nil, errTBSCaptured
}

// throwawayCertificate is the certificate x509.CreateCertificate would have returned for tbs
// under the throwaway key, but for the signature value: tbs, its own signature
// AlgorithmIdentifier repeated outside it, and placeholder, a signature the throwaway key made
// once over placeholderMessage (RFC 5280 section 4.1). The certificate is only linted and
// thrown away, and no lint Hallmark runs verifies its signature (the one that did,
// e_cert_issued_by_compromised_emudhra_ca, is excluded: lint.go); the value keeps the form
// of a real signature of the algorithm (an ECDSA-Sig-Value, a modulus-sized RSA block, 64
// octets for Ed25519), so a lint of its encoding sees what the CA will produce. Signing every
// TBS with the throwaway key cost a P-256 signature per certificate for nothing.
func throwawayCertificate(tbs, placeholder []byte) (der, sigAlgID []byte, err error) {
	// TBSCertificate ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, serialNumber,
	// signature AlgorithmIdentifier, ... }; the fields after signature are left unread.
	in := cryptobyte.String(tbs)
	var body cryptobyte.String
	var alg cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() ||
		!body.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!body.SkipASN1(cbasn1.INTEGER) ||
		!body.ReadASN1Element(&alg, cbasn1.SEQUENCE) {
		return nil, nil, errors.New("the captured TBS does not parse")
	}
	return certificateDER(tbs, alg, placeholder), alg, nil
}

// certificateDER is the DER of Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
// signatureValue BIT STRING } (RFC 5280 section 4.1) from the DER of the first two and the
// signature's octets: the bytes asn1.Marshal gives for certificateASN1 (TestCertificateDER),
// written directly. Each certificate is assembled twice (lint-only, then signed), and
// encoding/asn1's reflection cost about 5% of BenchmarkPrepareSign for these three fields.
func certificateDER(tbs, sigAlgID, sig []byte) []byte {
	bitsLen := 1 + len(sig) // unused-bits octet, then the signature
	bodyLen := len(tbs) + len(sigAlgID) + 1 + derLenSize(bitsLen) + bitsLen
	out := make([]byte, 0, 1+derLenSize(bodyLen)+bodyLen)
	out = appendDERLen(append(out, 0x30), bodyLen) // SEQUENCE
	out = append(append(out, tbs...), sigAlgID...)
	out = appendDERLen(append(out, 0x03), bitsLen) // BIT STRING
	return append(append(out, 0x00), sig...)
}

// derLenSize is the size of the DER length octets for a content of n octets (X.690 8.1.3).
func derLenSize(n int) int {
	size := 1
	if n >= 0x80 {
		for ; n > 0; n >>= 8 {
			size++
		}
	}
	return size
}

// appendDERLen appends the DER length octets of n: short form below 128, else 0x80 | count
// followed by n big-endian in the fewest octets.
func appendDERLen(b []byte, n int) []byte {
	if n < 0x80 {
		return append(b, byte(n))
	}
	size := derLenSize(n) - 1
	b = append(b, 0x80|byte(size))
	for i := size - 1; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return b
}

// certificateASN1 is Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
// signatureValue } (RFC 5280 section 4.1), with the first two kept as raw DER.
type certificateASN1 struct {
	TBS                asn1.RawValue
	SignatureAlgorithm asn1.RawValue
	Signature          asn1.BitString
}

// finish signs p.tbs and checks the result. parent nil means self-signed.
//
// Why sign the TBS bytes by hand rather than call x509.CreateCertificate again with the real
// key: CreateCertificate re-encodes the template, so the bytes it signs are whatever the
// encoder produces on the second run, not the bytes that were linted and recorded. Signing
// p.tbs itself makes "we sign exactly what we linted" true by construction; the equality
// check below then guards the assembly and the parser, not the encoder.
func finish(p *Prepared, signer crypto.Signer, parent *x509.Certificate) (*x509.Certificate, error) {
	sig, err := p.alg.sign(signer, p.rand, p.tbs)
	if err != nil {
		return nil, fmt.Errorf("signing serial %x: %w", p.serial, err)
	}
	cert, err := x509.ParseCertificate(certificateDER(p.tbs, p.sigAlgID, sig))
	if err != nil {
		return nil, fmt.Errorf("parsing signed serial %x: %w", p.serial, err)
	}
	if !bytes.Equal(cert.RawTBSCertificate, p.tbs) {
		return nil, fmt.Errorf("signed serial %x: TBS differs from the linted TBS", p.serial)
	}
	if !cert.NotBefore.Equal(p.notB) || !cert.NotAfter.Equal(p.notA) {
		return nil, fmt.Errorf("signed serial %x: validity %s to %s differs from the recorded %s to %s", p.serial, cert.NotBefore, cert.NotAfter, p.notB, p.notA)
	}
	if parent == nil {
		parent = cert
	}
	// This is the only verification of the real signature, and it stays. The one that
	// x509.CreateCertificate makes in prepare covers the throwaway key's signature, a
	// different signature over the same bytes; the real one is made here by hand (see
	// above) and nothing else has checked it. NewIssuer's check that the signer's public key
	// is the certificate's does not replace it: it says which key the signer claims, not
	// that this signature (from an HSM, a remote signer, a faulty implementation) verifies.
	if err := cert.CheckSignatureFrom(parent); err != nil {
		return nil, fmt.Errorf("signed serial %x: signature does not verify: %w", p.serial, err)
	}
	return cert, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && k.Equal(b)
}
