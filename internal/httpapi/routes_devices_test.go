package httpapi

import (
	"math/big"
	"strings"
	"testing"
)

func TestPathSerial(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"a1b2", "a1b2", true},
		{"A1B2", "a1b2", true},
		{"0A1B2C", "a1b2c", true},
		{"0a:1b:2c", "a1b2c", true},
		{"00:0A", "a", true},
		{strings.Repeat("f", 40), strings.Repeat("f", 40), true},
		{"00" + strings.Repeat("F", 40), strings.Repeat("f", 40), true},
		{strings.Repeat("f", 41), "", false},
		{"", "", false},
		{"0", "", false},
		{":", "", false},
		{"0x1f", "", false},
		{"-1f", "", false},
		{"1g", "", false},
		{"serial=1F", "", false},
	} {
		got, ok := pathSerial(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("pathSerial(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzPathSerial checks that every accepted serial is the API's own form of the same number.
func FuzzPathSerial(f *testing.F) {
	for _, s := range []string{"a1b2", "0A:1B:2C", "00", "serial=0A", strings.Repeat("F", 42), "ä1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := pathSerial(s)
		if !ok {
			return
		}
		n, isHex := new(big.Int).SetString(strings.ReplaceAll(s, ":", ""), 16)
		if !isHex || n.Sign() <= 0 || n.BitLen() > 160 || n.Text(16) != got {
			t.Fatalf("pathSerial(%q) = %q, want the hex of %v", s, got, n)
		}
	})
}
