package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/custodyvouchers"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// TestCustodyOf answers who holds a device, for the BRSKI MASA, at a maker's deployment and at
// the operator's deployment that imported the maker's voucher: from local records, from the
// exported voucher's addressee, and from the imported voucher.
func TestCustodyOf(t *testing.T) {
	requireTool(t, "openssl")
	a, b := startDev(t, ""), startDev(t, "")
	dir := t.TempDir()
	lot := demoLot(t, a, "lot-c")
	sold := issueFactory(t, a, dir, lot, "lot-c", "SN-C1")
	kept := issueFactory(t, a, dir, lot, "lot-c", "SN-C2")

	var cas items
	a.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	rootID, issuingID := "", ""
	for _, c := range cas.Items {
		if c.Role == "root" && rootID == "" {
			rootID = c.ID
		}
		if c.Role == "issuing" && issuingID == "" {
			issuingID = c.ID
		}
	}
	root, err := os.ReadFile(a.info.CAFiles[rootID])
	if err != nil {
		t.Fatal(err)
	}
	brk := a.must(t, 200, "", "GET", "/v1/manufacturers/acme/build-record-key", nil).Body
	opKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(opKey.Public())
	opPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	opID, _ := custodyvoucher.KeyID(opKey.Public())

	b.must(t, 201, oscar, "POST", "/v1/makers", map[string]any{"name": "acme", "anchors_pem": string(root), "build_record_keys_pem": []string{string(brk)},
		"ocsp_urls": []string{a.info.StatusURL + "/ocsp/" + issuingID}})
	b.must(t, 201, oscar, "POST", "/v1/custody/keys", map[string]any{"name": "op", "public_key_pem": opPEM})
	var exp struct{ ID, File string }
	a.must(t, 201, station, "POST", "/v1/custody/vouchers/export", map[string]any{"device_ids": []string{sold.Device.ID}, "to": "contoso", "to_key_pem": opPEM}).json(t, &exp)
	var imp struct {
		Voucher   struct{ ID string }
		DeviceIDs []string `json:"device_ids"`
	}
	b.must(t, 201, oscar, "POST", "/v1/custody/vouchers/import", []byte(exp.File)).json(t, &imp)
	// The import's event names each origin it wrote and its certificate: the log vouches for them.
	var rec reconcileResult
	b.must(t, 200, audrey, "POST", "/v1/audit/reconcile", nil).json(t, &rec)
	if len(rec.Disagreements) != 0 || rec.Origins != 1 {
		t.Errorf("reconcile after the voucher import = %+v, want its origin compared and no disagreement", rec)
	}

	cert := func(p string) *x509.Certificate {
		blk, _ := pem.Decode([]byte(p))
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	svc := func(s *devServer) *custodyvouchers.Service {
		st, err := sqlite.Open(context.Background(), s.info.Database)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return custodyvouchers.New(custodyvouchers.Config{Store: st})
	}
	atMaker, atOperator := svc(a), svc(b)
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		s       *custodyvouchers.Service
		q       custodyvouchers.CustodyQuery
		holds   bool
		src     custodyvouchers.Source
		voucher string
	}{
		{"maker: handed off to the operator's key", atMaker, custodyvouchers.CustodyQuery{Factory: cert(sold.CertificatePEM), KeyID: opID}, true, custodyvouchers.ExportedVoucher, exp.ID},
		{"maker: not to its old holder", atMaker, custodyvouchers.CustodyQuery{Factory: cert(sold.CertificatePEM), PartyID: "fabrikam"}, false, custodyvouchers.ExportedVoucher, exp.ID},
		{"maker: a device it still holds", atMaker, custodyvouchers.CustodyQuery{Factory: cert(kept.CertificatePEM), PartyID: "fabrikam"}, true, custodyvouchers.Local, ""},
		{"maker: not by another party", atMaker, custodyvouchers.CustodyQuery{Factory: cert(kept.CertificatePEM), PartyID: "contoso"}, false, custodyvouchers.Local, ""},
		{"operator: by the imported voucher", atOperator, custodyvouchers.CustodyQuery{Factory: cert(sold.CertificatePEM), PartyID: "contoso"}, true, custodyvouchers.ImportedVoucher, imp.Voucher.ID},
		{"operator: not by another party", atOperator, custodyvouchers.CustodyQuery{Factory: cert(sold.CertificatePEM), PartyID: "northwind"}, false, custodyvouchers.ImportedVoucher, imp.Voucher.ID},
	} {
		got, err := c.s.CustodyOf(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.Holds != c.holds || got.Source != c.src || got.VoucherID != c.voucher {
			t.Errorf("%s: %+v, want holds %v from %s (voucher %q)", c.name, got, c.holds, c.src, c.voucher)
		}
	}
	if _, err := atOperator.CustodyOf(ctx, custodyvouchers.CustodyQuery{Factory: cert(kept.CertificatePEM), PartyID: "contoso"}); !failure.Is(err, failure.NotFound) {
		t.Errorf("a device the operator never saw: %v, want not found", err)
	}

	// A factory certificate a repair replaced no longer names the device: the MASA's custody
	// question about it is refused under the current-factory rule, and the current one answers
	// (repairedDevice hands the device to contoso).
	old, cur := repairedDevice(t, a, dir, lot, "lot-c", "SN-C3")
	_, err = atMaker.CustodyOf(ctx, custodyvouchers.CustodyQuery{Factory: cert(old.CertificatePEM), PartyID: "contoso"})
	if !failure.Is(err, failure.Denied) || !strings.Contains(err.Error(), store.RuleCurrentFactory) {
		t.Errorf("custody by the replaced factory certificate: %v, want denied under %s", err, store.RuleCurrentFactory)
	}
	if got, err := atMaker.CustodyOf(ctx, custodyvouchers.CustodyQuery{Factory: cert(cur.CertificatePEM), PartyID: "contoso"}); err != nil || !got.Holds || got.DeviceID != cur.Device.ID {
		t.Errorf("custody by the current factory certificate: %+v, %v; want held by contoso", got, err)
	}
}
