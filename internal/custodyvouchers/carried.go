package custodyvouchers

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/store"
)

// CarriedCustody checks, for the BRSKI MASA, a custody voucher that a registrar of another
// deployment carried for the device whose factory certificate is factory (docs/brski.md).
// The device must be one this deployment made and handed off by an export. The voucher must
// parse and verify offline at now against this deployment's own trust for the device's
// manufacturer (the root CA of its factory chain, its CAs, its build-record key history),
// name this very factory certificate, start with the link this deployment exported (the
// export's recorded link hash), and have its last link addressed to the public key of holder
// (the certificate that signed the registrar's request). Each refusal is failure.Denied,
// naming which of these failed; nothing is written.
func (s *Service) CarriedCustody(ctx context.Context, factory *x509.Certificate, file []byte, holder *x509.Certificate) error {
	if factory == nil || holder == nil {
		return failure.New(failure.Invalid, "carried custody: a factory certificate and the holder's certificate are needed")
	}
	if len(file) == 0 {
		return failure.New(failure.Denied, "no custody voucher presented")
	}
	v, err := custodyvoucher.Parse(file)
	if err != nil {
		return failure.Wrap(failure.Denied, err, "the custody voucher does not parse")
	}
	var (
		trust  custodyvoucher.Trust
		export store.VoucherRecord
		devID  string
	)
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		export = store.VoucherRecord{} // a read may run again
		d, err := deviceOf(tx, factory)
		if err != nil {
			return err
		}
		devID = d.ID
		if d.External() || d.State != device.HandedOff {
			return failure.New(failure.Denied, "device %s was not handed off from this deployment by a custody voucher (it is %s here)", d.ID, d.State)
		}
		vs, err := tx.CustodyVouchers().VouchersOfDevice(d.ID)
		if err != nil {
			return err
		}
		for _, r := range vs {
			if r.Direction == "export" {
				export = r
				break
			}
		}
		if export.ID == "" {
			return failure.New(failure.Conflict, "device %s is handed off, and no export of it is recorded", d.ID)
		}
		trust, err = ownTrust(tx, d)
		return err
	})
	if err != nil {
		return err
	}
	ver, err := custodyvoucher.Verify(v, trust, s.c.Now())
	if err != nil {
		return failure.Wrap(failure.Denied, err, "the custody voucher does not verify against this deployment's anchor and build-record key")
	}
	found := false
	for _, d := range ver.Devices {
		found = found || d.Factory().Equal(factory)
	}
	if !found {
		return failure.New(failure.Denied, "device not in the voucher: the custody voucher does not carry device %s (factory certificate serial %s)", devID, ca.SerialHex(factory.SerialNumber))
	}
	if ver.Hashes[0] != export.FinalLink {
		return failure.New(failure.Denied, "the custody voucher's chain does not start at this deployment's export of device %s (export %s, link %s; the voucher's first link is %s)",
			devID, export.ID, export.FinalLink, ver.Hashes[0])
	}
	want, err := custodyvoucher.KeyID(holder.PublicKey)
	if err != nil {
		return failure.Wrap(failure.Denied, err, "the registrar's key")
	}
	if ver.HolderKeyID != want {
		last := ver.Links[len(ver.Links)-1]
		return failure.New(failure.Denied, "wrong final addressee: the custody voucher's last link is addressed to key %s (%q), not to the registrar's signing key %s (%s)",
			ver.HolderKeyID, last.To, want, holder.Subject)
	}
	return nil
}

// ownTrust is this deployment's trust for device d, as a receiver registered it as a maker:
// the root of d's factory chain, the CAs below it, and the manufacturer's build-record keys.
func ownTrust(tx store.Tx, d device.Device) (custodyvoucher.Trust, error) {
	var t custodyvoucher.Trust
	if _, ok := ca.ParseSerialHex(d.FactoryCert); !ok {
		return t, failure.New(failure.Conflict, "device %s has no factory certificate", d.ID)
	}
	cert, err := store.OwnCert(tx, d.ID, d.FactoryCert, store.FactoryProfile)
	if err != nil {
		return t, err
	}
	for id := cert.CAID; id != ""; {
		c, err := tx.CAs().GetCA(id)
		if err != nil {
			return t, err
		}
		parsed, err := x509.ParseCertificate(c.CertDER)
		if err != nil {
			return t, fmt.Errorf("CA %s: %w", c.ID, err)
		}
		if c.ParentID == "" {
			t.Anchors = append(t.Anchors, parsed)
		} else {
			t.Intermediates = append(t.Intermediates, parsed)
		}
		id = c.ParentID
	}
	history, err := tx.KeyHistory().SigningKeys(d.ManufacturerID, manufacturing.BuildRecordPurpose)
	if err != nil {
		return t, fmt.Errorf("the build-record keys of manufacturer %s: %w", d.ManufacturerID, err)
	}
	for _, k := range history {
		pub, err := x509.ParsePKIXPublicKey(k.PublicKeyDER)
		if err != nil {
			return t, fmt.Errorf("build-record key %s: %w", k.ID, err)
		}
		t.BuildRecordKeys = append(t.BuildRecordKeys, crypto.PublicKey(pub))
	}
	return t, nil
}

// CarriedVoucher returns, for the BRSKI registrar, the custody voucher file by which partyID
// came to hold the device whose factory certificate is factory: the import that brought it
// here. It is nil (no error) for a device partyID holds that came otherwise, and
// failure.NotFound for a device not known here.
func (s *Service) CarriedVoucher(ctx context.Context, partyID string, factory *x509.Certificate) ([]byte, error) {
	ans, err := s.CustodyOf(ctx, CustodyQuery{Factory: factory, PartyID: partyID})
	if err != nil || !ans.Holds || ans.Source != ImportedVoucher {
		return nil, err
	}
	var rec store.VoucherRecord
	err = s.c.Store.View(ctx, func(tx store.Tx) (err error) { rec, err = tx.CustodyVouchers().GetVoucher(ans.VoucherID); return err })
	if err != nil {
		return nil, fmt.Errorf("reading custody voucher %s: %w", ans.VoucherID, err)
	}
	return rec.Content, nil
}
