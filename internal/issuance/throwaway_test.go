package issuance

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"testing"
	"time"
)

// TestThrowawayCertificate: for every CA key type, x509.CreateCertificate hands tbsCapture
// the TBS it would sign (if it stops doing so, prepare still works, through
// CreateCertificate's own signing, but this saving is gone), and throwawayCertificate
// builds from it the certificate CreateCertificate would have returned: the same TBS and
// signature algorithm, with the placeholder signature value (the throwaway key's signature
// over placeholderMessage, which verifies there, so it has a real signature's form).
func TestThrowawayCertificate(t *testing.T) {
	for _, kind := range keyTypes {
		t.Run(kind, func(t *testing.T) {
			h := newHierarchy(t, kind)
			tm, err := FactoryTemplate(factoryParams(newKey(t, "ecdsa-p256").Public()))
			if err != nil {
				t.Fatal(err)
			}
			if tm.SerialNumber, err = NewSerial(time.Now(), rand.Reader); err != nil {
				t.Fatal(err)
			}
			throwaway, placeholder, err := linter(t).throwaway.getWithSig(h.issuer.alg, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			lp := *h.issuing
			lp.PublicKey = throwaway.Public()

			want, err := x509.CreateCertificate(rand.Reader, tm, &lp, tm.PublicKey, throwaway)
			if err != nil {
				t.Fatal(err)
			}
			wantCert, err := x509.ParseCertificate(want)
			if err != nil {
				t.Fatal(err)
			}
			tc := &tbsCapture{Signer: throwaway}
			if _, err := x509.CreateCertificate(rand.Reader, tm, &lp, tm.PublicKey, tc); !errors.Is(err, errTBSCaptured) {
				t.Fatalf("CreateCertificate with tbsCapture: %v, want errTBSCaptured", err)
			}
			if !bytes.Equal(tc.tbs, wantCert.RawTBSCertificate) {
				t.Fatal("the captured TBS is not the TBS CreateCertificate signs")
			}
			der, sigAlgID, err := throwawayCertificate(tc.tbs, placeholder)
			if err != nil {
				t.Fatal(err)
			}
			got, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			var gotOuter, wantOuter certificateASN1
			if _, err := asn1.Unmarshal(der, &gotOuter); err != nil {
				t.Fatal(err)
			}
			if _, err := asn1.Unmarshal(want, &wantOuter); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.RawTBSCertificate, wantCert.RawTBSCertificate) || !bytes.Equal(gotOuter.SignatureAlgorithm.FullBytes, wantOuter.SignatureAlgorithm.FullBytes) {
				t.Fatal("the certificate differs from CreateCertificate's outside the signature value")
			}
			if !bytes.Equal(sigAlgID, wantOuter.SignatureAlgorithm.FullBytes) {
				t.Fatal("throwawayCertificate returns another signature AlgorithmIdentifier than the one it encodes")
			}
			if !bytes.Equal(got.Signature, placeholder) {
				t.Fatal("the signature value is not the placeholder")
			}
			if err := (&x509.Certificate{PublicKey: throwaway.Public()}).CheckSignature(got.SignatureAlgorithm, placeholderMessage, placeholder); err != nil {
				t.Fatalf("the placeholder is not the throwaway key's signature over placeholderMessage: %v", err)
			}
			if _, _, err := throwawayCertificate([]byte{0x30, 0x00}, placeholder); err == nil {
				t.Error("an empty TBS was accepted")
			}
		})
	}
}

// TestCertificateDER: certificateDER writes the bytes encoding/asn1 gives for certificateASN1,
// for parts whose lengths cross every length form (short, one, two and three octets).
func TestCertificateDER(t *testing.T) {
	elem := func(n int) []byte { // an OCTET STRING element with n content octets
		b := appendDERLen([]byte{0x04}, n)
		return append(b, bytes.Repeat([]byte{0xa5}, n)...)
	}
	for _, tbsLen := range []int{0, 1, 100, 127, 128, 255, 256, 1000, 65535, 65536, 70000} {
		for _, sigLen := range []int{0, 1, 64, 72, 125, 126, 127, 128, 256, 512, 70000} {
			tbs, alg, sig := elem(tbsLen), elem(10), bytes.Repeat([]byte{0x5a}, sigLen)
			want, err := asn1.Marshal(certificateASN1{
				TBS:                asn1.RawValue{FullBytes: tbs},
				SignatureAlgorithm: asn1.RawValue{FullBytes: alg},
				Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := certificateDER(tbs, alg, sig); !bytes.Equal(got, want) {
				t.Fatalf("tbs %d, signature %d octets: certificateDER differs from encoding/asn1", tbsLen, sigLen)
			}
		}
	}
}
