package buildrecord

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the signed samples in testdata/")

// pemOf encodes pub as a PEM block of the given type without MarshalPublicKeyPEM's checks.
func pemOf(t testing.TB, typ string, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSamples checks the signed samples in testdata/ (used by the fuzz seeds and
// docs/build-records.md): each verifies with its manufacturer key, carries record-gateway.json,
// and is bound to device.pub. With -update it signs them again. The Ed25519 sample is
// deterministic, so it must also equal a fresh signature byte for byte.
func TestSamples(t *testing.T) {
	rec, err := ParseRecord(readFile(t, "record-gateway.json"))
	if err != nil {
		t.Fatal(err)
	}
	dev := deviceKey(t)
	keys := signingKeys(t)
	for _, name := range []string{"ecdsa-p256", "ecdsa-p384", "ed25519"} {
		t.Run(name, func(t *testing.T) {
			s := keys[name]
			envFile, keyFile := "envelope-"+name+".json", "manufacturer-"+name+".pub"
			if *update {
				env, _ := mustSign(t, rec, dev.Public(), s)
				data, err := json.MarshalIndent(env, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, envFile, append(data, '\n'))
				p, _ := MarshalPublicKeyPEM(s.Public())
				writeFile(t, keyFile, p)
				d, _ := MarshalPublicKeyPEM(dev.Public())
				writeFile(t, "device.pub", d)
				payload, _ := env.DecodeB64Payload()
				writeFile(t, "statement.json", payload)
			}
			env, err := ParseEnvelope(readFile(t, envFile))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublicKeyPEM(readFile(t, keyFile))
			if err != nil {
				t.Fatal(err)
			}
			v, err := Verify(env, pub)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(v.Record, rec) {
				t.Errorf("record = %+v\nwant %+v", v.Record, rec)
			}
			devPub, err := ParsePublicKeyPEM(readFile(t, "device.pub"))
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckBinding(v, devPub, v.PayloadDigest); err != nil {
				t.Errorf("CheckBinding: %v", err)
			}
			payload, _ := env.DecodeB64Payload()
			if !bytes.Equal(payload, readFile(t, "statement.json")) {
				t.Error("payload differs from testdata/statement.json")
			}
			if name == "ed25519" {
				fresh, _, err := Sign(context.Background(), rec, devPub, s)
				if err != nil {
					t.Fatal(err)
				}
				data, _ := json.MarshalIndent(fresh, "", "  ")
				if !bytes.Equal(append(data, '\n'), readFile(t, envFile)) {
					t.Errorf("a fresh Ed25519 signature differs from %s; run go test -update if the format changed on purpose", envFile)
				}
			}
		})
	}
}

// TestOpenSSLRecipe runs testdata/verify-openssl.sh, the plain-tools recipe that
// docs/build-records.md shows, on the samples, so that the documentation stays true.
func TestOpenSSLRecipe(t *testing.T) {
	for _, tool := range []string{"sh", "jq", "openssl", "base64", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	script, err := filepath.Abs("testdata/verify-openssl.sh")
	if err != nil {
		t.Fatal(err)
	}
	abs := func(name string) string { p, _ := filepath.Abs(filepath.Join("testdata", name)); return p }
	run := func(env, key string) (string, error) {
		cmd := exec.Command("sh", script, abs(env), abs(key), abs("device.pub"))
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	digest := sha256.Sum256(readFile(t, "statement.json"))
	for _, name := range []string{"ecdsa-p256", "ecdsa-p384", "ed25519"} {
		t.Run(name, func(t *testing.T) {
			out, err := run("envelope-"+name+".json", "manufacturer-"+name+".pub")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, want := range []string{"Verified", fmt.Sprintf("payload sha256: %x", digest), "device key matches subject"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			other := "manufacturer-ed25519.pub"
			if name == "ed25519" {
				other = "manufacturer-ecdsa-p256.pub"
			}
			if out, err := run("envelope-"+name+".json", other); err == nil {
				t.Errorf("the recipe accepted a signature with the wrong key:\n%s", out)
			}
		})
	}
}

// TestPythonRecipe runs testdata/verify.py, the Python recipe of docs/build-records.md, when
// python3 with the cryptography package is installed.
func TestPythonRecipe(t *testing.T) {
	if err := exec.Command("python3", "-c", "import cryptography").Run(); err != nil {
		t.Skip("python3 with cryptography not installed")
	}
	digest := sha256.Sum256(readFile(t, "statement.json"))
	for _, name := range []string{"ecdsa-p256", "ecdsa-p384", "ed25519"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("python3", "verify.py", "envelope-"+name+".json", "manufacturer-"+name+".pub")
			cmd.Dir = "testdata"
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if want := fmt.Sprintf("payload sha256: %x", digest); !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
			cmd = exec.Command("python3", "verify.py", "envelope-"+name+".json", "manufacturer-ecdsa-p384.pub")
			if name == "ecdsa-p384" {
				cmd.Args[3] = "manufacturer-ed25519.pub"
			}
			cmd.Dir = "testdata"
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("the recipe accepted a signature with the wrong key:\n%s", out)
			}
		})
	}
}
