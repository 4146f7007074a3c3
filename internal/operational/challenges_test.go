package operational

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api/proof"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestProofMessage: the encoding docs/design.md gives, byte for byte, and the values it refuses.
func TestProofMessage(t *testing.T) {
	got, err := ProofMessage(PurposeOnboard, "env_abcdefghijklmnop", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", strings.Repeat("0f", 32))
	want := "hallmark-proof-of-possession-v1\npurpose:onboard\nenvironment:env_abcdefghijklmnop\nnonce:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\ncsr-key-sha256:" + strings.Repeat("0f", 32) + "\n"
	if err != nil || string(got) != want {
		t.Fatalf("ProofMessage = %q, %v\nwant %q", got, err, want)
	}
	for _, tc := range []struct{ name, env, nonce string }{
		{"newline in a value", "env_a\npurpose:renew", "AAAA"},
		{"colon in a value", "env:a", "AAAA"},
		{"empty value", "", "AAAA"},
		{"too long", strings.Repeat("a", 129), "AAAA"},
		{"space", "env a", "AAAA"},
	} {
		if _, err := ProofMessage(PurposeRenew, tc.env, tc.nonce, "ab"); !failure.Is(err, failure.Invalid) {
			t.Errorf("%s: err = %v, want invalid", tc.name, err)
		}
	}
}

// parseProofMessage reads a proof message back into its values (for the fuzz target's check
// that the encoding is injective).
func parseProofMessage(msg string) ([]string, bool) {
	lines := strings.Split(msg, "\n")
	if len(lines) != 6 || lines[0] != proof.Version || lines[5] != "" {
		return nil, false
	}
	var out []string
	for i, name := range []string{"purpose", "environment", "nonce", "csr-key-sha256"} {
		v, ok := strings.CutPrefix(lines[i+1], name+":")
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// FuzzProofMessage: whatever the values, a message that is built reads back to exactly those
// values, so no two sets of values sign the same bytes.
func FuzzProofMessage(f *testing.F) {
	f.Add("onboard", "env_abcdefghijklmnop", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", strings.Repeat("0f", 32))
	f.Add("renew", "env_x", "AAAA", "ab")
	f.Add("onboard", "env\nnonce:AAAA", "x", "y")
	f.Add("renew", "a:b", "c", "d")
	f.Fuzz(func(t *testing.T, purpose, env, nonce, keyHash string) {
		msg, err := ProofMessage(Purpose(purpose), env, nonce, keyHash)
		if err != nil {
			return
		}
		got, ok := parseProofMessage(string(msg))
		if !ok || got[0] != purpose || got[1] != env || got[2] != nonce || got[3] != keyHash {
			t.Fatalf("ProofMessage(%q, %q, %q, %q) = %q reads back as %q", purpose, env, nonce, keyHash, msg, got)
		}
	})
}

// FuzzChallengeRequest: a challenge request from outside is accepted only whole: one purpose,
// the target that purpose names and a 32-byte key hash.
func FuzzChallengeRequest(f *testing.F) {
	f.Add([]byte(`{"purpose":"onboard","environment_id":"env_abcdefghijklmnop","csr_key_sha256":"` + strings.Repeat("ab", 32) + `"}`))
	f.Add([]byte(`{"purpose":"renew","certificate_serial":"7b3f9e0011","csr_key_sha256":"` + strings.Repeat("AB", 32) + `"}`))
	f.Add([]byte(`{"purpose":"renew","certificate_serial":"0x00","csr_key_sha256":"` + strings.Repeat("ab", 32) + `"}`))
	f.Add([]byte(`{"purpose":"onboard","environment_id":"e","certificate_serial":"1","csr_key_sha256":"ab"}`))
	f.Add([]byte(`{"purpose":"possession"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var r ChallengeRequest
		if json.Unmarshal(body, &r) != nil {
			return
		}
		in, err := parseChallengeRequest(r)
		if err != nil {
			if !failure.Is(err, failure.Invalid) {
				t.Fatalf("refusal of %q is not invalid: %v", body, err)
			}
			return
		}
		if len(in.keyHash) != 32 {
			t.Fatalf("%q: key hash of %d bytes", body, len(in.keyHash))
		}
		switch in.purpose {
		case PurposeOnboard:
			if in.envID == "" || in.serial != nil {
				t.Fatalf("%q: onboard with %+v", body, in)
			}
		case PurposeRenew:
			if in.envID != "" || in.serial == nil || in.serial.Sign() <= 0 {
				t.Fatalf("%q: renew with %+v", body, in)
			}
		default:
			t.Fatalf("%q: purpose %q accepted", body, in.purpose)
		}
	})
}

// TestKeySHA256 is the SHA-256 of the DER SubjectPublicKeyInfo, as openssl computes it with
// `openssl req -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256`.
func TestKeySHA256(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := k.PublicKey.Bytes() // the uncompressed point, not the SPKI
	if err != nil {
		t.Fatal(err)
	}
	got, err := KeySHA256(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	point := sha256.Sum256(der)
	if len(got) != 64 || got == hex.EncodeToString(point[:]) {
		t.Fatalf("KeySHA256 = %q: want the hash of the SubjectPublicKeyInfo, not of the bare point", got)
	}
}

// TestSummarize: purged challenges are counted per principal and environment.
func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	used := t0.Add(time.Second)
	c := func(p, env, purpose string, at time.Time, u *time.Time) store.Challenge {
		return store.Challenge{PrincipalID: p, PartyID: "op", EnvironmentID: env, Purpose: purpose, CreatedAt: at, UsedAt: u}
	}
	got := summarize([]store.Challenge{
		c("p2", "e1", "onboard", t0, nil), c("p1", "e1", "renew", t0.Add(time.Minute), &used), c("p1", "e1", "onboard", t0, nil), c("p1", "e2", "onboard", t0, &used),
	})
	if len(got) != 3 {
		t.Fatalf("%d summaries, want 3", len(got))
	}
	first := got[0]
	if first.PrincipalID != "p1" || first.EnvironmentID != "e1" || first.Issued != 2 || first.Used != 1 || first.Onboard != 1 || first.Renew != 1 ||
		!first.FirstIssued.Equal(t0) || !first.LastIssued.Equal(t0.Add(time.Minute)) || first.partyID != "op" {
		t.Errorf("p1/e1 = %+v", first)
	}
	if got[1].EnvironmentID != "e2" || got[2].PrincipalID != "p2" {
		t.Errorf("order: %+v %+v", got[1], got[2])
	}
}
