package custodyvoucher

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// schemeOf accepts the build-record key types (ECDSA P-256, P-384 and Ed25519): custody links
// are signed with the same keys and scheme as build records (buildrecord.SignPAE).
func schemeOf(pub crypto.PublicKey) error {
	if err := buildrecord.CheckKey(pub); err != nil {
		return failure.Wrap(failure.Invalid, err, "custody voucher")
	}
	return nil
}

// signedBy reports whether env carries a valid signature by one of pubs over its payload, and
// which key (its index).
func signedBy(env *dsse.Envelope, payload []byte, pubs []crypto.PublicKey) (int, bool) {
	pae := dsse.PAE(env.PayloadType, payload)
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			if sig, err = base64.URLEncoding.DecodeString(s.Sig); err != nil {
				continue
			}
		}
		for i, pub := range pubs {
			if buildrecord.VerifyPAE(pub, pae, sig) {
				return i, true
			}
		}
	}
	return 0, false
}

// signLink encodes l once and signs it with signer in a DSSE envelope; the signature is
// checked before it is returned.
func signLink(l *Link, signer crypto.Signer) (*dsse.Envelope, error) {
	payload, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("encoding the custody link: %w", err)
	}
	if err := schemeOf(signer.Public()); err != nil {
		return nil, err
	}
	id, err := KeyID(signer.Public())
	if err != nil {
		return nil, err
	}
	pae := dsse.PAE(LinkPayloadType, payload)
	sig, err := buildrecord.SignPAE(signer, pae)
	if err != nil {
		return nil, fmt.Errorf("signing the custody link: %w", err)
	}
	if !buildrecord.VerifyPAE(signer.Public(), pae, sig) {
		return nil, errors.New("signing the custody link: the signature just made does not verify")
	}
	return &dsse.Envelope{PayloadType: LinkPayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsse.Signature{{KeyID: id, Sig: base64.StdEncoding.EncodeToString(sig)}}}, nil
}

// Handover says to whom a new link hands the devices.
type Handover struct {
	From string // the sender's name, for people
	To   string // the addressee's name, for people
	// ToKey is the addressee's public key: ECDSA P-256, P-384 or Ed25519.
	ToKey crypto.PublicKey
	// Now is the issue time; TTL how long the link may be accepted (1 s to MaxTTL).
	Now time.Time
	TTL time.Duration
	// Rand gives the nonce (nil: crypto/rand).
	Rand io.Reader
}

// New starts a voucher: link 0, signed by the maker's build-record key (signer), hands devices
// (any order; they are sorted by serial) to h.ToKey. It checks the form of what it signs, not
// the devices' chains and records (Verify does).
func New(devices []Device, signer crypto.Signer, h Handover) (*Voucher, error) {
	ds := append([]Device(nil), devices...)
	sortDevices(ds)
	v := &Voucher{Type: VoucherType, Devices: ds}
	if err := v.appendLink(signer, "", h); err != nil {
		return nil, err
	}
	return v, nil
}

// Extend appends a link handing v's devices from its current addressee to h.ToKey. signer
// must hold the key the last link is addressed to, and the last link must be acceptable at
// h.Now. It checks no other signature: the receiver verifies the whole voucher.
func Extend(v *Voucher, signer crypto.Signer, h Handover) error {
	if v == nil || len(v.Links) == 0 {
		return failure.New(failure.Invalid, "custody voucher: nothing to extend")
	}
	if len(v.Links) >= MaxLinks {
		return failure.New(failure.Invalid, "custody voucher: already %d links; at most %d are allowed", len(v.Links), MaxLinks)
	}
	i := len(v.Links) - 1
	payload, err := linkPayload(v.Links[i], i)
	if err != nil {
		return err
	}
	last, err := ParseLink(payload)
	if err != nil {
		return err
	}
	to, err := last.Addressee()
	if err != nil {
		return err
	}
	mine, err := KeyID(signer.Public())
	if err != nil {
		return err
	}
	if want, _ := KeyID(to); want != mine {
		return failure.New(failure.Denied, "custody voucher: the last link is addressed to key %s (%s), not to this key %s: only the current addressee can extend it", want, last.To, mine)
	}
	if !h.Now.Before(last.ExpiresAt) {
		return failure.New(failure.Invalid, "custody voucher: the last link expired at %s", last.ExpiresAt.Format(time.RFC3339))
	}
	sum := sha256.Sum256(payload)
	return v.appendLink(signer, hex.EncodeToString(sum[:]), h)
}

// appendLink signs and appends the next link.
func (v *Voucher) appendLink(signer crypto.Signer, previous string, h Handover) error {
	if signer == nil {
		return failure.New(failure.Invalid, "custody voucher: no signing key")
	}
	if h.TTL < time.Second || h.TTL > MaxTTL*time.Second {
		return failure.New(failure.Invalid, "custody voucher: a link's lifetime must be 1s to %d days", MaxTTL/86400)
	}
	if len(h.From) > MaxNameLen || len(h.To) > MaxNameLen {
		return failure.New(failure.Invalid, "custody voucher: a name is longer than %d bytes", MaxNameLen)
	}
	to, err := EncodeKey(h.ToKey)
	if err != nil {
		return err
	}
	from, err := KeyID(signer.Public())
	if err != nil {
		return err
	}
	digest, err := DevicesDigest(v.Devices)
	if err != nil {
		return err
	}
	r := h.Rand
	if r == nil {
		r = rand.Reader
	}
	nonce := make([]byte, 16)
	if _, err := io.ReadFull(r, nonce); err != nil {
		return fmt.Errorf("reading a nonce: %w", err)
	}
	now := h.Now.UTC().Truncate(time.Second)
	l := &Link{Type: LinkType, Index: len(v.Links), Previous: previous, Devices: hex.EncodeToString(digest[:]), From: h.From, SenderKeyID: from,
		To: h.To, AddresseeKey: to, Nonce: hex.EncodeToString(nonce), IssuedAt: now, ExpiresAt: now.Add(h.TTL.Truncate(time.Second))}
	env, err := signLink(l, signer)
	if err != nil {
		return err
	}
	v.Links = append(v.Links, env)
	return nil
}

func sortDevices(ds []Device) {
	slices.SortFunc(ds, func(a, b Device) int { return strings.Compare(a.Serial, b.Serial) })
}
