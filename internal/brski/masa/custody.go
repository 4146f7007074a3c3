package masa

import (
	"bytes"
	"context"
	"crypto/x509"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// StoreCustody reads custody from this deployment's own records: the device the factory
// certificate was issued for, and its custodian.
type StoreCustody struct{ Store store.Store }

var _ CustodyChecker = StoreCustody{}

// Holder implements CustodyChecker: idevid must be, byte for byte, the current, unrevoked
// factory certificate this deployment issued for a device (failure.Denied otherwise).
func (c StoreCustody) Holder(ctx context.Context, idevid *x509.Certificate) (Holding, error) {
	var h Holding
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
		if d.FactoryCert != rec.SerialHex {
			return failure.New(failure.Denied, "certificate %s is not device %s's current factory certificate", rec.SerialHex, d.ID)
		}
		h = Holding{DeviceID: d.ID, Serial: d.Serial, CustodianID: d.CustodianID, State: d.State}
		return nil
	})
	return h, err
}
