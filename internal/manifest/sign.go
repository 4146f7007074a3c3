package manifest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// SignDSSE writes a signed manifest that VerifyDSSE reads: entries as the payload document
// (maker, issuedAt in UTC to the second), in a DSSE envelope of PayloadType with one signature
// by signer over the PAE: ECDSA P-256 (SHA-256) or P-384 (SHA-384) as ASN.1, Ed25519, or RSA
// PKCS #1 v1.5 over SHA-256. The signature's keyid is the hex SHA-256 of the key's DER
// SubjectPublicKeyInfo (a hint: readers ignore it). Every entry needs a serial or a key.
// rand is passed to signer.Sign.
func SignDSSE(maker string, issuedAt time.Time, entries []Entry, signer crypto.Signer, rand io.Reader) ([]byte, error) {
	key, err := NewKey(signer.Public())
	if err != nil {
		return nil, err
	}
	doc := document{ManifestType: DocumentType, Maker: maker, IssuedAt: issuedAt.UTC().Truncate(time.Second), Devices: make([]docEntry, 0, len(entries))}
	for i, e := range entries {
		if e.Serial == "" && !e.HasSPKI {
			return nil, failure.New(failure.Invalid, "manifest: entry %d names neither a serial nor a key", i+1)
		}
		d := docEntry{Serial: e.Serial}
		if e.HasSPKI {
			d.SPKISHA256 = hex.EncodeToString(e.SPKI[:])
		}
		doc.Devices = append(doc.Devices, d)
	}
	payload, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("manifest: encoding the document: %w", err)
	}
	pae := dsse.PAE(PayloadType, payload)
	var digest []byte
	var opts crypto.SignerOpts
	switch p := key.Public.(type) {
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P384() {
			s := sha512.Sum384(pae)
			digest, opts = s[:], crypto.SHA384
		} else {
			s := sha256.Sum256(pae)
			digest, opts = s[:], crypto.SHA256
		}
	case *rsa.PublicKey:
		s := sha256.Sum256(pae)
		digest, opts = s[:], crypto.SHA256
	case ed25519.PublicKey:
		digest, opts = pae, crypto.Hash(0)
	}
	sig, err := signer.Sign(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("manifest: signing: %w", err)
	}
	env := dsse.Envelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsse.Signature{{KeyID: hex.EncodeToString(key.SHA256[:]), Sig: base64.StdEncoding.EncodeToString(sig)}}}
	return json.Marshal(env)
}
