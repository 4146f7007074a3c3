//go:build pkcs11 && cgo

package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/binary"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
)

var (
	oidP256    = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384    = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112} // RFC 8410
)

// describeKey names a key by its CKA_ID and CKA_LABEL for messages.
func describeKey(id []byte, label string) string {
	u := URI{ID: id, Object: label}.String()
	return u[len("pkcs11:"):]
}

// templates returns the mechanism and the attribute templates of a new key pair. The private
// key is a token object, private, sensitive and never extractable, and may only sign.
func templates(id []byte, label string, alg keys.Algorithm) ([]*pkcs11.Mechanism, []*pkcs11.Attribute, []*pkcs11.Attribute, error) {
	pub := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	priv := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	var mech uint
	switch alg {
	case keys.ECDSAP256, keys.ECDSAP384:
		oid := oidP256
		if alg == keys.ECDSAP384 {
			oid = oidP384
		}
		params, _ := asn1.Marshal(oid)
		mech = pkcs11.CKM_EC_KEY_PAIR_GEN
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC))
	case keys.Ed25519:
		params, _ := asn1.Marshal(oidEd25519)
		mech = ckmECEdwardsKeyPairGen
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards))
	case keys.RSA3072:
		mech = pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA), pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 3072),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA))
	default:
		return nil, nil, nil, alg.Validate()
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, pub, priv, nil
}

// findObjects returns up to max objects of class with CKA_ID id and CKA_LABEL label (each
// when not empty).
func findObjects(c *pkcs11.Ctx, s pkcs11.SessionHandle, class uint, id []byte, label string, max int) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if len(id) > 0 {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, id))
	}
	if label != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	}
	if err := c.FindObjectsInit(s, tmpl); err != nil {
		return nil, err
	}
	hs, _, err := c.FindObjects(s, max)
	if ferr := c.FindObjectsFinal(s); err == nil {
		err = ferr
	}
	return hs, err
}

func (t *token) generate(id []byte, label string, alg keys.Algorithm) (crypto.Signer, error) {
	var out *signer
	err := t.do("create", false, func(c *pkcs11.Ctx, s pkcs11.SessionHandle, gen uint64) error {
		hs, err := findObjects(c, s, pkcs11.CKO_PRIVATE_KEY, id, "", 1)
		if err != nil {
			return err
		}
		if len(hs) > 0 {
			return failure.New(failure.Conflict, "keys/pkcs11: token %q already holds a key with %s", t.tlabel, describeKey(id, ""))
		}
		mech, pubT, privT, err := templates(id, label, alg)
		if err != nil {
			return err
		}
		pubH, privH, err := c.GenerateKeyPair(s, mech, pubT, privT)
		if err != nil {
			return err
		}
		undo := func() {
			_ = c.DestroyObject(s, privH)
			_ = c.DestroyObject(s, pubH)
		}
		// Two processes may have created a key under one CKA_ID at once. The one that sees two
		// yields, so that a key is used only if it was alone when its creator looked.
		hs, err = findObjects(c, s, pkcs11.CKO_PRIVATE_KEY, id, "", 2)
		if err == nil && len(hs) > 1 {
			err = failure.New(failure.Conflict, "keys/pkcs11: another process created a key with %s on token %q at the same time", describeKey(id, ""), t.tlabel)
		}
		if err != nil {
			undo()
			return err
		}
		pub, err := readPublic(c, s, pubH, keyTypeOf(alg))
		if err != nil {
			undo()
			return err
		}
		out = &signer{t: t, id: append([]byte(nil), id...), pub: pub}
		t.remember(id, gen, privH)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func keyTypeOf(alg keys.Algorithm) uint {
	switch alg {
	case keys.Ed25519:
		return ckkECEdwards
	case keys.RSA3072:
		return pkcs11.CKK_RSA
	}
	return pkcs11.CKK_EC
}

func (t *token) find(id []byte, label string) (crypto.Signer, []byte, string, error) {
	var (
		out      *signer
		gotID    []byte
		gotLabel string
	)
	err := t.do("find", true, func(c *pkcs11.Ctx, s pkcs11.SessionHandle, gen uint64) error {
		hs, err := findObjects(c, s, pkcs11.CKO_PRIVATE_KEY, id, label, 2)
		if err != nil {
			return err
		}
		switch len(hs) {
		case 0:
			return failure.New(failure.NotFound, "keys/pkcs11: token %q holds no private key with %s", t.tlabel, describeKey(id, label))
		case 2:
			return failure.New(failure.Conflict, "keys/pkcs11: token %q holds more than one private key with %s; name the key by its id, or remove the duplicate", t.tlabel, describeKey(id, label))
		}
		attrs, err := c.GetAttributeValue(s, hs[0], []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_ID, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		})
		if err != nil {
			return err
		}
		gotID, gotLabel = attrs[0].Value, string(attrs[1].Value)
		kt := ulong(attrs[2].Value)
		if len(gotID) == 0 {
			return failure.New(failure.Invalid, "keys/pkcs11: the key with %s on token %q has no CKA_ID; give it a unique one", describeKey(id, label), t.tlabel)
		}
		if len(id) == 0 { // found by label: the CKA_ID must be unique too
			if more, err := findObjects(c, s, pkcs11.CKO_PRIVATE_KEY, gotID, "", 2); err != nil {
				return err
			} else if len(more) > 1 {
				return failure.New(failure.Conflict, "keys/pkcs11: token %q holds more than one private key with %s", t.tlabel, describeKey(gotID, ""))
			}
		}
		pubs, err := findObjects(c, s, pkcs11.CKO_PUBLIC_KEY, gotID, "", 2)
		if err != nil {
			return err
		}
		var pub crypto.PublicKey
		switch {
		case len(pubs) == 1:
			pub, err = readPublic(c, s, pubs[0], kt)
		case kt == pkcs11.CKK_RSA: // the private object carries the modulus and exponent
			pub, err = readPublic(c, s, hs[0], kt)
		default:
			err = failure.New(failure.Invalid, "keys/pkcs11: the key with %s on token %q has no single public key object with its CKA_ID", describeKey(gotID, gotLabel), t.tlabel)
		}
		if err != nil {
			return err
		}
		out = &signer{t: t, id: gotID, pub: pub}
		t.remember(gotID, gen, hs[0])
		return nil
	})
	if err != nil {
		return nil, nil, "", err
	}
	return out, gotID, gotLabel, nil
}

// remember caches the private key handle of CKA_ID id in generation gen.
func (t *token) remember(id []byte, gen uint64, h pkcs11.ObjectHandle) {
	t.mu.Lock()
	t.handles[string(id)] = handle{gen: gen, h: h}
	t.mu.Unlock()
}

// privateHandle returns the handle of the private key with CKA_ID id, from the cache or the
// token.
func (t *token) privateHandle(c *pkcs11.Ctx, s pkcs11.SessionHandle, gen uint64, id []byte) (pkcs11.ObjectHandle, error) {
	t.mu.Lock()
	h, ok := t.handles[string(id)]
	t.mu.Unlock()
	if ok && h.gen == gen {
		return h.h, nil
	}
	hs, err := findObjects(c, s, pkcs11.CKO_PRIVATE_KEY, id, "", 2)
	if err != nil {
		return 0, err
	}
	if len(hs) != 1 {
		return 0, failure.New(failure.Unavailable, "keys/pkcs11: token %q holds %d private keys with %s, not one", t.tlabel, len(hs), describeKey(id, ""))
	}
	t.remember(id, gen, hs[0])
	return hs[0], nil
}

func (t *token) forget(id []byte) {
	t.mu.Lock()
	delete(t.handles, string(id))
	t.mu.Unlock()
}

// readPublic reads the public key of object h, of PKCS#11 key type kt, and applies the key
// policy of package keys: P-256, P-384, Ed25519, RSA of 2048 to 8192 bits.
func readPublic(c *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle, kt uint) (crypto.PublicKey, error) {
	switch kt {
	case pkcs11.CKK_EC, ckkECEdwards:
		attrs, err := c.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil), pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
		if err != nil {
			return nil, err
		}
		return parseECPublic(kt, attrs[0].Value, attrs[1].Value)
	case pkcs11.CKK_RSA:
		attrs, err := c.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil)})
		if err != nil {
			return nil, err
		}
		n, e := new(big.Int).SetBytes(attrs[0].Value), new(big.Int).SetBytes(attrs[1].Value)
		if bits := n.BitLen(); bits < keys.MinRSABits || bits > keys.MaxRSABits {
			return nil, failure.New(failure.Invalid, "keys/pkcs11: RSA-%d is not allowed; use %d to %d bits", bits, keys.MinRSABits, keys.MaxRSABits)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, failure.New(failure.Invalid, "keys/pkcs11: the RSA public exponent is not usable")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	}
	return nil, failure.New(failure.Invalid, "keys/pkcs11: key type 0x%x is not supported; use ECDSA P-256/P-384, Ed25519 or RSA", kt)
}

// parseECPublic reads CKA_EC_PARAMS and CKA_EC_POINT (a DER OCTET STRING holding the point,
// or, from some tokens, the bare point).
func parseECPublic(kt uint, params, point []byte) (crypto.PublicKey, error) {
	var oid asn1.ObjectIdentifier
	var name string
	if _, err := asn1.Unmarshal(params, &oid); err != nil {
		if _, err := asn1.UnmarshalWithParams(params, &name, "printable"); err != nil {
			return nil, failure.New(failure.Invalid, "keys/pkcs11: the key's CKA_EC_PARAMS do not parse")
		}
	}
	var inner []byte
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		point = inner
	}
	switch {
	case kt == ckkECEdwards && (oid.Equal(oidEd25519) || name == "edwards25519"):
		if len(point) != ed25519.PublicKeySize {
			return nil, failure.New(failure.Invalid, "keys/pkcs11: the Ed25519 public key is %d bytes, not %d", len(point), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(append([]byte(nil), point...)), nil
	case kt == pkcs11.CKK_EC && (oid.Equal(oidP256) || oid.Equal(oidP384)):
		curve := elliptic.P256()
		if oid.Equal(oidP384) {
			curve = elliptic.P384()
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, failure.Wrap(failure.Invalid, err, "keys/pkcs11: the key's EC point does not parse")
		}
		return pub, nil
	}
	what := oid.String()
	if name != "" {
		what = name
	}
	return nil, failure.New(failure.Invalid, "keys/pkcs11: curve %s is not allowed; use P-256, P-384 or Ed25519", what)
}

// ulong reads a CK_ULONG attribute value (native byte order, as the module wrote it).
func ulong(b []byte) uint {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	}
	return ^uint(0)
}
