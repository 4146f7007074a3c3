package manifest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/failure"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func key(t testing.TB, name string) Key {
	t.Helper()
	k, err := ParseKey(read(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

func sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// checkSample checks a Set made from testdata/manifest.json or manifest.csv.
func checkSample(t *testing.T, s *Set) {
	t.Helper()
	if s.Len() != 4 {
		t.Fatalf("Len = %d, want 4", s.Len())
	}
	for _, c := range []struct {
		serial string
		spki   [32]byte
		rule   string
	}{
		{"AS-000001", sum("sample device key 1"), ""},
		{"AS-000003", sum("any key"), ""},        // listed by serial alone
		{"", sum("sample device key 4"), ""},     // listed by key alone
		{"XX-9", sum("sample device key 4"), ""}, // the entry names no serial
		{"AS-000002", sum("another key"), RuleKeyMismatch},
		{"AS-000009", sum("sample device key 1"), RuleSerialMismatch},
		{"AS-000009", sum("unknown key"), RuleNotListed},
		{"", sum("unknown key"), RuleNotListed},
	} {
		err := s.Check(c.serial, c.spki)
		var nl *NotListed
		switch {
		case c.rule == "" && err != nil:
			t.Errorf("Check(%q) = %v, want listed", c.serial, err)
		case c.rule != "" && (!errors.As(err, &nl) || nl.Rule != c.rule || !failure.Is(err, failure.Denied)):
			t.Errorf("Check(%q) = %v, want rule %s", c.serial, err, c.rule)
		case c.rule != "" && !strings.HasPrefix(err.Error(), c.rule+": "):
			t.Errorf("message %q does not start with the rule", err)
		}
	}
	if e, ok := s.BySerial("AS-000002"); !ok || !e.HasSPKI || e.SPKI != sum("sample device key 2") {
		t.Errorf("BySerial(AS-000002) = %+v, %v", e, ok)
	}
	if _, ok := s.BySerial(""); ok {
		t.Error(`BySerial("") found an entry`)
	}
}

// TestSamples verifies the envelopes openssl signed (testdata/make.sh): ECDSA P-256 and
// P-384, Ed25519 and RSA-PSS, each with a keyid Hallmark does not know.
func TestSamples(t *testing.T) {
	all := []string{"p256", "p384", "ed25519", "rsa"}
	for _, name := range all {
		t.Run(name, func(t *testing.T) {
			data := read(t, "envelope-"+name+".json")
			k := key(t, "maker-"+name+".pub")
			s, err := VerifyDSSE(data, []Key{k}, "Acme Sensors", Limits{})
			if err != nil {
				t.Fatal(err)
			}
			checkSample(t, s)
			if s.Format != FormatDSSE || s.Maker != "Acme Sensors" || !s.IssuedAt.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) ||
				s.KeySHA256 != k.SHA256 || s.Digest != sha256.Sum256(data) {
				t.Errorf("set metadata = %+v", s)
			}
			// Among several registered keys, the one that signed is named.
			var keys []Key
			for _, other := range all {
				keys = append(keys, key(t, "maker-"+other+".pub"))
			}
			if s, err := VerifyDSSE(data, keys, "", Limits{}); err != nil || s.KeySHA256 != k.SHA256 {
				t.Errorf("with every key registered: %v", err)
			}
			// Any other key alone refuses it.
			for _, other := range all {
				if other == name {
					continue
				}
				_, err := VerifyDSSE(data, []Key{key(t, "maker-"+other+".pub")}, "", Limits{})
				if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), "no signature verifies") {
					t.Errorf("verified with the %s key: %v", other, err)
				}
			}
			if _, err := VerifyDSSE(data, []Key{k}, "Other Maker", Limits{}); !failure.Is(err, failure.Invalid) {
				t.Errorf("verified for another maker: %v", err)
			}
		})
	}
}

// TestSampleCSV reads the CSV twin of the signed sample.
func TestSampleCSV(t *testing.T) {
	data := read(t, "manifest.csv")
	s, err := ParseCSV(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, s)
	if s.Format != FormatCSV || s.Maker != "" || s.KeySHA256 != ([32]byte{}) || s.Digest != sha256.Sum256(data) {
		t.Errorf("set metadata = %+v", s)
	}
}

// signer makes envelopes over arbitrary payloads with a fresh key.
type signer struct {
	priv crypto.Signer
	key  Key
}

func newSigner(t testing.TB, kind string) signer {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch kind {
	case "p256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(priv.Public())
	if kind == "p521" {
		k = Key{Public: priv.Public()} // refused by NewKey; used to test that
	} else if err != nil {
		t.Fatal(err)
	}
	return signer{priv, k}
}

// envelope signs payload (as PayloadType unless typ is set) and returns the envelope JSON.
func (s signer) envelope(t testing.TB, typ string, payload []byte) []byte {
	t.Helper()
	if typ == "" {
		typ = PayloadType
	}
	pae := dsse.PAE(typ, payload)
	var digest []byte
	var opts crypto.SignerOpts = crypto.Hash(0)
	switch k := s.priv.Public().(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			d := sha512.Sum384(pae)
			digest, opts = d[:], crypto.SHA384
		} else {
			d := sha256.Sum256(pae)
			digest, opts = d[:], crypto.SHA256
		}
	case ed25519.PublicKey:
		digest = pae
	case *rsa.PublicKey:
		d := sha256.Sum256(pae)
		digest, opts = d[:], crypto.SHA256 // PKCS #1 v1.5
	}
	sig, err := s.priv.Sign(rand.Reader, digest, opts)
	if err != nil {
		t.Fatal(err)
	}
	env, err := json.Marshal(dsse.Envelope{PayloadType: typ, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func doc(devices string) []byte {
	return []byte(`{"manifestType":"` + DocumentType + `","maker":"Acme","issuedAt":"2026-12-01T00:00:00Z","devices":[` + devices + `]}`)
}

func hexSum(s string) string { return fmt.Sprintf("%x", sum(s)) }

// TestVerifyDSSE covers the signed format's rules with envelopes signed here.
func TestVerifyDSSE(t *testing.T) {
	s := newSigner(t, "p256")
	good := `{"serial":"A1","spkiSha256":"` + hexSum("k1") + `"},{"serial":"A2"}`
	tests := []struct {
		name    string
		typ     string
		payload []byte
		limits  Limits
		kind    failure.Kind
		msg     string
	}{
		{"good", "", doc(good), Limits{}, 0, ""},
		{"uppercase hex", "", doc(`{"spkiSha256":"` + strings.ToUpper(hexSum("k1")) + `"}`), Limits{}, 0, ""},
		{"payload type", "application/json", doc(good), Limits{}, failure.Invalid, "payloadType"},
		{"manifest type", "", []byte(`{"manifestType":"x","maker":"Acme","issuedAt":"2026-12-01T00:00:00Z","devices":[{"serial":"A"}]}`), Limits{}, failure.Invalid, "manifestType"},
		{"unknown field", "", doc(`{"serial":"A1","colour":"red"}`), Limits{}, failure.Invalid, "unknown field"},
		{"unknown top-level field", "", []byte(`{"manifestType":"` + DocumentType + `","maker":"Acme","issuedAt":"2026-12-01T00:00:00Z","devices":[{"serial":"A"}],"serial":"B"}`), Limits{}, failure.Invalid, "malformed"},
		{"duplicate key", "", doc(`{"serial":"A1","serial":"A2"}`), Limits{}, failure.Invalid, "duplicate field"},
		{"case-folded key", "", doc(`{"Serial":"A1"}`), Limits{}, failure.Invalid, "unknown field"},
		{"trailing data", "", append(doc(good), []byte(` {}`)...), Limits{}, failure.Invalid, "trailing"},
		{"no devices", "", doc(``), Limits{}, failure.Invalid, "lists no devices"},
		{"empty entry", "", doc(`{}`), Limits{}, failure.Invalid, "devices[0]: neither"},
		{"duplicate serial", "", doc(`{"serial":"A1"},{"serial":"A2"},{"serial":"A1"}`), Limits{}, failure.Invalid, `devices[2]: serial "A1" is listed again (first at devices[0])`},
		{"duplicate key digest", "", doc(`{"spkiSha256":"` + hexSum("k") + `"},{"serial":"B","spkiSha256":"` + strings.ToUpper(hexSum("k")) + `"}`), Limits{}, failure.Invalid, "devices[1]: spki_sha256"},
		{"short digest", "", doc(`{"spkiSha256":"abcd"}`), Limits{}, failure.Invalid, "4 characters"},
		{"not hex", "", doc(`{"spkiSha256":"` + strings.Repeat("zz", 32) + `"}`), Limits{}, failure.Invalid, "not hex"},
		{"control character", "", doc(`{"serial":"A\u0007"}`), Limits{}, failure.Invalid, "control character"},
		{"space at the end", "", doc(`{"serial":"A "}`), Limits{}, failure.Invalid, "space"},
		{"long serial", "", doc(`{"serial":"` + strings.Repeat("x", MaxSerialLen+1) + `"}`), Limits{}, failure.Invalid, "129 bytes"},
		{"no maker", "", []byte(`{"manifestType":"` + DocumentType + `","maker":"","issuedAt":"2026-12-01T00:00:00Z","devices":[{"serial":"A"}]}`), Limits{}, failure.Invalid, "maker"},
		{"no issuedAt", "", []byte(`{"manifestType":"` + DocumentType + `","maker":"Acme","devices":[{"serial":"A"}]}`), Limits{}, failure.Invalid, "issuedAt"},
		{"too many entries", "", doc(good), Limits{MaxEntries: 1}, failure.TooLarge, "at most 1"},
		{"too large", "", doc(good), Limits{MaxBytes: 100}, failure.TooLarge, "over the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := VerifyDSSE(s.envelope(t, tc.typ, tc.payload), []Key{s.key}, "", tc.limits)
			if tc.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if set.Len() == 0 {
					t.Fatal("empty set")
				}
				return
			}
			if failure.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v (kind %v), want kind %v containing %q", err, failure.KindOf(err), tc.kind, tc.msg)
			}
		})
	}
}

// TestVerifyDSSEEnvelope covers the envelope and signature rules.
func TestVerifyDSSEEnvelope(t *testing.T) {
	s := newSigner(t, "ed25519")
	payload := doc(`{"serial":"A1"}`)
	good := s.envelope(t, "", payload)
	var env dsse.Envelope
	if err := json.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(e *dsse.Envelope)) []byte {
		e := env
		e.Signatures = append([]dsse.Signature(nil), env.Signatures...)
		f(&e)
		b, _ := json.Marshal(e)
		return b
	}
	other := doc(`{"serial":"A2"}`)
	tests := []struct {
		name string
		data []byte
		keys []Key
		msg  string
	}{
		{"no keys", good, nil, "no key is registered"},
		{"not JSON", []byte("{"), []Key{s.key}, "malformed JSON"},
		{"trailing", append(append([]byte{}, good...), '1'), []Key{s.key}, "trailing data"},
		{"payload swapped", mutate(func(e *dsse.Envelope) { e.Payload = base64.StdEncoding.EncodeToString(other) }), []Key{s.key}, "no signature verifies"},
		{"type swapped", mutate(func(e *dsse.Envelope) { e.PayloadType = "application/vnd.in-toto+json" }), []Key{s.key}, "payloadType"},
		{"no signatures", mutate(func(e *dsse.Envelope) { e.Signatures = nil }), []Key{s.key}, "no signatures"},
		{"too many signatures", mutate(func(e *dsse.Envelope) {
			for range MaxSignatures {
				e.Signatures = append(e.Signatures, e.Signatures[0])
			}
		}), []Key{s.key}, "17 signatures"},
		{"sig not base64", mutate(func(e *dsse.Envelope) { e.Signatures[0].Sig = "!!" }), []Key{s.key}, "not base64"},
		{"payload not base64", mutate(func(e *dsse.Envelope) { e.Payload = "!!" }), []Key{s.key}, "not base64"},
		{"other key", good, []Key{newSigner(t, "ed25519").key}, "no signature verifies"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyDSSE(tc.data, tc.keys, "", Limits{})
			if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want Invalid containing %q", err, tc.msg)
			}
		})
	}
	// A bad signature next to a good one does not spoil it; URL-safe base64 is accepted.
	both := mutate(func(e *dsse.Envelope) {
		bad := dsse.Signature{KeyID: "whatever", Sig: base64.URLEncoding.EncodeToString([]byte("not a signature"))}
		e.Signatures = append([]dsse.Signature{bad}, e.Signatures...)
	})
	if _, err := VerifyDSSE(both, []Key{s.key}, "", Limits{}); err != nil {
		t.Fatalf("a good signature after a bad one: %v", err)
	}
}

// TestKeys covers every accepted key type signing, and the refused ones.
func TestKeys(t *testing.T) {
	for _, kind := range []string{"p256", "p384", "ed25519", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			s := newSigner(t, kind)
			if _, err := VerifyDSSE(s.envelope(t, "", doc(`{"serial":"A"}`)), []Key{s.key}, "", Limits{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := NewKey(newSigner(t, "p521").priv.Public()); !failure.Is(err, failure.Invalid) {
		t.Errorf("P-521 accepted: %v", err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewKey(&small.PublicKey); !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), "1024 bits") {
		t.Errorf("RSA-1024 accepted: %v", err)
	}
	for name, in := range map[string]string{
		"empty":       "",
		"certificate": "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
		"garbage":     "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
		"trailing":    string(read(t, "maker-p256.pub")) + "x",
	} {
		if _, err := ParseKey([]byte(in)); !failure.Is(err, failure.Invalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestParseCSV covers the unsigned format's rules.
func TestParseCSV(t *testing.T) {
	k1, k2 := hexSum("k1"), hexSum("k2")
	tests := []struct {
		name   string
		in     string
		limits Limits
		n      int
		kind   failure.Kind
		msg    string
	}{
		{"serials only", "serial\nA1\nA2\n", Limits{}, 2, 0, ""},
		{"keys only, BOM, CRLF", "\xef\xbb\xbfspki_sha256\r\n" + k1 + "\r\n" + k2 + "\r\n", Limits{}, 2, 0, ""},
		{"columns swapped, blank line", "spki_sha256,serial\n" + k1 + ",A1\n\n," + "A2\n", Limits{}, 2, 0, ""},
		{"quoted cell", "serial\n\"A,1\"\n", Limits{}, 1, 0, ""},
		{"empty", "", Limits{}, 0, failure.Invalid, "empty"},
		{"header only", "serial\n", Limits{}, 0, failure.Invalid, "lists no devices"},
		{"no header", "A1\nA2\n", Limits{}, 0, failure.Invalid, `unknown column "A1"`},
		{"case of header", "Serial\nA1\n", Limits{}, 0, failure.Invalid, "unknown column"},
		{"duplicate column", "serial,serial\nA,B\n", Limits{}, 0, failure.Invalid, "appears twice"},
		{"extra column", "serial,model\nA,m\n", Limits{}, 0, failure.Invalid, `unknown column "model"`},
		{"ragged row", "serial,spki_sha256\nA1\n", Limits{}, 0, failure.Invalid, "wrong number of fields"},
		{"bad quote", "serial\n\"A1\n", Limits{}, 0, failure.Invalid, "malformed"},
		{"empty row", "serial,spki_sha256\n,\n", Limits{}, 0, failure.Invalid, "line 2: neither"},
		{"duplicate serial", "serial\nA1\nA2\nA1\n", Limits{}, 0, failure.Invalid, `line 4: serial "A1" is listed again (first at line 2)`},
		{"duplicate key", "spki_sha256\n" + k1 + "\n" + k1 + "\n", Limits{}, 0, failure.Invalid, "line 3: spki_sha256"},
		{"bad key", "spki_sha256\nxyz\n", Limits{}, 0, failure.Invalid, "line 2: spki_sha256: 3 characters"},
		{"too many", "serial\nA\nB\nC\n", Limits{MaxEntries: 2}, 0, failure.TooLarge, "more than 2"},
		{"too large", "serial\nA\nB\nC\n", Limits{MaxBytes: 8}, 0, failure.TooLarge, "over the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseCSV([]byte(tc.in), tc.limits)
			if tc.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if s.Len() != tc.n {
					t.Fatalf("Len = %d, want %d", s.Len(), tc.n)
				}
				return
			}
			if failure.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v (kind %v), want kind %v containing %q", err, failure.KindOf(err), tc.kind, tc.msg)
			}
		})
	}
}

// TestLarge reads a manifest of 100,000 devices in both formats; the lookups find each.
func TestLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 100_000
	var js, cs strings.Builder
	cs.WriteString("serial,spki_sha256\n")
	for i := range n {
		serial, h := fmt.Sprintf("AS-%07d", i), hexSum(fmt.Sprint(i))
		if i > 0 {
			js.WriteByte(',')
		}
		fmt.Fprintf(&js, `{"serial":%q,"spkiSha256":%q}`, serial, h)
		fmt.Fprintf(&cs, "%s,%s\n", serial, h)
	}
	s := newSigner(t, "p256")
	signed, err := VerifyDSSE(s.envelope(t, "", doc(js.String())), []Key{s.key}, "Acme", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ParseCSV([]byte(cs.String()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []*Set{signed, plain} {
		if set.Len() != n {
			t.Fatalf("Len = %d", set.Len())
		}
		for _, i := range []int{0, n / 2, n - 1} {
			if err := set.Check(fmt.Sprintf("AS-%07d", i), sum(fmt.Sprint(i))); err != nil {
				t.Errorf("device %d: %v", i, err)
			}
		}
	}
}
