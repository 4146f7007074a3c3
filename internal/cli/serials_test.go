package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSerialsAsOpenSSLPrintsThem: for certificates whose serials start with a byte below 0x10
// (the one in 16 that lost its leading zero), with a high bit set, short and 20 bytes long,
// the CLI prints the serial exactly as `openssl x509 -serial` does, and takes openssl's form
// (and the API's, and colons) back as the API's form.
func TestSerialsAsOpenSSLPrintsThem(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serials := []*big.Int{big.NewInt(1), big.NewInt(0x0f), big.NewInt(0x10), big.NewInt(0x0a1b), big.NewInt(0x80), big.NewInt(0xff00)}
	long, _ := new(big.Int).SetString("0badc0ffee0000000000000000000000000001", 16) // 19 bytes, first below 0x10
	serials = append(serials, long)
	for range 8 { // random 20-byte serials as issuers make them, each with a leading byte below 0x10
		b := make([]byte, 20)
		_, _ = rand.Read(b)
		b[0] &= 0x0f
		serials = append(serials, new(big.Int).SetBytes(b))
	}
	dir := t.TempDir()
	for i, n := range serials {
		tmpl := &x509.Certificate{SerialNumber: n, Subject: pkix.Name{CommonName: "serial test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		f := filepath.Join(dir, "c.pem")
		if err := os.WriteFile(f, []byte(pemText), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "x509", "-noout", "-serial", "-in", f).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl: %v: %s", err, out)
		}
		line := strings.TrimSpace(string(out))
		want := strings.TrimPrefix(line, "serial=")
		api := n.Text(16) // the API's form
		if got := certSerial(api); got != want {
			t.Errorf("%d: certSerial(%s) = %s, openssl prints %s", i, api, got, want)
		}
		if got := serialOfPEM(pemText); got != want {
			t.Errorf("%d: serialOfPEM = %s, openssl prints %s", i, got, want)
		}
		colons := ""
		for j := 0; j < len(want); j += 2 {
			if j > 0 {
				colons += ":"
			}
			colons += want[j : j+2]
		}
		for _, in := range []string{want, line, api, strings.ToLower(want), colons} {
			if got := apiSerial(in); got != api {
				t.Errorf("%d: apiSerial(%q) = %s, want %s", i, in, got, api)
			}
		}
	}
	for _, s := range []string{"", "SN-0001", "xyz", strings.Repeat("a", 41)} {
		if certSerial(s) != s || apiSerial(s) != s {
			t.Errorf("%q is not a hex serial but was changed", s)
		}
	}
}

// FuzzSerial: whatever a person types, apiSerial and certSerial do not panic, and a serial
// that parses goes to openssl's form and back unchanged.
func FuzzSerial(f *testing.F) {
	for _, s := range []string{"0A1B", "a1b", "serial=0A1B", "0a:1b", "", "SN-1", "00", "ffffffffffffffffffffffffffffffffffffffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := apiSerial(s)
		c := certSerial(s)
		if _, ok := parseSerial(s); !ok {
			return
		}
		if len(c)%2 != 0 || strings.ToUpper(c) != c {
			t.Fatalf("certSerial(%q) = %q: odd length or lower case", s, c)
		}
		if apiSerial(c) != a {
			t.Fatalf("apiSerial(certSerial(%q)) = %q, want %q", s, apiSerial(c), a)
		}
	})
}
