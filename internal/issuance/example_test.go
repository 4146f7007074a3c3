package issuance_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/issuance"
)

// Example shows the issuance cycle: a self-signed root, then a factory certificate under it.
// Between Prepare and Sign the caller records p.Serial() and p.TBS().
func Example() {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	linter, err := issuance.NewLinter()
	if err != nil {
		panic(err)
	}

	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl, err := issuance.CATemplate(issuance.CAParams{
		Profile: issuance.ProfileRootCA, CommonName: "Example Root CA", Organization: "Example Maker",
		PublicKey: caKey.Public(), NotBefore: now, NotAfter: now.AddDate(20, 0, 0), MaxPathLen: -1,
	})
	if err != nil {
		panic(err)
	}
	p, err := issuance.PrepareSelfSigned(issuance.ProfileRootCA, caTmpl, caKey, linter, rand.Reader)
	if err != nil {
		panic(err)
	}
	caCert, err := issuance.SignSelfSigned(p, caKey)
	if err != nil {
		panic(err)
	}
	issuer, err := issuance.NewIssuer(caCert, caKey, linter)
	if err != nil {
		panic(err)
	}

	deviceKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl, err := issuance.FactoryTemplate(issuance.FactoryParams{
		DeviceSerial: "SN-0042", Organization: "Example Maker",
		HardwareType:      asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 7601, 2, 7},
		BuildRecordDigest: sha256.Sum256([]byte("signed build record")),
		PublicKey:         deviceKey.Public(), NotBefore: now, NotAfter: now.AddDate(15, 0, 0),
	})
	if err != nil {
		panic(err)
	}
	prepared, err := issuer.Prepare(issuance.ProfileFactory, tmpl, rand.Reader)
	if err != nil {
		panic(err) // a lint error: nothing was signed
	}
	// ... record prepared.Serial() and prepared.TBS() here ...
	cert, err := issuer.Sign(prepared)
	if err != nil {
		panic(err)
	}
	hwType, serial, _ := issuance.ParseHardwareModuleName(cert)
	fmt.Println(cert.Subject.SerialNumber, hwType, string(serial))
	_, err = issuer.Sign(prepared)
	fmt.Println(err)
	// Output:
	// SN-0042 1.3.6.1.4.1.32473.7601.2.7 SN-0042
	// issuance: prepared certificate already signed (or its signing was attempted)
}
