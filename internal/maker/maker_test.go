package maker

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

func TestPolicyCheck(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		p      Policy
		pub    any
		hmn    bool
		refuse string // the rule, "" to admit
	}{
		{"nothing required", Policy{}, ed, false, ""},
		{"hardwareModuleName present", Policy{RequireHardwareModuleName: true}, ed, true, ""},
		{"hardwareModuleName missing", Policy{RequireHardwareModuleName: true}, ed, false, RuleHardwareModuleName},
		{"key type admitted", Policy{KeyTypes: []string{"ecdsa-p256", "ecdsa-p384"}}, &p384.PublicKey, false, ""},
		{"key type refused", Policy{KeyTypes: []string{"ecdsa-p256"}}, ed, false, RuleKeyType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check("acme", &x509.Certificate{PublicKey: tc.pub}, tc.hmn)
			var r *Refusal
			switch {
			case tc.refuse == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refuse != "" && (!errors.As(err, &r) || r.Rule != tc.refuse || !failure.Is(err, failure.Denied)):
				t.Errorf("err = %v, want a denial by rule %s", err, tc.refuse)
			}
		})
	}
	if err := (Policy{Revocation: "maybe"}).Validate(); !failure.Is(err, failure.Invalid) {
		t.Errorf("an unknown mode: %v", err)
	}
	if (Policy{}).Mode() != FailClosed {
		t.Error("the zero policy is not fail-closed")
	}
}

func TestDeviceSerial(t *testing.T) {
	c := &x509.Certificate{SerialNumber: big.NewInt(0xabc), Subject: pkix.Name{SerialNumber: "SN-7"}}
	for _, tc := range []struct {
		name string
		c    *x509.Certificate
		hw   []byte
		want string
	}{
		{"hwSerialNum as text", c, []byte("AS-000001"), "AS-000001"},
		{"binary hwSerialNum: the subject serialNumber", c, []byte{0, 1, 0xff}, "SN-7"},
		{"no hwSerialNum", c, nil, "SN-7"},
		{"neither: the certificate serial", &x509.Certificate{SerialNumber: big.NewInt(0xabc)}, nil, "abc"},
	} {
		if got := DeviceSerial(tc.c, tc.hw); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{"http://crl.example/a.crl": true, "https://ocsp.example": true, "ldap://dir/x": false,
		"http://user:pw@crl.example/": false, "file:///etc/passwd": false, "/relative": false, "http://crl.example/#frag": false} {
		if err := CheckURL(u); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
	}
}

func TestSourceStateGap(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	hour := time.Hour
	for _, c := range []struct {
		name  string
		s     SourceState
		now   time.Time
		gap   bool
		since time.Time
	}{
		{"crl ok and fresh", SourceState{Kind: "crl", Outcome: "ok", LastAttempt: t0, LastOK: t0, HeldUntil: t0.Add(hour)}, t0.Add(time.Minute), false, time.Time{}},
		{"crl ok, held one past nextUpdate", SourceState{Kind: "crl", Outcome: "ok", LastAttempt: t0, LastOK: t0, HeldUntil: t0.Add(hour)}, t0.Add(2 * hour), true, t0.Add(hour)},
		{"crl failing, good one still held", SourceState{Kind: "crl", Outcome: "unreachable", LastAttempt: t0.Add(hour), FailingSince: t0, HeldUntil: t0.Add(24 * hour)}, t0.Add(hour), true, t0},
		{"ocsp ok", SourceState{Kind: "ocsp", Outcome: "ok", LastAttempt: t0, LastOK: t0}, t0.Add(48 * hour), false, time.Time{}},
		{"ocsp bad signature, since unknown", SourceState{Kind: "ocsp", Outcome: "bad_signature", LastAttempt: t0}, t0, true, t0},
		{"crl never held", SourceState{Kind: "crl", Outcome: "ok", LastAttempt: t0}, t0, true, t0},
	} {
		t.Run(c.name, func(t *testing.T) {
			gap, since := c.s.Gap(c.now)
			if gap != c.gap || !since.Equal(c.since) {
				t.Errorf("Gap = %v since %v, want %v since %v", gap, since, c.gap, c.since)
			}
		})
	}
}
