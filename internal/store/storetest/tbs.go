package storetest

import (
	"bytes"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

var tbsTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"IssuedCertKeepsItsTBS", testIssuedTBS},
}

// testIssuedTBS: an issued certificate keeps the to-be-signed bytes reserved, byte for byte,
// and a DER whose tbsCertificate is not the one reserved is refused (conflict), changing
// nothing.
func testIssuedTBS(t *testing.T, s store.Store) {
	seedCA(t, s)
	der := SelfSignedForTest(t)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	other, err := x509.ParseCertificate(SelfSignedForTest(t))
	if err != nil {
		t.Fatal(err)
	}
	good, bad := big.NewInt(0x7b51), big.NewInt(0x7b52)
	for _, serial := range []*big.Int{good, bad} {
		mustUpdate(t, s, func(tx store.Tx) error {
			return tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: "ca1", Profile: "factory", TBS: cert.RawTBSCertificate, NotBefore: t0, NotAfter: t0.Add(time.Hour), CreatedAt: t0})
		})
	}
	issue := func(serial *big.Int, der []byte) error {
		return s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Certificates().MarkIssued(serial, der, t0); err != nil {
				return err
			}
			_, err := tx.Audit().Append(ev("cert.issue"))
			return err
		})
	}
	if err := issue(good, der); err != nil {
		t.Fatalf("MarkIssued: %v", err)
	}
	if err := issue(bad, other.Raw); !failure.Is(err, failure.Conflict) {
		t.Fatalf("MarkIssued with a DER of other to-be-signed bytes = %v, want conflict", err)
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		c, err := tx.Certificates().GetCert(good)
		if err != nil || c.State != ca.Issued || !bytes.Equal(c.TBS, cert.RawTBSCertificate) || !bytes.Equal(c.DER, der) {
			t.Errorf("issued cert = state %s, TBS equal %v, DER equal %v, %v", c.State, bytes.Equal(c.TBS, cert.RawTBSCertificate), bytes.Equal(c.DER, der), err)
		}
		c, err = tx.Certificates().GetCert(bad)
		if err != nil || c.State != ca.Reserved || !bytes.Equal(c.TBS, cert.RawTBSCertificate) || c.DER != nil {
			t.Errorf("refused cert = state %s, TBS equal %v, DER %x, %v", c.State, bytes.Equal(c.TBS, cert.RawTBSCertificate), c.DER, err)
		}
		return nil
	})
}
