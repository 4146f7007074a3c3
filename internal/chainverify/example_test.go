package chainverify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/hallmark-id/hallmark/internal/chainverify"
)

// A device presents its factory certificate and the issuing CA; Hallmark verifies it to the
// manufacturing root registered as an anchor.
func ExampleVerify() {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(serial int64, cn string, ca bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: cn},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			BasicConstraintsValid: true,
			IsCA:                  ca,
			KeyUsage:              x509.KeyUsageDigitalSignature,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if ca {
			tmpl.KeyUsage, tmpl.ExtKeyUsage = x509.KeyUsageCertSign, nil
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		c, _ := x509.ParseCertificate(der)
		return c, key
	}
	root, rootKey := mk(1, "Acme Manufacturing Root", true, nil, nil)
	issuing, issuingKey := mk(2, "Acme Issuing CA", true, root, rootKey)
	device, _ := mk(3, "ACME-0001", false, issuing, issuingKey)
	imposter, _ := mk(4, "ACME-0002", true, issuing, issuingKey) // a CA certificate

	o := chainverify.Options{
		Anchors:       []*x509.Certificate{root},
		Intermediates: []*x509.Certificate{issuing},
		Now:           now,
	}
	chain, err := chainverify.Verify(device, o)
	fmt.Println(len(chain), err)
	_, err = chainverify.Verify(imposter, o)
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// factory chain: certificate CN=ACME-0002 serial 4: a CA certificate presented as a device certificate (basicConstraints cA is true)
}
