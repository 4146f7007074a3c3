package store

import (
	"fmt"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
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

// RuleCurrentFactory names the rule that a device identifies by its current factory
// certificate only (the one its row names, device.Device.FactoryCert): a factory certificate
// of the device that another one superseded (a repair's new identity) onboards, enrolls and
// gets a voucher nowhere, whether or not it is revoked and expired.
const RuleCurrentFactory = "factory:not-current"

// NotCurrentFactoryError refuses a factory certificate of a device that is not the device's
// current one. Its message names both serials; it names RuleCurrentFactory, so that the
// refusal is recorded and audited (refusals.Classify) as every refusal of a rule is.
type NotCurrentFactoryError struct {
	// Kind is failure.Denied for a device of this deployment (CurrentFactory), and
	// failure.Conflict for a maker's device whose origin holds another certificate.
	Kind failure.Kind
	Msg  string
}

func (e *NotCurrentFactoryError) Error() string { return e.Msg }

// FailureKind classifies the refusal.
func (e *NotCurrentFactoryError) FailureKind() failure.Kind { return e.Kind }

// FailureRule names the rule for the refusals report.
func (e *NotCurrentFactoryError) FailureRule() string { return RuleCurrentFactory }

// CurrentFactory refuses (*NotCurrentFactoryError, failure.Denied) the factory certificate of
// serial (hex) of device d unless d's row names it as d's current factory certificate
// (d.FactoryCert). The serials compare as numbers, so the case of the hex does not matter; a
// row that names no factory certificate has no current one, and refuses every serial.
func CurrentFactory(d device.Device, serial string) error {
	cur, okCur := ca.ParseSerialHex(d.FactoryCert)
	got, okGot := ca.ParseSerialHex(serial)
	if okCur && okGot && cur.Cmp(got) == 0 {
		return nil
	}
	if d.FactoryCert == "" {
		return &NotCurrentFactoryError{Kind: failure.Denied, Msg: fmt.Sprintf(
			"factory certificate %s of device %s is not its current one: the device names no current factory certificate (rule %s)", serial, d.ID, RuleCurrentFactory)}
	}
	return &NotCurrentFactoryError{Kind: failure.Denied, Msg: fmt.Sprintf(
		"factory certificate %s of device %s is not its current one: the device's current factory certificate is %s, and only that one is accepted (rule %s)",
		serial, d.ID, d.FactoryCert, RuleCurrentFactory)}
}
