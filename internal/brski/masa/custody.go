package masa

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// VoucherChecker checks a custody voucher a registrar carried for a device this deployment
// handed off (custodyvouchers.Service.CarriedCustody): it verifies offline against this
// deployment's own anchor and build-record key, starts with this deployment's export of the
// device, names the device, and its last link is addressed to holder's key. A refusal is
// failure.Denied naming why.
type VoucherChecker interface {
	CarriedCustody(ctx context.Context, factory *x509.Certificate, file []byte, holder *x509.Certificate) error
}

// StoreCustody reads custody from this deployment's own records: the device the factory
// certificate was issued for, and its custodian. For a device handed off by a custody voucher
// it asks Vouchers about the voucher the registrar carried (nil: such a device is refused).
type StoreCustody struct {
	Store    store.Store
	Vouchers VoucherChecker
}

var _ CustodyChecker = StoreCustody{}

// Holder implements CustodyChecker: q.IDevID must be, byte for byte, the current, unrevoked
// factory certificate this deployment issued for a device (failure.Denied otherwise). A device
// held here is held by q.PartyID when that party is its custodian; a handed-off device, when
// the carried custody voucher passes Vouchers.
func (c StoreCustody) Holder(ctx context.Context, q CustodyQuery) (Holding, error) {
	var h Holding
	idevid := q.IDevID
	err := c.Store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Certificates().GetCert(idevid.SerialNumber)
		if failure.Is(err, failure.NotFound) || err == nil && (rec.DeviceID == "" || !bytes.Equal(rec.DER, idevid.Raw)) {
			return failure.New(failure.NotFound, "this MASA did not issue the pledge's factory certificate (serial %s)", idevid.SerialNumber.Text(16))
		} else if err != nil {
			return err
		}
		if rec.State != ca.Issued {
			return failure.New(failure.Denied, "the pledge's factory certificate %s is %s", rec.SerialHex, rec.State)
		}
		d, err := tx.Devices().GetDevice(rec.DeviceID)
		if err != nil {
			return err
		}
		// A factory certificate a repair superseded gets no voucher, revoked or not.
		if err := store.CurrentFactory(d, rec.SerialHex); err != nil {
			return err
		}
		h = Holding{DeviceID: d.ID, Serial: d.Serial, CustodianID: d.CustodianID, State: d.State, Source: "local"}
		h.Holds = d.State != device.HandedOff && d.CustodianID == q.PartyID
		return nil
	})
	if err != nil || h.State != device.HandedOff {
		return h, err
	}
	h.Source = "custody-voucher"
	switch {
	case c.Vouchers == nil:
		return h, failure.New(failure.Denied, "device %s was handed off by a custody voucher, and this MASA checks no custody vouchers", h.DeviceID)
	case len(q.CustodyVoucher) == 0:
		return h, failure.New(failure.Denied, "no custody voucher presented: device %s was handed off by a custody voucher, and the registrar carries none (%s)", h.DeviceID, "hallmark voucher import at the registrar's deployment")
	}
	if err := c.Vouchers.CarriedCustody(ctx, idevid, q.CustodyVoucher, q.Registrar); err != nil {
		return h, fmt.Errorf("the custody voucher the registrar carried: %w", err)
	}
	h.Holds = true
	return h, nil
}
