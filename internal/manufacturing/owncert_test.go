package manufacturing_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestSignManifestOwnFactoryCertificate: a signed manifest lists a device with the key of its
// own factory certificate only. When a device's row names another device's factory certificate
// the signature is refused as not found, naming the device, the serial and whose certificate it
// is, and no manifest is signed (no audit event).
func TestSignManifestOwnFactoryCertificate(t *testing.T) {
	w := newWorld(t)
	l := w.line(t, false)
	one, two := w.issue(t, "alice", l, "SN-1"), w.issue(t, "alice", l, "SN-2")
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(one.Device.ID)
		if err != nil {
			return err
		}
		next := d
		next.FactoryCert = two.Device.FactoryCert
		if err := tx.Devices().UpdateDevice(next, d); err != nil {
			return err
		}
		_, err = tx.Audit().Append(audit.Event{At: w.now, PartyID: "acme", PrincipalID: "test", Action: "test.device.corrupt"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	n := w.events(t)
	m, err := w.svc.SignManifest(ctx, w.actors["alice"], "acme", []string{l.lot.ID})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), one.Device.ID) || !strings.Contains(err.Error(), two.Device.FactoryCert) ||
		!strings.Contains(err.Error(), `factory certificate of device "`+two.Device.ID+`"`) {
		t.Fatalf("SignManifest = %d devices, %v; want not found naming %s, %s and its device %s", m.Devices, err, one.Device.ID, two.Device.FactoryCert, two.Device.ID)
	}
	if got := w.events(t); got != n {
		t.Errorf("the refused signature appended %d audit events", got-n)
	}
}
