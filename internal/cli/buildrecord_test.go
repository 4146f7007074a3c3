package cli

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/oid"
)

// signedRecord signs the minimal test record for a device key and returns the envelope JSON
// and the payload digest that the device's factory certificate would carry.
func signedRecord(t *testing.T, mfrKey crypto.Signer, devicePub crypto.PublicKey) ([]byte, [32]byte) {
	t.Helper()
	data, err := os.ReadFile("../buildrecord/testdata/record-minimal.json")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := buildrecord.ParseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	env, digest, err := buildrecord.Sign(context.Background(), rec, devicePub, mfrKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b, digest
}

// factoryCert makes a self-signed certificate for deviceKey with the build-record extension.
func factoryCert(t *testing.T, deviceKey *ecdsa.PrivateKey, digest []byte, serial int64) []byte {
	t.Helper()
	val, err := asn1.Marshal(digest)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{SerialNumber: "T1:000001"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: oid.BuildRecordDigest, Value: val}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, deviceKey.Public(), deviceKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestBuildRecordVerify(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mfrKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	deviceKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDevice, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubPEM, err := buildrecord.MarshalPublicKeyPEM(mfrKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, _ := buildrecord.MarshalPublicKeyPEM(otherKey.Public())
	envJSON, digest := signedRecord(t, mfrKey, deviceKey.Public())
	keyID, _ := buildrecord.KeyID(mfrKey.Public())

	key := write("mfr.pem", pubPEM)
	other := write("other.pem", otherPEM)
	rec := write("rec.json", envJSON)
	cert := write("device.pem", factoryCert(t, deviceKey, digest[:], 0x5f3a))
	wrongDevice := write("wrong-device.pem", factoryCert(t, otherDevice, digest[:], 2))
	wrongDigest := write("wrong-digest.pem", factoryCert(t, deviceKey, make([]byte, 32), 3))
	certDER, _ := pem.Decode(factoryCert(t, deviceKey, digest[:], 4))
	derCert := write("device.der", certDER.Bytes)
	var env map[string]any
	json.Unmarshal(envJSON, &env)
	env["payload"] = strings.Replace(env["payload"].(string), "A", "B", 1)
	tampered, _ := json.Marshal(env)
	tamperedRec := write("tampered.json", tampered)

	tests := []struct {
		name      string
		args      []string
		want      int
		wantInOut string
	}{
		{"record only", []string{"--key", key, "--record", rec}, ExitOK, "build record OK: serial T1:000001, manufacturer fabrikam, signed by key " + keyID},
		{"with certificate", []string{"--key", key, "--record", rec, "--cert", cert}, ExitOK, "bound to certificate 5F3A"},
		{"with DER certificate", []string{"--key", key, "--record", rec, "--cert", derCert}, ExitOK, "bound to certificate 04:"},
		{"another key", []string{"--key", other, "--record", rec}, ExitInvalid, "no valid signature"},
		{"tampered", []string{"--key", key, "--record", tamperedRec}, ExitInvalid, "build record"},
		{"another device", []string{"--key", key, "--record", rec, "--cert", wrongDevice}, ExitInvalid, "not the record's subject"},
		{"another record", []string{"--key", key, "--record", rec, "--cert", wrongDigest}, ExitInvalid, "names build record"},
		{"not a certificate", []string{"--key", key, "--record", rec, "--cert", key}, ExitInvalid, "not a CERTIFICATE"},
		{"not an envelope", []string{"--key", key, "--record", key}, ExitInvalid, "--record"},
		{"missing file", []string{"--key", key, "--record", filepath.Join(dir, "nope.json")}, ExitInvalid, "--record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := run(t, append([]string{"buildrecord", "verify"}, tt.args...)...)
			if code != tt.want || !strings.Contains(out+stderr, tt.wantInOut) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.want, out, stderr)
			}
			if code != 0 && !strings.HasPrefix(stderr, "hallmark: ") {
				t.Errorf("stderr = %q", stderr)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		code, out, _ := run(t, "buildrecord", "verify", "--key", key, "--record", rec, "--cert", cert, "-o", "json")
		var res verifyResult
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.OK || res.CertificateSerial != "5F3A" || res.KeyID != keyID {
			t.Fatalf("exit %d: %s", code, out)
		}
	})
}
