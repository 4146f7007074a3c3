package store

import (
	"fmt"

	"github.com/hallmark-id/hallmark/internal/ca"
)

// Profiles of the certificates a device row names (issuance.ProfileFactory and
// issuance.ProfileOperational; the store does not import issuance).
const (
	FactoryProfile     = "factory"
	OperationalProfile = "operational"
)

// OwnCert reads the certificate that device deviceID's row names (serial, hex) as its
// certificate of profile (FactoryProfile or OperationalProfile), for a caller about to act on
// it (revoke, hold, release, renew, export). Only a certificate of that device and that profile
// is returned. A serial the store does not hold, or a certificate of another device or of
// another profile, is ErrNotFound naming the device, the serial, and whose and which
// certificate the store holds: a row naming a certificate that is not its own is an
// inconsistency, never acted on. A serial that is not hexadecimal is an error as well.
func OwnCert(tx Tx, deviceID, serial, profile string) (ca.Cert, error) {
	n, ok := ca.ParseSerialHex(serial)
	if !ok {
		return ca.Cert{}, fmt.Errorf("%s certificate of device %s: serial %q is not a certificate serial", profile, deviceID, serial)
	}
	c, err := tx.Certificates().GetCert(n)
	if err != nil {
		return ca.Cert{}, fmt.Errorf("%s certificate %s of device %s: %w", profile, serial, deviceID, err)
	}
	if c.DeviceID != deviceID || c.Profile != profile {
		return ca.Cert{}, fmt.Errorf("%s certificate %s of device %s: the store holds it as a %s certificate of device %q, not this device's %s certificate: %w",
			profile, serial, deviceID, c.Profile, c.DeviceID, profile, ErrNotFound)
	}
	return c, nil
}
