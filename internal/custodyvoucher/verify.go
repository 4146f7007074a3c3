package custodyvoucher

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/chainverify"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/oid"
)

// Trust is what a voucher is verified against: the maker's.
type Trust struct {
	// Anchors are the maker's root CAs; Intermediates CAs that may complete a factory chain.
	Anchors, Intermediates []*x509.Certificate
	// BuildRecordKeys are the maker's build-record keys (its key history): every build record
	// and link 0 must verify with one of them.
	BuildRecordKeys []crypto.PublicKey
	// Addressee, when set, is the key the last link must be addressed to.
	Addressee crypto.PublicKey
}

// Verified is a voucher whose every signature and link has been checked.
type Verified struct {
	Devices []VerifiedDevice
	// Links are the hand-overs, oldest first; Hashes[i] is the SHA-256 of link i's payload
	// (the hash link i+1 names), in hex.
	Links  []*Link
	Hashes []string
	// Holder is the key the last link is addressed to: the party that holds the devices.
	Holder crypto.PublicKey
	// HolderKeyID is KeyID(Holder).
	HolderKeyID string
}

// VerifiedDevice is one device of a verified voucher.
type VerifiedDevice struct {
	Serial string
	// Chain is the verified factory chain, leaf first and anchor last.
	Chain       []*x509.Certificate
	BuildRecord *buildrecord.Verified
}

// Factory is the device's factory certificate; Issuer the CA that signed it.
func (d VerifiedDevice) Factory() *x509.Certificate { return d.Chain[0] }

// Issuer is the CA certificate that signed the factory certificate.
func (d VerifiedDevice) Issuer() *x509.Certificate { return d.Chain[1] }

// Verify checks a parsed voucher offline against the maker's trust at now (see the package
// invariants). The first rule broken is returned as failure.Invalid naming the device or link.
func Verify(v *Voucher, t Trust, now time.Time) (*Verified, error) {
	if v == nil {
		return nil, failure.New(failure.Invalid, "custody voucher: missing")
	}
	if len(t.Anchors) == 0 || len(t.BuildRecordKeys) == 0 {
		return nil, failure.New(failure.Invalid, "custody voucher: the maker's anchors and build-record keys are needed to verify it")
	}
	out := &Verified{}
	for _, d := range v.Devices {
		vd, err := verifyDevice(d, t, now)
		if err != nil {
			return nil, err
		}
		out.Devices = append(out.Devices, vd)
	}
	digest, err := DevicesDigest(v.Devices)
	if err != nil {
		return nil, err
	}
	wantDevices := hex.EncodeToString(digest[:])
	var prev *Link
	var prevKey crypto.PublicKey
	for i, env := range v.Links {
		payload, err := linkPayload(env, i)
		if err != nil {
			return nil, err
		}
		l, err := ParseLink(payload)
		if err != nil {
			return nil, failure.Wrap(failure.Invalid, err, fmt.Sprintf("custody voucher: links[%d]", i))
		}
		if l.Index != i {
			return nil, failure.New(failure.Invalid, "custody voucher: links[%d] says it is link %d: the chain is re-ordered or truncated", i, l.Index)
		}
		if l.Devices != wantDevices {
			return nil, failure.New(failure.Invalid, "custody voucher: link %d was signed for other devices (devices %s, these are %s): a device, its chain or its build record was changed, added or removed", i, l.Devices, wantDevices)
		}
		signers := t.BuildRecordKeys
		if i == 0 {
			if l.Previous != "" {
				return nil, failure.New(failure.Invalid, "custody voucher: link 0 names a previous link: the chain is truncated at its start")
			}
		} else {
			if want := out.Hashes[i-1]; l.Previous != want {
				return nil, failure.New(failure.Invalid, "custody voucher: link %d names previous link %s, but link %d is %s: the chain is re-ordered or truncated", i, l.Previous, i-1, want)
			}
			if l.IssuedAt.Before(prev.IssuedAt) || l.IssuedAt.After(prev.ExpiresAt) {
				return nil, failure.New(failure.Invalid, "custody voucher: link %d was issued at %s, outside link %d's window %s to %s", i,
					l.IssuedAt.Format(time.RFC3339), i-1, prev.IssuedAt.Format(time.RFC3339), prev.ExpiresAt.Format(time.RFC3339))
			}
			signers = []crypto.PublicKey{prevKey}
		}
		k, ok := signedBy(env, payload, signers)
		if !ok {
			if i == 0 {
				return nil, failure.New(failure.Invalid, "custody voucher: link 0 is not signed by a build-record key of the maker")
			}
			return nil, failure.New(failure.Invalid, "custody voucher: link %d is not signed by the key link %d was addressed to (%s, %s)", i, i-1, prev.To, mustKeyID(prevKey))
		}
		if id := mustKeyID(signers[k]); l.SenderKeyID != id {
			return nil, failure.New(failure.Invalid, "custody voucher: link %d names sender key %s, but key %s signed it", i, l.SenderKeyID, id)
		}
		if prevKey, err = l.Addressee(); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(payload)
		out.Links = append(out.Links, l)
		out.Hashes = append(out.Hashes, hex.EncodeToString(sum[:]))
		prev = l
	}
	if now.Before(prev.IssuedAt) || !now.Before(prev.ExpiresAt) {
		return nil, failure.New(failure.Invalid, "custody voucher: the last link may be accepted from %s until %s, not at %s",
			prev.IssuedAt.Format(time.RFC3339), prev.ExpiresAt.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	out.Holder, out.HolderKeyID = prevKey, mustKeyID(prevKey)
	if t.Addressee != nil {
		want, err := KeyID(t.Addressee)
		if err != nil {
			return nil, err
		}
		if want != out.HolderKeyID {
			return nil, failure.New(failure.Invalid, "custody voucher: the last link is addressed to key %s (%s), not to key %s: wrong addressee, or a truncated chain", out.HolderKeyID, prev.To, want)
		}
	}
	return out, nil
}

// verifyDevice checks one device's chain, build record and their binding.
func verifyDevice(d Device, t Trust, now time.Time) (VerifiedDevice, error) {
	certs := make([]*x509.Certificate, 0, len(d.FactoryChain))
	for i, b := range d.FactoryChain {
		der, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			return VerifiedDevice{}, failure.New(failure.Invalid, "custody voucher: device %s: factoryChain[%d] is not base64", d.Serial, i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return VerifiedDevice{}, failure.Wrap(failure.Invalid, err, fmt.Sprintf("custody voucher: device %s: factoryChain[%d] is not a certificate", d.Serial, i))
		}
		certs = append(certs, c)
	}
	inters := append(append([]*x509.Certificate(nil), certs[1:]...), t.Intermediates...)
	chain, err := chainverify.Verify(certs[0], chainverify.Options{Anchors: t.Anchors, Intermediates: inters, Now: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return VerifiedDevice{}, failure.Wrap(failure.Invalid, err, "custody voucher: device "+d.Serial)
	}
	if len(chain) < 2 {
		return VerifiedDevice{}, failure.New(failure.Invalid, "custody voucher: device %s: the factory certificate is itself an anchor", d.Serial)
	}
	rec, err := buildrecord.VerifyKeys(d.BuildRecord, t.BuildRecordKeys)
	if err != nil {
		return VerifiedDevice{}, failure.Wrap(failure.Invalid, err, "custody voucher: device "+d.Serial)
	}
	if rec.Record.Serial != d.Serial {
		return VerifiedDevice{}, failure.New(failure.Invalid, "custody voucher: device %s: its build record is for serial %s", d.Serial, rec.Record.Serial)
	}
	certDigest, err := buildRecordDigestOf(chain[0])
	if err != nil {
		return VerifiedDevice{}, failure.Wrap(failure.Invalid, err, "custody voucher: device "+d.Serial)
	}
	if err := buildrecord.CheckBinding(rec, chain[0].PublicKey, certDigest); err != nil {
		return VerifiedDevice{}, failure.Wrap(failure.Invalid, err, "custody voucher: device "+d.Serial)
	}
	return VerifiedDevice{Serial: d.Serial, Chain: chain, BuildRecord: rec}, nil
}

// buildRecordDigestOf reads the build-record digest extension of a factory certificate (the
// encoding internal/issuance writes: an OCTET STRING of 32 bytes). It is read here rather
// than through internal/issuance, which pulls in the certificate linter.
func buildRecordDigestOf(c *x509.Certificate) ([32]byte, error) {
	var d [32]byte
	for _, e := range c.Extensions {
		if !e.Id.Equal(oid.BuildRecordDigest) {
			continue
		}
		var b []byte
		if rest, err := asn1.Unmarshal(e.Value, &b); err != nil || len(rest) != 0 || len(b) != len(d) {
			return d, failure.New(failure.Invalid, "malformed build record digest extension")
		}
		copy(d[:], b)
		return d, nil
	}
	return d, failure.New(failure.Invalid, "the factory certificate has no build record digest extension")
}

func mustKeyID(pub crypto.PublicKey) string {
	id, _ := KeyID(pub)
	return id
}
