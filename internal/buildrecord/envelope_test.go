package buildrecord

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// fixedECDSA returns a P-256 or P-384 key derived from name, so test keys are stable.
func fixedECDSA(t testing.TB, curve elliptic.Curve, name string) *ecdsa.PrivateKey {
	t.Helper()
	scalar := sha256.Sum256([]byte(name))
	raw := scalar[:]
	if curve == elliptic.P384() {
		more := sha256.Sum256([]byte(name + "/2"))
		raw = append(raw, more[:16]...)
	}
	k, err := ecdsa.ParseRawPrivateKey(curve, raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fixedEd25519(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func deviceKey(t testing.TB) *ecdsa.PrivateKey {
	return fixedECDSA(t, elliptic.P256(), "hallmark test device FBK-X200-0004711")
}

func signingKeys(t testing.TB) map[string]crypto.Signer {
	return map[string]crypto.Signer{
		"ecdsa-p256": fixedECDSA(t, elliptic.P256(), "hallmark test manufacturer p256"),
		"ecdsa-p384": fixedECDSA(t, elliptic.P384(), "hallmark test manufacturer p384"),
		"ed25519":    fixedEd25519("hallmark test manufacturer ed25519"),
	}
}

func mustSign(t testing.TB, r *Record, dev crypto.PublicKey, s crypto.Signer) (*dsse.Envelope, [32]byte) {
	t.Helper()
	env, digest, err := Sign(context.Background(), r, dev, s)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return env, digest
}

func TestSignVerifyRoundTrip(t *testing.T) {
	dev := deviceKey(t)
	for name, s := range signingKeys(t) {
		t.Run(name, func(t *testing.T) {
			r := validRecord()
			env, digest := mustSign(t, r, dev.Public(), s)

			// The envelope survives JSON and ParseEnvelope.
			data, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			env2, err := ParseEnvelope(data)
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			pemKey, err := MarshalPublicKeyPEM(s.Public())
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublicKeyPEM(pemKey)
			if err != nil {
				t.Fatalf("ParsePublicKeyPEM: %v", err)
			}
			v, err := Verify(env2, pub)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.PayloadDigest != digest {
				t.Errorf("PayloadDigest = %x, Sign returned %x", v.PayloadDigest, digest)
			}
			if d, err := PayloadDigest(env2); err != nil || d != digest {
				t.Errorf("PayloadDigest(env) = %x, %v; want %x", d, err, digest)
			}
			wantID, _ := KeyID(s.Public())
			if v.KeyID != wantID || env.Signatures[0].KeyID != wantID {
				t.Errorf("keyid = %q (envelope %q), want %q", v.KeyID, env.Signatures[0].KeyID, wantID)
			}
			if !v.Record.BuiltAt.Equal(r.BuiltAt) {
				t.Errorf("builtAt = %v, want %v", v.Record.BuiltAt, r.BuiltAt)
			}
			v.Record.BuiltAt = r.BuiltAt
			got, _ := json.Marshal(v.Record)
			want, _ := json.Marshal(r)
			if !bytes.Equal(got, want) {
				t.Errorf("record = %s\nwant %s", got, want)
			}
			if err := CheckBinding(v, dev.Public(), digest); err != nil {
				t.Errorf("CheckBinding: %v", err)
			}
		})
	}
}

func TestSignEncodesOnce(t *testing.T) {
	dev := deviceKey(t)
	s := fixedEd25519("deterministic")
	r := validRecord()
	r.Components = nil
	r.Model = `Gateway <X200> & "Pro"`
	env1, d1 := mustSign(t, r, dev.Public(), s)
	env2, d2 := mustSign(t, r, dev.Public(), s)
	if d1 != d2 || env1.Payload != env2.Payload || env1.Signatures[0].Sig != env2.Signatures[0].Sig {
		t.Fatal("signing the same record twice with Ed25519 gave different envelopes")
	}
	payload, _ := env1.DecodeB64Payload()
	for _, want := range []string{`"components":[]`, `<X200> & \"Pro\"`, `"subject":[{"name":"device:FBK-X200-0004711"`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("payload %s does not contain %s", payload, want)
		}
	}
	if bytes.HasSuffix(payload, []byte("\n")) {
		t.Error("payload ends in a newline")
	}
	if sha256.Sum256(payload) != d1 {
		t.Error("digest is not the SHA-256 of the payload bytes")
	}
}

func TestSignRefuses(t *testing.T) {
	dev := deviceKey(t)
	good := signingKeys(t)["ecdsa-p256"]
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bad := validRecord()
	bad.Serial = "has space"
	tests := []struct {
		name   string
		r      *Record
		dev    crypto.PublicKey
		signer crypto.Signer
		kind   failure.Kind
		want   string
	}{
		{"nil record", nil, dev.Public(), good, failure.Invalid, "build record: missing"},
		{"invalid record", bad, dev.Public(), good, failure.Invalid, "build record: serial:"},
		{"no device key", validRecord(), nil, good, failure.Invalid, "unusable device public key"},
		{"device key not a key", validRecord(), "key", good, failure.Invalid, "unusable device public key"},
		{"no signer", validRecord(), dev.Public(), nil, failure.Invalid, "no signing key"},
		{"RSA signer", validRecord(), dev.Public(), rsaKey, failure.Invalid, "*rsa.PublicKey keys are not supported"},
		{"P-521 signer", validRecord(), dev.Public(), p521, failure.Invalid, "ECDSA curve P-521 is not supported"},
		{"signer fails", validRecord(), dev.Public(), failingSigner{good, errors.New("HSM offline")}, failure.Unclassified, "HSM offline"},
		{"signer lies", validRecord(), dev.Public(), lyingSigner{good}, failure.Unclassified, "checking the build record signature just made"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, _, err := Sign(context.Background(), tc.r, tc.dev, tc.signer)
			if err == nil {
				t.Fatalf("Sign = %+v, want an error", env)
			}
			if failure.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Sign: %v (kind %v), want %v containing %q", err, failure.KindOf(err), tc.kind, tc.want)
			}
		})
	}
}

type failingSigner struct {
	crypto.Signer
	err error
}

func (f failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, f.err }

// lyingSigner returns a well-formed signature over something else.
type lyingSigner struct{ crypto.Signer }

func (l lyingSigner) Sign(r io.Reader, digest []byte, o crypto.SignerOpts) ([]byte, error) {
	other := sha256.Sum256(append([]byte("not "), digest...))
	return l.Signer.Sign(r, other[:], o)
}

func TestVerifyRefusesTampering(t *testing.T) {
	dev := deviceKey(t)
	keys := signingKeys(t)
	for name, s := range keys {
		t.Run(name, func(t *testing.T) {
			env, _ := mustSign(t, validRecord(), dev.Public(), s)
			payload, _ := env.DecodeB64Payload()
			other := keys["ed25519"]
			if name == "ed25519" {
				other = keys["ecdsa-p256"]
			}
			sigBytes, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
			tests := []struct {
				name   string
				mutate func(e *dsse.Envelope)
				pub    crypto.PublicKey
				want   string
			}{
				{"payload byte changed", func(e *dsse.Envelope) {
					p := bytes.Replace(payload, []byte(`"pass"`), []byte(`"fail"`), 1)
					e.Payload = base64.StdEncoding.EncodeToString(p)
				}, s.Public(), "no valid signature"},
				{"payload extended", func(e *dsse.Envelope) {
					e.Payload = base64.StdEncoding.EncodeToString(append(append([]byte{}, payload...), ' '))
				}, s.Public(), "no valid signature"},
				{"signature bit flipped", func(e *dsse.Envelope) {
					b := append([]byte{}, sigBytes...)
					b[len(b)/2] ^= 0x01
					e.Signatures[0].Sig = base64.StdEncoding.EncodeToString(b)
				}, s.Public(), "no valid signature"},
				{"signature of another envelope", func(e *dsse.Envelope) {
					r := validRecord()
					r.TestResult = TestFail
					o, _ := mustSign(t, r, dev.Public(), s)
					e.Signatures = o.Signatures
				}, s.Public(), "no valid signature"},
				{"wrong key", func(e *dsse.Envelope) {}, other.Public(), "no valid signature"},
				{"wrong key, keyid removed", func(e *dsse.Envelope) { e.Signatures[0].KeyID = "" }, other.Public(), "no valid signature"},
				{"payload type changed", func(e *dsse.Envelope) { e.PayloadType = "application/json" }, s.Public(), "payloadType is \"application/json\""},
				{"keyid of another key", func(e *dsse.Envelope) { e.Signatures[0].KeyID = strings.Repeat("0", 64) }, s.Public(), "no valid signature"},
				{"no signatures", func(e *dsse.Envelope) { e.Signatures = nil }, s.Public(), "no signatures"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					e := *env
					e.Signatures = append([]dsse.Signature{}, env.Signatures...)
					tc.mutate(&e)
					v, err := Verify(&e, tc.pub)
					if err == nil {
						t.Fatalf("Verify = %+v, want an error", v)
					}
					if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), tc.want) {
						t.Errorf("Verify: %v (kind %v), want invalid containing %q", err, failure.KindOf(err), tc.want)
					}
				})
			}
		})
	}
}

func TestVerifyAcceptsKeylessAndExtraSignatures(t *testing.T) {
	dev := deviceKey(t)
	keys := signingKeys(t)
	env, _ := mustSign(t, validRecord(), dev.Public(), keys["ecdsa-p256"])
	e := *env
	// A signature by someone else first, and ours without its keyid hint.
	e.Signatures = []dsse.Signature{{KeyID: "other", Sig: base64.StdEncoding.EncodeToString([]byte("junk"))}, {Sig: env.Signatures[0].Sig}}
	if _, err := Verify(&e, keys["ecdsa-p256"].Public()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// signStatement signs an arbitrary payload the way Sign does, to test statement checks.
func signStatement(t *testing.T, s crypto.Signer, payload []byte) *dsse.Envelope {
	t.Helper()
	sv, err := newSignerVerifier(s)
	if err != nil {
		t.Fatal(err)
	}
	es, err := dsse.NewEnvelopeSigner(sv)
	if err != nil {
		t.Fatal(err)
	}
	env, err := es.SignPayload(context.Background(), PayloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestVerifyChecksStatement(t *testing.T) {
	s := signingKeys(t)["ed25519"]
	dev := deviceKey(t)
	env, _ := mustSign(t, validRecord(), dev.Public(), s)
	payload, _ := env.DecodeB64Payload()
	sub := `{"name":"device:FBK-X200-0004711","digest":{"sha256":"`
	tests := []struct {
		name string
		edit func(p string) string
		want string
	}{
		{"statement type", func(p string) string { return strings.Replace(p, "Statement/v1", "Statement/v0.1", 1) }, `statement _type is "https://in-toto.io/Statement/v0.1"`},
		{"predicate type", func(p string) string { return strings.Replace(p, "build-record/v1", "build-record/v2", 1) }, `predicateType is "https://hallmark.dev/build-record/v2"`},
		{"no subject", func(p string) string { return strings.Replace(p, `"subject":[`+sub, `"subject":[],"x":[`+sub, 1) }, "unknown field"},
		{"empty subject list", func(p string) string {
			i := strings.Index(p, `"subject":`)
			j := strings.Index(p, `,"predicateType"`)
			return p[:i] + `"subject":[]` + p[j:]
		}, "statement has 0 subjects"},
		{"two subjects", func(p string) string {
			i := strings.Index(p, sub)
			j := strings.Index(p, `],"predicateType"`)
			return p[:j] + "," + p[i:j] + p[j:]
		}, "statement has 2 subjects"},
		{"subject for another serial", func(p string) string {
			return strings.Replace(p, `"name":"device:FBK-X200-0004711"`, `"name":"device:FBK-X200-0004712"`, 1)
		}, `subject name is "device:FBK-X200-0004712", want "device:FBK-X200-0004711"`},
		{"subject digest not hex", func(p string) string { return strings.Replace(p, sub, sub+"Z", 1) }, "subject[0].digest.sha256"},
		{"subject extra field", func(p string) string { return strings.Replace(p, sub, `{"uri":"x",`+sub[1:], 1) }, `unknown field "uri"`},
		{"predicate invalid", func(p string) string { return strings.Replace(p, `"pass"`, `"maybe"`, 1) }, "build record: testResult"},
		{"predicate missing", func(p string) string {
			i := strings.Index(p, `,"predicate":`)
			return p[:i] + "}"
		}, "statement has no predicate"},
		{"predicate null", func(p string) string {
			i := strings.Index(p, `,"predicate":`)
			return p[:i] + `,"predicate":null}`
		}, "statement has no predicate"},
		{"duplicate key in predicate", func(p string) string { return strings.Replace(p, `"serial":`, `"serial":"X","serial":`, 1) }, `duplicate field "serial"`},
		{"case-folded key", func(p string) string { return strings.Replace(p, `"predicateType"`, `"PredicateType"`, 1) }, `unknown field "PredicateType"`},
		{"trailing data", func(p string) string { return p + "{}" }, "trailing data"},
		{"not JSON", func(p string) string { return "hello" }, "malformed statement"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := signStatement(t, s, []byte(tc.edit(string(payload))))
			v, err := Verify(e, s.Public())
			if err == nil {
				t.Fatalf("Verify = %+v, want an error", v)
			}
			if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify: %v (kind %v), want invalid containing %q", err, failure.KindOf(err), tc.want)
			}
		})
	}
}

func TestCheckBinding(t *testing.T) {
	dev := deviceKey(t)
	otherDev := fixedECDSA(t, elliptic.P256(), "another device")
	s := signingKeys(t)["ecdsa-p256"]
	env, digest := mustSign(t, validRecord(), dev.Public(), s)
	v, err := Verify(env, s.Public())
	if err != nil {
		t.Fatal(err)
	}
	wrongDigest := digest
	wrongDigest[0] ^= 1
	tests := []struct {
		name   string
		v      *Verified
		dev    crypto.PublicKey
		digest [32]byte
		want   string
	}{
		{"bound", v, dev.Public(), digest, ""},
		{"certificate for another device key", v, otherDev.Public(), digest, "the device key (SPKI sha256"},
		{"certificate names another record", v, dev.Public(), wrongDigest, "the certificate names build record sha256"},
		{"no certificate digest", v, dev.Public(), [32]byte{}, "the certificate names build record sha256 0000"},
		{"no verified record", nil, dev.Public(), digest, "no verified record"},
		{"no device key", v, nil, digest, "unusable device public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckBinding(tc.v, tc.dev, tc.digest)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckBinding: %v", err)
				}
				return
			}
			if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckBinding: %v, want invalid containing %q", err, tc.want)
			}
		})
	}
}

func TestParseEnvelope(t *testing.T) {
	s := signingKeys(t)["ed25519"]
	env, _ := mustSign(t, validRecord(), deviceKey(t).Public(), s)
	good, _ := json.Marshal(env)
	urlSafe := *env
	p, _ := env.DecodeB64Payload()
	urlSafe.Payload = base64.URLEncoding.EncodeToString(p)
	urlJSON, _ := json.Marshal(&urlSafe)
	tests := []struct {
		name string
		in   string
		kind failure.Kind
		want string
	}{
		{"valid", string(good), failure.Unclassified, ""},
		{"url-safe base64", string(urlJSON), failure.Unclassified, ""},
		{"unknown fields ignored", strings.Replace(string(good), `{"payloadType"`, `{"comment":"x","payloadType"`, 1), failure.Unclassified, ""},
		{"not JSON", "nope", failure.Invalid, "malformed JSON"},
		{"trailing data", string(good) + "x", failure.Invalid, "trailing data"},
		{"trailing bracket", string(good) + "]", failure.Invalid, "trailing data"},
		{"payload type", strings.Replace(string(good), PayloadType, "text/plain", 1), failure.Invalid, `payloadType is "text/plain"`},
		{"payload type missing", strings.Replace(string(good), `"payloadType"`, `"x"`, 1), failure.Invalid, `payloadType is ""`},
		{"payload not base64", strings.Replace(string(good), `"payload":"`, `"payload":"!`, 1), failure.Invalid, "payload is not base64"},
		{"payload empty", `{"payloadType":"` + PayloadType + `","payload":"","signatures":[{"sig":"AA=="}]}`, failure.Invalid, "payload is empty"},
		{"no signatures", `{"payloadType":"` + PayloadType + `","payload":"e30=","signatures":[]}`, failure.Invalid, "no signatures"},
		{"signature empty", `{"payloadType":"` + PayloadType + `","payload":"e30=","signatures":[{"keyid":"k","sig":""}]}`, failure.Invalid, "signatures[0].sig is empty"},
		{"signature not base64", `{"payloadType":"` + PayloadType + `","payload":"e30=","signatures":[{"sig":"%%"}]}`, failure.Invalid, "signatures[0].sig is not base64"},
		{"too many signatures", `{"payloadType":"` + PayloadType + `","payload":"e30=","signatures":[` + strings.Repeat(`{"sig":"AA=="},`, MaxSignatures) + `{"sig":"AA=="}]}`, failure.Invalid, "17 signatures"},
		{"too large", string(good) + strings.Repeat(" ", MaxEnvelopeSize), failure.TooLarge, "over the limit"},
		{"payload too large", `{"payloadType":"` + PayloadType + `","payload":"` + base64.StdEncoding.EncodeToString(make([]byte, MaxPayloadSize+1)) + `","signatures":[{"sig":"AA=="}]}`, failure.TooLarge, "payload of 131073 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEnvelope([]byte(tc.in))
			if tc.kind == failure.Unclassified {
				if err != nil {
					t.Fatalf("ParseEnvelope: %v", err)
				}
				if _, err := Verify(e, s.Public()); err != nil {
					t.Errorf("Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseEnvelope = %+v, want an error", e)
			}
			if failure.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseEnvelope: %v (kind %v), want %v containing %q", err, failure.KindOf(err), tc.kind, tc.want)
			}
		})
	}
}

func TestLargestRecordFits(t *testing.T) {
	r := validRecord()
	long := func(n int) string { return strings.Repeat("\u2013", n/3) } // 3 bytes each
	quoted := func(n int) string { return strings.Repeat(`"`, n) }      // doubles when encoded
	r.Manufacturer, r.Model, r.HardwareRevision = quoted(maxTextLen), quoted(maxTextLen), quoted(maxShortTextLen)
	r.Components = make([]Component, MaxComponents)
	for i := range r.Components {
		name := []byte(quoted(maxShortTextLen))
		name[0], name[1], name[2] = byte('a'+i%26), byte('a'+i/26%26), byte('a'+i/676)
		r.Components[i] = Component{Name: string(name), Version: long(maxShortTextLen), Digest: Digest{SHA256: hexA}}
		if i%2 == 0 {
			r.Components[i].Version = quoted(maxShortTextLen)
		}
	}
	s := signingKeys(t)["ecdsa-p384"]
	env, _ := mustSign(t, r, deviceKey(t).Public(), s)
	data, _ := json.Marshal(env)
	if len(data) > MaxEnvelopeSize {
		t.Fatalf("envelope of the largest record is %d bytes, over MaxEnvelopeSize", len(data))
	}
	e, err := ParseEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(e, s.Public()); err != nil {
		t.Fatal(err)
	}
}

func TestPublicKeyPEM(t *testing.T) {
	for name, s := range signingKeys(t) {
		t.Run(name, func(t *testing.T) {
			p, err := MarshalPublicKeyPEM(s.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(p, []byte("-----BEGIN PUBLIC KEY-----\n")) {
				t.Errorf("PEM = %s", p)
			}
			pub, err := ParsePublicKeyPEM(p)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(s.Public()) {
				t.Error("parsed key differs")
			}
		})
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := MarshalPublicKeyPEM(rsaKey.Public()); !failure.Is(err, failure.Invalid) {
		t.Errorf("MarshalPublicKeyPEM(RSA) = %v, want invalid", err)
	}
	rsaPEM := pemOf(t, "PUBLIC KEY", rsaKey.Public())
	good, _ := MarshalPublicKeyPEM(signingKeys(t)["ed25519"].Public())
	bad := []struct{ name, in, want string }{
		{"empty", "", "no PEM block"},
		{"certificate", strings.Replace(string(good), "PUBLIC KEY", "CERTIFICATE", 2), `PEM block is "CERTIFICATE"`},
		{"two blocks", string(good) + string(good), "data after the PEM block"},
		{"garbage DER", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a PKIX public key"},
		{"RSA", rsaPEM, "keys are not supported"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublicKeyPEM([]byte(tc.in))
			if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePublicKeyPEM: %v, want invalid containing %q", err, tc.want)
			}
		})
	}
}

// TestSelfCheckOnlyForForeignSigners: Sign skips checking the signature it just made only for
// Go's own software keys; any other signer (here a wrapper, as an HSM or TPM signer is) is
// checked, and a wrapped key that returns a wrong signature is refused (see "signer lies"
// in TestSignRefuses), while the same key unwrapped signs a record that verifies.
func TestSelfCheckOnlyForForeignSigners(t *testing.T) {
	for name, s := range signingKeys(t) {
		t.Run(name, func(t *testing.T) {
			if needsSelfCheck(s) {
				t.Errorf("%T: a Go software key is checked again", s)
			}
			if !needsSelfCheck(failingSigner{Signer: s}) || !needsSelfCheck(lyingSigner{s}) {
				t.Error("a wrapped signer is not checked")
			}
			if needsSelfCheck(reportingSigner{s, true}) || !needsSelfCheck(reportingSigner{s, false}) {
				t.Error("InProcess is not what decides for a signer that reports it")
			}
			dev := deviceKey(t)
			env, _ := mustSign(t, validRecord(), dev.Public(), s)
			if _, err := Verify(env, s.Public()); err != nil {
				t.Fatalf("the record signed without the self-check does not verify: %v", err)
			}
		})
	}
}

// reportingSigner says whether it signs in process, as internal/keys' software keys do.
type reportingSigner struct {
	crypto.Signer
	inProcess bool
}

func (r reportingSigner) InProcess() bool { return r.inProcess }
