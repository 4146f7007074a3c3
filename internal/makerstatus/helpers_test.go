package makerstatus

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The unit tests build certificates, CRLs and OCSP answers with crypto/x509 and
// golang.org/x/crypto/ocsp (and, for what those cannot encode, testResponse below); the
// interop tests use openssl.

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serialCounter = big.NewInt(1000)

// issue makes a certificate from tmpl signed by parent (self-signed when parent is nil).
func issue(t testing.TB, parent *ca, tmpl *x509.Certificate) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serialCounter.Add(serialCounter, big.NewInt(1))
	tmpl.SerialNumber = new(big.Int).Set(serialCounter)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = t0.Add(-24*time.Hour), t0.Add(365*24*time.Hour)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	ski := sha256.Sum256(der)
	tmpl.SubjectKeyId = ski[:20]
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: c, key: key}
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Go Maker"}, CommonName: cn},
		BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func leafTemplate(cn string, eku ...x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Go Maker"}, CommonName: cn},
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           eku,
	}
}

// goMaker is a maker made with crypto/x509: a root, an issuing CA, a device, a delegated
// OCSP responder, and an impostor CA with the issuing CA's name and another key.
type goMaker struct {
	root, issuer, responder, impostor *ca
	device                            *x509.Certificate
}

func newGoMaker(t testing.TB) *goMaker {
	t.Helper()
	g := &goMaker{}
	g.root = issue(t, nil, caTemplate("Go Maker Root"))
	g.issuer = issue(t, g.root, caTemplate("Go Maker Device CA"))
	g.responder = issue(t, g.issuer, leafTemplate("Go Maker OCSP", x509.ExtKeyUsageOCSPSigning))
	g.impostor = issue(t, nil, caTemplate("Go Maker Device CA"))
	dev := leafTemplate("device", x509.ExtKeyUsageClientAuth)
	dev.CRLDistributionPoints = []string{"http://127.0.0.1/go.crl"}
	dev.OCSPServer = []string{"http://127.0.0.1/ocsp"}
	g.device = issue(t, g.issuer, dev).cert
	return g
}

// makeCRL has x509 make a CRL of signer (name and key) listing serials.
func makeCRL(t testing.TB, signer *ca, number int64, this, next time.Time, exts []pkix.Extension, serials ...*big.Int) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: this, NextUpdate: next, ExtraExtensions: exts}
	for i, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: s, RevocationTime: this.Add(-time.Hour), ReasonCode: i % 2})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, signer.cert, signer.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// testResponse encodes an OCSP response with what x/crypto/ocsp cannot: responderID by key,
// response extensions (the nonce), critical extensions, several answers.
type testResponse struct {
	signer    *ca               // signs; named by the responderID
	include   *x509.Certificate // carried in certs, if not nil
	byKey     bool
	nonce     []byte // extnValue of the nonce extension, if not nil
	critical  bool   // adds an unknown critical response extension
	singleExt bool   // adds an unknown critical singleExtension
	id        certID
	status    Status
	this      time.Time
	next      time.Time // zero: none
}

func (r testResponse) encode(t testing.TB) []byte {
	t.Helper()
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if r.byKey {
			bits, _ := subjectPublicKeyBits(r.signer.cert.RawSubjectPublicKeyInfo)
			sum := sha1Sum(bits)
			b.AddASN1(explicit2, func(b *cryptobyte.Builder) { b.AddASN1OctetString(sum) })
		} else {
			b.AddASN1(explicit1, func(b *cryptobyte.Builder) { b.AddBytes(r.signer.cert.RawSubject) })
		}
		b.AddASN1GeneralizedTime(r.this)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidSHA1)
						b.AddASN1NULL()
					})
					b.AddASN1OctetString(r.id.nameHash)
					b.AddASN1OctetString(r.id.keyHash)
					b.AddASN1BigInt(r.id.serial)
				})
				switch r.status {
				case Good:
					b.AddASN1(implicitGood, func(*cryptobyte.Builder) {})
				case Unknown:
					b.AddASN1(implicitUnkn, func(*cryptobyte.Builder) {})
				case Revoked:
					b.AddASN1(implicitRev, func(b *cryptobyte.Builder) {
						b.AddASN1GeneralizedTime(r.this.Add(-time.Hour))
						b.AddASN1(explicit0, func(b *cryptobyte.Builder) { b.AddASN1Enum(4) })
					})
				}
				b.AddASN1GeneralizedTime(r.this)
				if !r.next.IsZero() {
					b.AddASN1(explicit0, func(b *cryptobyte.Builder) { b.AddASN1GeneralizedTime(r.next) })
				}
				if r.singleExt {
					b.AddASN1(explicit1, func(b *cryptobyte.Builder) { addExt(b, asn1.ObjectIdentifier{1, 2, 3, 4}, true, []byte{5, 0}) })
				}
			})
		})
		if r.nonce != nil || r.critical {
			b.AddASN1(explicit1, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					if r.nonce != nil {
						addOneExt(b, oidNonce, false, r.nonce)
					}
					if r.critical {
						addOneExt(b, asn1.ObjectIdentifier{1, 2, 3, 4}, true, []byte{5, 0})
					}
				})
			})
		}
	})
	tbsDER := tbs.BytesOrPanic()
	digest := sha256.Sum256(tbsDER)
	sig, err := r.signer.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Enum(0)
		b.AddASN1(explicit0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidOCSPBasic)
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(tbsDER)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2})
						})
						b.AddASN1BitString(sig)
						if r.include != nil {
							b.AddASN1(explicit0, func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(r.include.Raw) })
							})
						}
					})
				})
			})
		})
	})
	return out.BytesOrPanic()
}

func addExt(b *cryptobyte.Builder, id asn1.ObjectIdentifier, critical bool, value []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { addOneExt(b, id, critical, value) })
}

func addOneExt(b *cryptobyte.Builder, id asn1.ObjectIdentifier, critical bool, value []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(id)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1OctetString(value)
	})
}
