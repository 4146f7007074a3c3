package app

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/custodyvouchers"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// TestCarriedCustody: the maker's check of a custody voucher that an operator's registrar
// carries to the BRSKI MASA accepts the maker's own export extended to the registrar's key,
// and refuses, each naming why, no voucher, a wrong final addressee, a voucher for another
// device, a chain that does not start at the maker's export (link 0 signed again by the
// maker's own build-record key, over the same devices), and a device the maker never handed off.
func TestCarriedCustody(t *testing.T) {
	requireTool(t, "openssl")
	a := startDev(t, "")
	dir := t.TempDir()
	lot := demoLot(t, a, "lot-k")
	sold := issueFactory(t, a, dir, lot, "lot-k", "SN-K1")
	other := issueFactory(t, a, dir, lot, "lot-k", "SN-K2")
	kept := issueFactory(t, a, dir, lot, "lot-k", "SN-K3")

	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	pubPEM := func(k crypto.Signer) string {
		der, _ := x509.MarshalPKIXPublicKey(k.Public())
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	selfSigned := func(k *ecdsa.PrivateKey, cn string) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	cert := func(p string) *x509.Certificate {
		blk, _ := pem.Decode([]byte(p))
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	dist, reg, stranger := newKey(), newKey(), newKey()
	regCert, strangerCert := selfSigned(reg, "registrar"), selfSigned(stranger, "stranger")

	export := func(id string) []byte {
		var exp struct{ ID, File string }
		a.must(t, 201, station, "POST", "/v1/custody/vouchers/export", map[string]any{"device_ids": []string{id}, "to": "dist", "to_key_pem": pubPEM(dist)}).json(t, &exp)
		return []byte(exp.File)
	}
	extend := func(file []byte, signer crypto.Signer, to crypto.Signer) []byte {
		v, err := custodyvoucher.Parse(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := custodyvoucher.Extend(v, signer, custodyvoucher.Handover{From: "dist", To: "contoso", ToKey: to.Public(), Now: time.Now(), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		out, err := custodyvoucher.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	soldV := export(sold.Device.ID)
	otherV := extend(export(other.Device.ID), dist, reg)
	toReg := extend(soldV, dist, reg)
	toStranger := extend(soldV, dist, stranger)

	ctx := context.Background()
	st, err := sqlite.Open(ctx, a.info.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	// The same devices, link 0 signed again with the maker's own build-record key: it
	// verifies against the maker's trust, but it is not the export the maker recorded.
	pass, err := devPassphrase(a.dir)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := keyfile.New(filepath.Join(a.dir, "keys"), keys.Secret(pass))
	if err != nil {
		t.Fatal(err)
	}
	var keyID string
	if err := st.View(ctx, func(tx store.Tx) error {
		k, err := tx.CAs().SigningKey("acme", manufacturing.BuildRecordPurpose)
		keyID = k.KeyID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	brk, err := kp.Signer(ctx, keyID)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := custodyvoucher.Parse(soldV)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := custodyvoucher.New(parsed.Devices, brk, custodyvoucher.Handover{From: "acme", To: "contoso", ToKey: reg.Public(), Now: time.Now(), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	forgedFile, err := custodyvoucher.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}

	svc := custodyvouchers.New(custodyvouchers.Config{Store: st})
	if err := svc.CarriedCustody(ctx, cert(sold.CertificatePEM), toReg, regCert); err != nil {
		t.Fatalf("the maker's export, extended by the distributor to the registrar's key: %v", err)
	}
	for _, c := range []struct {
		name    string
		factory string
		file    []byte
		holder  *x509.Certificate
		want    string
	}{
		{"no voucher presented", sold.CertificatePEM, nil, regCert, "no custody voucher presented"},
		{"the last link addressed to another key", sold.CertificatePEM, toStranger, regCert, "wrong final addressee"},
		{"a registrar that is not the addressee", sold.CertificatePEM, toReg, strangerCert, "wrong final addressee"},
		{"the export itself, addressed to the distributor", sold.CertificatePEM, soldV, regCert, "wrong final addressee"},
		{"another device's voucher", sold.CertificatePEM, otherV, regCert, "device not in the voucher"},
		{"a chain not starting at the maker's export", sold.CertificatePEM, forgedFile, regCert, "does not start at this deployment's export"},
		{"a device the maker still holds", kept.CertificatePEM, toReg, regCert, "was not handed off"},
	} {
		err := svc.CarriedCustody(ctx, cert(c.factory), c.file, c.holder)
		if !failure.Is(err, failure.Denied) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want denied, naming %q", c.name, err, c.want)
		}
	}
}
