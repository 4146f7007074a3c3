package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Algorithm
		ok   bool
	}{
		{"p256", "ecdsa-p256", ECDSAP256, true},
		{"p384", "ecdsa-p384", ECDSAP384, true},
		{"ed25519", "ed25519", Ed25519, true},
		{"rsa3072", "rsa-3072", RSA3072, true},
		{"case and space", "  ECDSA-P256 ", ECDSAP256, true},
		{"empty", "", "", false},
		{"rsa2048", "rsa-2048", "", false},
		{"p521", "ecdsa-p521", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAlgorithm(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("ParseAlgorithm(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if !failure.Is(err, failure.Invalid) {
				t.Fatalf("ParseAlgorithm(%q) error = %v; want kind invalid", tt.in, err)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"ca uuid", "ca-0b9d3c7e-6f1a-4c2e-9a57-1f4e1b2c3d4e", true},
		{"one char", "a", true},
		{"digit first", "0ca", true},
		{"dots underscores", "dev.tls_server-1", true},
		{"max length", strings.Repeat("a", 128), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"upper case", "CA-1", false},
		{"leading dot", ".hidden", false},
		{"leading dash", "-x", false},
		{"slash", "a/b", false},
		{"dotdot path", "../x", false},
		{"space", "a b", false},
		{"nul", "a\x00b", false},
		{"non-ascii", "caé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidID(tt.id)
			if tt.ok && err != nil {
				t.Fatalf("ValidID(%q) = %v; want nil", tt.id, err)
			}
			if !tt.ok && !failure.Is(err, failure.Invalid) {
				t.Fatalf("ValidID(%q) = %v; want kind invalid", tt.id, err)
			}
		})
	}
}

func TestSecretRedacted(t *testing.T) {
	s := Secret("hunter2-passphrase")
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "passphrase", s)
	js, err := json.Marshal(struct{ P Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  string
	}{
		{"%s", fmt.Sprintf("%s", s)},
		{"%v", fmt.Sprintf("%v", s)},
		{"%+v", fmt.Sprintf("%+v", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"%d", fmt.Sprintf("%d", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"in struct %+v", fmt.Sprintf("%+v", struct{ P Secret }{s})},
		{"String", s.String()},
		{"slog", logged.String()},
		{"json", string(js)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.got, "hunter2") || strings.Contains(tt.got, "68756e74") || strings.Contains(tt.got, "104 117") {
				t.Fatalf("secret leaked: %s", tt.got)
			}
			if !strings.Contains(tt.got, "[redacted]") {
				t.Fatalf("got %q; want it to say [redacted]", tt.got)
			}
		})
	}

	var back struct{ P Secret }
	if err := json.Unmarshal([]byte(`{"P":"plain text"}`), &back); err != nil || string(back.P) != "plain text" {
		t.Fatalf("UnmarshalText: %q, %v", back.P, err)
	}
}
