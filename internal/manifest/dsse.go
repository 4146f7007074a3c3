package manifest

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
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/strictjson"
)

// document is the signed payload.
type document struct {
	ManifestType string     `json:"manifestType"`
	Maker        string     `json:"maker"`
	IssuedAt     time.Time  `json:"issuedAt"`
	Devices      []docEntry `json:"devices"`
}

type docEntry struct {
	Serial     string `json:"serial,omitempty"`
	SPKISHA256 string `json:"spkiSha256,omitempty"`
}

// documentKeys are the object keys of a document, exactly as spelled.
var documentKeys = map[string]bool{"manifestType": true, "maker": true, "issuedAt": true, "devices": true, "serial": true, "spkiSha256": true}

// Key is a public key the operator registered for a maker's manifests.
type Key struct {
	Public crypto.PublicKey
	// SHA256 is the SHA-256 of the key's DER SubjectPublicKeyInfo.
	SHA256 [32]byte
}

// ParseKey reads one "PUBLIC KEY" PEM block (PKIX SubjectPublicKeyInfo) holding an ECDSA
// P-256 or P-384, Ed25519 or RSA (2048 to 8192 bits) key; anything else, including text after
// the block, is failure.Invalid. ECDSA signatures are ASN.1 DER over SHA-256 (P-256) or
// SHA-384 (P-384) of the DSSE PAE; Ed25519 signs the PAE itself; RSA signatures are RSASSA-PSS
// (as go-securesystemslib signs) or PKCS #1 v1.5 (as `openssl dgst -sign` does), over SHA-256.
func ParseKey(data []byte) (Key, error) {
	if len(data) > 64<<10 {
		return Key{}, failure.New(failure.TooLarge, "manifest key: %d bytes is over the limit of 64 KiB", len(data))
	}
	blk, rest := pem.Decode(data)
	if blk == nil {
		return Key{}, failure.New(failure.Invalid, "manifest key: no PEM block")
	}
	if blk.Type != "PUBLIC KEY" {
		return Key{}, failure.New(failure.Invalid, "manifest key: PEM block is %q, want \"PUBLIC KEY\"", blk.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return Key{}, failure.New(failure.Invalid, "manifest key: data after the PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return Key{}, failure.Wrap(failure.Invalid, err, "manifest key: not a PKIX public key")
	}
	return NewKey(pub)
}

// NewKey checks that pub is a key type and size ParseKey accepts.
func NewKey(pub crypto.PublicKey) (Key, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return Key{}, failure.New(failure.Invalid, "manifest key: ECDSA keys must be P-256 or P-384")
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return Key{}, failure.New(failure.Invalid, "manifest key: Ed25519 key of %d bytes", len(k))
		}
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 8192 {
			return Key{}, failure.New(failure.Invalid, "manifest key: RSA key of %d bits; 2048 to 8192 are accepted", n)
		}
	default:
		return Key{}, failure.New(failure.Invalid, "manifest key: %T keys are not accepted; use ECDSA P-256 or P-384, Ed25519 or RSA", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Key{}, failure.Wrap(failure.Invalid, err, "manifest key: unusable public key")
	}
	return Key{Public: pub, SHA256: sha256.Sum256(der)}, nil
}

// verify checks sig over msg (a PAE) with k.
func (k Key) verify(msg, sig []byte) bool {
	switch p := k.Public.(type) {
	case *ecdsa.PublicKey:
		var digest []byte
		if p.Curve == elliptic.P384() {
			s := sha512.Sum384(msg)
			digest = s[:]
		} else {
			s := sha256.Sum256(msg)
			digest = s[:]
		}
		return ecdsa.VerifyASN1(p, digest, sig)
	case ed25519.PublicKey:
		return ed25519.Verify(p, msg, sig)
	case *rsa.PublicKey:
		s := sha256.Sum256(msg)
		if rsa.VerifyPSS(p, crypto.SHA256, s[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil {
			return true
		}
		return rsa.VerifyPKCS1v15(p, crypto.SHA256, s[:], sig) == nil
	}
	return false
}

// VerifyDSSE verifies a signed manifest: a DSSE envelope (JSON) of payload type PayloadType
// with at least one signature, by one of keys, over the PAE of its payload; then decodes the
// payload strictly and builds the Set. The envelope's own unrecognised fields are ignored, as
// DSSE requires (they are not signed). If maker is not "", the document's "maker" must equal
// it. Failures are failure.Invalid, or failure.TooLarge past l.
//
// The payload is a JSON object:
//
//	{"manifestType": DocumentType, "maker": "...", "issuedAt": "RFC 3339",
//	 "devices": [{"serial": "...", "spkiSha256": "64 hex"}, ...]}
//
// where every device has a serial, an spkiSha256, or both.
func VerifyDSSE(data []byte, keys []Key, maker string, l Limits) (*Set, error) {
	l = l.withDefaults()
	if len(data) > l.MaxBytes {
		return nil, failure.New(failure.TooLarge, "manifest envelope: %d bytes is over the limit of %d", len(data), l.MaxBytes)
	}
	if len(keys) == 0 {
		return nil, failure.New(failure.Invalid, "manifest: no key is registered for this maker's manifests")
	}
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&env); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "manifest envelope: malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, failure.New(failure.Invalid, "manifest envelope: trailing data after the JSON value")
	}
	if env.PayloadType != PayloadType {
		return nil, failure.New(failure.Invalid, "manifest envelope: payloadType is %q, want %q", env.PayloadType, PayloadType)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil || len(payload) == 0 {
		return nil, failure.New(failure.Invalid, "manifest envelope: payload is missing or not base64")
	}
	switch n := len(env.Signatures); {
	case n == 0:
		return nil, failure.New(failure.Invalid, "manifest envelope: no signatures")
	case n > MaxSignatures:
		return nil, failure.New(failure.Invalid, "manifest envelope: %d signatures; at most %d are allowed", n, MaxSignatures)
	}
	// The keyid is ignored: it is an unsigned hint, and go-securesystemslib's verifier skips
	// a signature whose keyid differs from its own naming of the key, which a maker's tooling
	// need not share. Every signature is tried against every key (at most 16 of each).
	pae := dsse.PAE(env.PayloadType, payload)
	var signer *Key
	for i, s := range env.Signatures {
		sig, err := decodeB64(s.Sig)
		if err != nil || len(sig) == 0 {
			return nil, failure.New(failure.Invalid, "manifest envelope: signatures[%d].sig is missing or not base64", i)
		}
		for j := range keys {
			if signer == nil && keys[j].verify(pae, sig) {
				signer = &keys[j]
			}
		}
	}
	if signer == nil {
		return nil, failure.New(failure.Invalid, "manifest envelope: no signature verifies with a key registered for this maker (%d keys, %d signatures)", len(keys), len(env.Signatures))
	}
	set, err := parseDocument(payload, data, maker, l)
	if err != nil {
		return nil, err
	}
	set.KeySHA256 = signer.SHA256
	return set, nil
}

// decodeB64 decodes standard or URL-safe base64, padded or not, as DSSE allows.
func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// parseDocument decodes a signed payload strictly and builds its Set; input is the envelope,
// whose digest the Set carries.
func parseDocument(payload, input []byte, maker string, l Limits) (*Set, error) {
	if err := strictjson.CheckKeys(payload, documentKeys); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "manifest: malformed document")
	}
	var doc document
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "manifest: malformed document")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, failure.New(failure.Invalid, "manifest: trailing data after the document")
	}
	if doc.ManifestType != DocumentType {
		return nil, failure.New(failure.Invalid, "manifest: manifestType is %q, want %q", doc.ManifestType, DocumentType)
	}
	if doc.Maker == "" || len(doc.Maker) > maxMakerLen || checkSerial(doc.Maker) != nil {
		return nil, failure.New(failure.Invalid, "manifest: maker must be 1 to %d bytes of printable text", maxMakerLen)
	}
	if maker != "" && doc.Maker != maker {
		return nil, failure.New(failure.Invalid, "manifest: signed for maker %q, not %q", doc.Maker, maker)
	}
	if doc.IssuedAt.IsZero() {
		return nil, failure.New(failure.Invalid, "manifest: issuedAt is missing")
	}
	if len(doc.Devices) > l.MaxEntries {
		return nil, failure.New(failure.TooLarge, "manifest: %d devices; at most %d are allowed", len(doc.Devices), l.MaxEntries)
	}
	b := newBuilder(FormatDSSE, input, l.MaxEntries, len(doc.Devices))
	for i, d := range doc.Devices {
		if err := b.add(fmt.Sprintf("devices[%d]", i), d.Serial, d.SPKISHA256); err != nil {
			return nil, err
		}
	}
	set, err := b.done()
	if err != nil {
		return nil, err
	}
	set.Maker, set.IssuedAt = doc.Maker, doc.IssuedAt.UTC()
	return set, nil
}
