package certpem_test

import (
	"bytes"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// testdata/chain.pem is leaf (Ed25519, CN device-1), issuing CA and root (ECDSA P-256), made
// with openssl 3.0 req and x509.
func chain(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/chain.pem")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const keyBlock = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+ZsZ6+z3Ew3ZoXPmAxsiXfZV1UQWrEfPeq3l1mRTtK\n-----END PRIVATE KEY-----\n"

func TestParse(t *testing.T) {
	full := chain(t)
	leafOnly := full[:bytes.Index(full, []byte("-----END CERTIFICATE-----"))+len("-----END CERTIFICATE-----\n")]
	for _, tc := range []struct {
		name  string
		data  string
		o     certpem.Options
		certs int
		kind  failure.Kind // 0: no error
		msg   string       // in the error
	}{
		{name: "chain", data: string(full), certs: 3},
		{name: "one", data: string(leafOnly), certs: 1},
		{name: "text around blocks", data: "issued by hand\n" + string(full) + "\nend\n", certs: 3},
		{name: "count at the limit", data: string(full), o: certpem.Options{MaxCerts: 3}, certs: 3},
		{name: "key skipped when asked", data: keyBlock + string(full), o: certpem.Options{SkipOther: true}, certs: 3},
		{name: "over the count", data: string(full), o: certpem.Options{MaxCerts: 2, What: "factory_certificate"}, kind: failure.TooLarge, msg: "factory_certificate holds more than 2 certificates"},
		{name: "over the size", data: string(full), o: certpem.Options{MaxBytes: 100}, kind: failure.TooLarge, msg: "more than the limit of 100"},
		{name: "over the default size", data: strings.Repeat(" ", certpem.DefaultMaxBytes+1), kind: failure.TooLarge},
		{name: "key refused", data: string(full) + keyBlock, o: certpem.Options{What: "--cert x.pem"}, kind: failure.Invalid, msg: `--cert x.pem: expected CERTIFICATE PEM blocks, found "PRIVATE KEY"`},
		{name: "empty", data: "", kind: failure.Invalid, msg: "certificate PEM: no PEM certificate found"},
		{name: "only a key, skipped", data: keyBlock, o: certpem.Options{SkipOther: true}, kind: failure.Invalid, msg: "no PEM certificate found"},
		{name: "not PEM", data: "MIIB", kind: failure.Invalid},
		{name: "garbage DER", data: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})), kind: failure.Invalid, msg: "certificate 1 does not parse"},
		{name: "second bad", data: string(leafOnly) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")})), kind: failure.Invalid, msg: "certificate 2 does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs, err := certpem.Parse([]byte(tc.data), tc.o)
			if tc.kind != 0 {
				if !failure.Is(err, tc.kind) || !strings.Contains(errString(err), tc.msg) {
					t.Fatalf("err = %v, want %s containing %q", err, tc.kind, tc.msg)
				}
				if certs != nil {
					t.Fatalf("got %d certificates with the error", len(certs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tc.certs {
				t.Fatalf("got %d certificates, want %d", len(certs), tc.certs)
			}
			if certs[0].Subject.CommonName != "device-1" {
				t.Fatalf("first certificate is %q, want the leaf", certs[0].Subject.CommonName)
			}
			if tc.certs == 3 && (certs[1].Subject.CommonName != "certpem test issuing" || certs[2].Subject.CommonName != "certpem test root") {
				t.Fatalf("order: %s, %s", certs[1].Subject, certs[2].Subject)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzParse checks that Parse never panics, classifies every refusal, and returns certificates
// only with no error and within the limits.
func FuzzParse(f *testing.F) {
	full := chain(f)
	f.Add(full, 0, false)
	f.Add(full, 2, false)
	f.Add(append([]byte(keyBlock), full...), 0, true)
	f.Add(append([]byte(keyBlock), full...), 0, false)
	f.Add(full[:len(full)/2], 0, false)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 1, false)
	f.Fuzz(func(t *testing.T, data []byte, maxCerts int, skip bool) {
		certs, err := certpem.Parse(data, certpem.Options{MaxCerts: maxCerts, SkipOther: skip})
		if err != nil {
			if k := failure.KindOf(err); k != failure.Invalid && k != failure.TooLarge {
				t.Fatalf("unclassified refusal %v (kind %v)", err, k)
			}
			if certs != nil {
				t.Fatal("certificates returned with an error")
			}
			return
		}
		if len(certs) == 0 || (maxCerts > 0 && len(certs) > maxCerts) {
			t.Fatalf("%d certificates with MaxCerts %d", len(certs), maxCerts)
		}
		if len(data) > certpem.DefaultMaxBytes {
			t.Fatalf("read %d bytes, over the default limit", len(data))
		}
	})
}
