package custodyvouchers

import (
	"context"
	"crypto/x509"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/store"
)

// CustodyQuery asks whether a party holds a device. It is for a service acting on a
// protocol's behalf (the BRSKI MASA), not for a caller: it checks no actor.
type CustodyQuery struct {
	// Factory is the device's factory certificate (its IDevID). Required.
	Factory *x509.Certificate
	// PartyID is a party of this deployment, or "". KeyID is the hex SHA-256 of the
	// SubjectPublicKeyInfo of a key that a custody voucher may be addressed to (a party of
	// another deployment), or "". Holds is true when either holds the device.
	PartyID string
	KeyID   string
}

// Source says which record an answer rests on.
type Source string

// Sources of a CustodyAnswer.
const (
	// Local: the device is held in this deployment; HolderPartyID holds it.
	Local Source = "local"
	// ImportedVoucher: the device came into this deployment by the imported custody voucher
	// VoucherID, and HolderPartyID holds it now.
	ImportedVoucher Source = "imported-voucher"
	// ExportedVoucher: the device was handed off by the exported voucher VoucherID, addressed
	// to AddresseeKeyID; later offline extensions are not known here.
	ExportedVoucher Source = "exported-voucher"
)

// CustodyAnswer is who holds a device according to this deployment's records.
type CustodyAnswer struct {
	DeviceID string
	Serial   string
	Holds    bool // the query's party or key holds the device
	Source   Source
	// HolderPartyID is the party of this deployment that holds the device ("" when handed
	// off); AddresseeKeyID the key a handed-off device was addressed to.
	HolderPartyID  string
	AddresseeKeyID string
	VoucherID      string
}

// CustodyOf answers whether q.PartyID or q.KeyID holds the device whose factory certificate
// is q.Factory, according to this deployment's records: the device's custodian for a device
// made or held here, the import that brought it for a device that came by a custody voucher,
// and the export's addressee for a device handed off. A factory certificate this deployment
// has no device for is failure.NotFound; a device held here by a party is never held by a key.
func (s *Service) CustodyOf(ctx context.Context, q CustodyQuery) (CustodyAnswer, error) {
	if q.Factory == nil {
		return CustodyAnswer{}, failure.New(failure.Invalid, "custody query: no factory certificate")
	}
	var out CustodyAnswer
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		d, err := deviceOf(tx, q.Factory)
		if err != nil {
			return err
		}
		out = CustodyAnswer{DeviceID: d.ID, Serial: d.Serial, Source: Local}
		vs, err := tx.CustodyVouchers().VouchersOfDevice(d.ID)
		if err != nil {
			return err
		}
		if d.State == device.HandedOff {
			for _, v := range vs {
				if v.Direction == "export" {
					out.Source, out.VoucherID, out.AddresseeKeyID = ExportedVoucher, v.ID, v.AddresseeKeyID
					out.Holds = q.KeyID != "" && q.KeyID == v.AddresseeKeyID
					return nil
				}
			}
			return failure.New(failure.Conflict, "device %s is handed off, and no export of it is recorded", d.ID)
		}
		out.HolderPartyID = d.CustodianID
		out.Holds = q.PartyID != "" && q.PartyID == d.CustodianID
		for _, v := range vs {
			if v.Direction == "import" {
				out.Source, out.VoucherID = ImportedVoucher, v.ID
				break
			}
		}
		return nil
	})
	return out, err
}

// deviceOf finds the device whose current factory certificate is f: one this deployment
// issued, or the origin of an external device (made elsewhere, onboarded or imported here). A
// factory certificate this deployment issued that a repair has since replaced is refused
// (store.CurrentFactory): it no longer names the device, so its key answers for nothing.
func deviceOf(tx store.Tx, f *x509.Certificate) (device.Device, error) {
	rec, err := tx.Certificates().GetCert(f.SerialNumber)
	if err == nil && rec.Profile == string(issuance.ProfileFactory) && string(rec.DER) == string(f.Raw) && rec.DeviceID != "" {
		d, err := tx.Devices().GetDevice(rec.DeviceID)
		if err != nil {
			return device.Device{}, err
		}
		if err := store.CurrentFactory(d, ca.SerialHex(f.SerialNumber)); err != nil {
			return device.Device{}, err
		}
		return d, nil
	} else if err != nil && !failure.Is(err, failure.NotFound) {
		return device.Device{}, err
	}
	registered, err := tx.Makers().ListMakers("")
	if err != nil {
		return device.Device{}, err
	}
	for _, m := range registered {
		// An external device is found by serial, the way onboarding names it; its origin must
		// keep this very certificate (an origin holds only the device's current one).
		_, hw, _ := issuance.ParseHardwareModuleName(f)
		serial := maker.DeviceSerial(f, hw)
		o, err := tx.Makers().OriginBySerial(m.ID, serial)
		if failure.Is(err, failure.NotFound) {
			continue
		} else if err != nil {
			return device.Device{}, err
		}
		if o.Factory.Equal(f) {
			return tx.Devices().GetDevice(o.DeviceID)
		}
	}
	return device.Device{}, failure.New(failure.NotFound, "no device of this deployment has factory certificate %s (serial %s)", f.Subject, f.SerialNumber.Text(16))
}
