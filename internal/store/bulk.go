package store

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
)

// Bulk holds set-based writes for large runs (a manufacturing revocation of a whole lot):
// one statement per kind of change for many rows, instead of one per row. Every write obeys
// the same rules as its single-row counterpart and, like them, needs the transaction's audit
// event.
type Bulk interface {
	// DeviceTargets returns the devices with these IDs, each with the state and end of its
	// current operational certificate (if it has one), in no particular order. A device that
	// does not exist is missing from the result; one whose operational certificate does not
	// exist, or is not an operational certificate of that device, is ErrNotFound.
	DeviceTargets(deviceIDs []string) ([]DeviceTarget, error)
	// RevokeMany is Revoke for many serials (hex) with one reason; ErrConflict unless every
	// one of them could be revoked (the caller then fails its transaction).
	RevokeMany(serials []string, reason int, at time.Time) error
	// HoldMany puts issued, unexpired (at before not_after) certificates on certificateHold;
	// ErrConflict unless every one of them could be held (the caller then fails its
	// transaction).
	HoldMany(serials []string, at time.Time) error
	// AddItems is AddItem for many items; recording the same (run, serial) twice is a no-op.
	AddItems(items []CascadeItem) error
	// SetDeviceStates moves each device from its expected state to its new one and sets its
	// updated_at; ErrConflict when any device is not in the expected state (the caller then
	// fails its transaction).
	SetDeviceStates(changes []DeviceStateChange, at time.Time) error
}

// DeviceTarget is a device with its current operational certificate, as a revocation needs it.
type DeviceTarget struct {
	Device device.Device
	// OperationalState and OperationalNotAfter describe Device.OperationalCert; zero when the
	// device has none.
	OperationalState    ca.CertState
	OperationalNotAfter time.Time
}

// DeviceStateChange is one device's move in SetDeviceStates.
type DeviceStateChange struct {
	DeviceID string
	From, To device.State
}
