package custodyvoucher

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/strictjson"
)

// Voucher is a custody voucher file.
type Voucher struct {
	Type    string           `json:"voucherType"`
	Devices []Device         `json:"devices"`
	Links   []*dsse.Envelope `json:"links"`
}

// Device is one device a voucher carries.
type Device struct {
	// Serial is the device serial: the build record's.
	Serial string `json:"serial"`
	// FactoryChain is the factory certificate and the CAs above it, leaf first, each as
	// base64 DER. The anchor may be left out.
	FactoryChain []string `json:"factoryChain"`
	// BuildRecord is the device's signed build record.
	BuildRecord *dsse.Envelope `json:"buildRecord"`
}

// Link is the signed payload of one hand-over.
type Link struct {
	Type string `json:"linkType"`
	// Index is the link's place in the chain, from 0.
	Index int `json:"index"`
	// Previous is the lowercase hex SHA-256 of the previous link's payload ("" for link 0).
	Previous string `json:"previous"`
	// Devices is DevicesDigest of the voucher's devices, in hex.
	Devices string `json:"devices"`
	// From names the sender (a party name, for people; not checked).
	From string `json:"from"`
	// SenderKeyID is the KeyID of the key that signs this link: a build-record key of the
	// maker for link 0, the previous link's addressee key after.
	SenderKeyID string `json:"senderKeyId"`
	// To names the addressee (for people; not checked). AddresseeKey is the addressee's
	// public key, base64 DER SubjectPublicKeyInfo: the only key that may sign the next link.
	To           string `json:"to"`
	AddresseeKey string `json:"addresseeKey"`
	// Nonce is 16 or more random bytes in hex: two hand-overs never have the same payload.
	Nonce string `json:"nonce"`
	// IssuedAt and ExpiresAt are RFC 3339 UTC times to the second: the link may be accepted
	// (imported, or extended) from IssuedAt until ExpiresAt.
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

var voucherKeys = map[string]bool{"voucherType": true, "devices": true, "links": true, "serial": true, "factoryChain": true, "buildRecord": true,
	"payloadType": true, "payload": true, "signatures": true, "keyid": true, "sig": true}

var linkKeys = map[string]bool{"linkType": true, "index": true, "previous": true, "devices": true, "from": true, "senderKeyId": true,
	"to": true, "addresseeKey": true, "nonce": true, "issuedAt": true, "expiresAt": true}

// Parse decodes a voucher file strictly and checks its form: its type, 1 to MaxDevices devices
// and 1 to MaxLinks links, each link a DSSE envelope of LinkPayloadType. It checks no
// signature (Verify does).
func Parse(data []byte) (*Voucher, error) {
	if len(data) > MaxBytes {
		return nil, failure.New(failure.TooLarge, "custody voucher: %d bytes is over the limit of %d", len(data), MaxBytes)
	}
	if err := strictjson.CheckKeys(data, voucherKeys); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "custody voucher: malformed JSON")
	}
	var v Voucher
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "custody voucher: malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, failure.New(failure.Invalid, "custody voucher: trailing data after the JSON value")
	}
	if v.Type != VoucherType {
		return nil, failure.New(failure.Invalid, "custody voucher: voucherType is %q, want %q", v.Type, VoucherType)
	}
	switch n := len(v.Devices); {
	case n == 0:
		return nil, failure.New(failure.Invalid, "custody voucher: no devices")
	case n > MaxDevices:
		return nil, failure.New(failure.TooLarge, "custody voucher: %d devices; at most %d are allowed", n, MaxDevices)
	}
	switch n := len(v.Links); {
	case n == 0:
		return nil, failure.New(failure.Invalid, "custody voucher: no links (hand-overs)")
	case n > MaxLinks:
		return nil, failure.New(failure.TooLarge, "custody voucher: %d links; at most %d are allowed", n, MaxLinks)
	}
	for i, d := range v.Devices {
		if d.Serial == "" || len(d.Serial) > buildrecord.MaxRecordSize {
			return nil, failure.New(failure.Invalid, "custody voucher: devices[%d]: serial is empty or too long", i)
		}
		if i > 0 && v.Devices[i-1].Serial >= d.Serial {
			return nil, failure.New(failure.Invalid, "custody voucher: devices[%d] (%s): devices must be in strictly increasing serial order", i, d.Serial)
		}
		if n := len(d.FactoryChain); n == 0 || n > MaxChainCerts {
			return nil, failure.New(failure.Invalid, "custody voucher: device %s: factoryChain holds %d certificates; 1 to %d are allowed", d.Serial, n, MaxChainCerts)
		}
		if d.BuildRecord == nil {
			return nil, failure.New(failure.Invalid, "custody voucher: device %s: no build record", d.Serial)
		}
	}
	for i, env := range v.Links {
		if _, err := linkPayload(env, i); err != nil {
			return nil, err
		}
	}
	return &v, nil
}

// Marshal encodes v as the file Parse reads: indented, without HTML escaping, ending in a
// newline. The same voucher always gives the same bytes.
func Marshal(v *Voucher) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding the custody voucher: %w", err)
	}
	return b.Bytes(), nil
}

// linkPayload checks the form of link i's envelope and returns its decoded payload.
func linkPayload(env *dsse.Envelope, i int) ([]byte, error) {
	if env == nil {
		return nil, failure.New(failure.Invalid, "custody voucher: links[%d]: missing", i)
	}
	if env.PayloadType != LinkPayloadType {
		return nil, failure.New(failure.Invalid, "custody voucher: links[%d]: payloadType is %q, want %q", i, env.PayloadType, LinkPayloadType)
	}
	p, err := env.DecodeB64Payload()
	if err != nil || len(p) == 0 {
		return nil, failure.New(failure.Invalid, "custody voucher: links[%d]: payload is empty or not base64", i)
	}
	if len(p) > MaxLinkPayload {
		return nil, failure.New(failure.TooLarge, "custody voucher: links[%d]: payload of %d bytes is over the limit of %d", i, len(p), MaxLinkPayload)
	}
	if n := len(env.Signatures); n == 0 || n > buildrecord.MaxSignatures {
		return nil, failure.New(failure.Invalid, "custody voucher: links[%d]: %d signatures; 1 to %d are allowed", i, n, buildrecord.MaxSignatures)
	}
	return p, nil
}

// ParseLink decodes a link payload strictly and checks its fields' form.
func ParseLink(payload []byte) (*Link, error) {
	if len(payload) > MaxLinkPayload {
		return nil, failure.New(failure.TooLarge, "custody link: %d bytes is over the limit of %d", len(payload), MaxLinkPayload)
	}
	if err := strictjson.CheckKeys(payload, linkKeys); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "custody link: malformed JSON")
	}
	var l Link
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&l); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "custody link: malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, failure.New(failure.Invalid, "custody link: trailing data after the JSON value")
	}
	switch {
	case l.Type != LinkType:
		return nil, failure.New(failure.Invalid, "custody link: linkType is %q, want %q", l.Type, LinkType)
	case l.Index < 0 || l.Index >= MaxLinks:
		return nil, failure.New(failure.Invalid, "custody link: index %d is out of range", l.Index)
	case l.Previous != "" && !isHex64(l.Previous):
		return nil, failure.New(failure.Invalid, "custody link %d: previous is not 64 lowercase hex characters", l.Index)
	case !isHex64(l.Devices):
		return nil, failure.New(failure.Invalid, "custody link %d: devices is not 64 lowercase hex characters", l.Index)
	case !isHex64(l.SenderKeyID):
		return nil, failure.New(failure.Invalid, "custody link %d: senderKeyId is not 64 lowercase hex characters", l.Index)
	case len(l.From) > MaxNameLen || len(l.To) > MaxNameLen:
		return nil, failure.New(failure.Invalid, "custody link %d: a name is longer than %d bytes", l.Index, MaxNameLen)
	case len(l.Nonce) < 32 || len(l.Nonce) > 128 || !isHex(l.Nonce):
		return nil, failure.New(failure.Invalid, "custody link %d: nonce must be 16 to 64 random bytes in lowercase hex", l.Index)
	case l.IssuedAt.IsZero() || l.ExpiresAt.IsZero() || !l.ExpiresAt.After(l.IssuedAt):
		return nil, failure.New(failure.Invalid, "custody link %d: expiresAt must be after issuedAt", l.Index)
	case l.ExpiresAt.Sub(l.IssuedAt) > MaxTTL*time.Second:
		return nil, failure.New(failure.Invalid, "custody link %d: acceptable for longer than %d days", l.Index, MaxTTL/86400)
	}
	if _, err := l.Addressee(); err != nil {
		return nil, err
	}
	return &l, nil
}

// Addressee returns the link's addressee key.
func (l *Link) Addressee() (crypto.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(l.AddresseeKey)
	if err != nil {
		return nil, failure.New(failure.Invalid, "custody link %d: addresseeKey is not base64", l.Index)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, fmt.Sprintf("custody link %d: addresseeKey is not a public key", l.Index))
	}
	if _, err := buildrecord.KeyID(pub); err != nil {
		return nil, err
	}
	if err := schemeOf(pub); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, fmt.Sprintf("custody link %d: addresseeKey", l.Index))
	}
	return pub, nil
}

// DevicesDigest is the SHA-256 every link signs for the devices: over each device in order,
// its serial, the SHA-256 of each factory certificate's DER, and the SHA-256 of its build
// record's payload, each length-prefixed.
func DevicesDigest(devices []Device) ([32]byte, error) {
	h := sha256.New()
	put := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, d := range devices {
		put([]byte(d.Serial))
		put([]byte{byte(len(d.FactoryChain))})
		for i, c := range d.FactoryChain {
			der, err := base64.StdEncoding.DecodeString(c)
			if err != nil {
				return [32]byte{}, failure.New(failure.Invalid, "custody voucher: device %s: factoryChain[%d] is not base64", d.Serial, i)
			}
			sum := sha256.Sum256(der)
			put(sum[:])
		}
		sum, err := buildrecord.PayloadDigest(d.BuildRecord)
		if err != nil {
			return [32]byte{}, failure.Wrap(failure.Invalid, err, "custody voucher: device "+d.Serial)
		}
		put(sum[:])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}

// KeyID is how a voucher names a key: the lowercase hex SHA-256 of its DER
// SubjectPublicKeyInfo (as build record signatures do).
func KeyID(pub crypto.PublicKey) (string, error) { return buildrecord.KeyID(pub) }

// EncodeKey is a public key as a link's addresseeKey: base64 DER SubjectPublicKeyInfo.
func EncodeKey(pub crypto.PublicKey) (string, error) {
	if err := schemeOf(pub); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", failure.Wrap(failure.Invalid, err, "custody voucher: unusable public key")
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

func isHex64(s string) bool { return len(s) == 64 && isHex(s) }

func isHex(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
