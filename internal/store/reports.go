package store

import (
	"encoding/json"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
)

// Reports holds the set-based reads of the security reports (internal/reports): each method
// is one or a few statements over the whole fleet, aggregated or limited in the database, so
// that a report costs a few queries whatever the number of devices.
//
// Every method takes a ReportScope and returns only devices in it: all devices for an auditor,
// otherwise the devices the party made (manufacturer) or holds (custodian), exactly those
// /v1/devices shows it.
type Reports interface {
	// Inventory returns devices with IDs greater than after, ordered by ID, at most limit
	// (1 to 1000), each with its factory and current operational certificate.
	Inventory(sc ReportScope, after string, limit int) ([]InventoryItem, error)
	// Summary counts the devices in scope by state and the certificate facts the standards
	// checks need, as of now.
	Summary(sc ReportScope, now time.Time) (ReportSummary, error)
	// DeviceStates counts the devices in scope by state: Summary's first statement alone, for
	// the summary report, which shows the counts and none of the certificate facts.
	DeviceStates(sc ReportScope) (map[device.State]int, error)
	// Rotation counts, per environment, the active devices and those whose current
	// operational certificate was issued after now minus the environment's max_age.
	Rotation(sc ReportScope, now time.Time) ([]RotationCount, error)
	// Overdue lists the active devices that are not compliant in Rotation (no current
	// operational certificate, or one issued at or before now − max_age), oldest issuance
	// first (devices without a certificate first), at most limit.
	Overdue(sc ReportScope, now time.Time, limit int) ([]OverdueDevice, error)
	// RotationTrend computes Rotation at each of the given instants from certificate history:
	// at instant t a device counts when its operational certificate current at t (the newest
	// issued at or before t) was not revoked at t, and it is compliant when that certificate
	// was issued after t − max_age of its environment. Results are ordered by instant and
	// environment; instants and environments with no device are missing. At most 1000 instants.
	RotationTrend(sc ReportScope, at []time.Time) ([]TrendCount, error)
	// RotationTrendByHolder is RotationTrend of the whole fleet with each count split further
	// by the device's maker, custodian and current environment (TrendCount.Holder): what a
	// caller needs to sum any scope's trend from one read (a snapshot round's parties).
	// Ordered by instant and environment.
	RotationTrendByHolder(at []time.Time) ([]TrendCount, error)
	// ExpiringCounts counts, per environment, the current issued operational certificates
	// that end before the given time.
	ExpiringCounts(sc ReportScope, before time.Time) ([]ExpiringCount, error)
	// Expiring lists those certificates, soonest first, at most limit.
	Expiring(sc ReportScope, before time.Time, limit int) ([]ExpiringCert, error)
	// Admissions returns, for devices with IDs greater than after (ordered by ID, at most
	// limit, 1 to 1000), what the device was admitted on: the evidence of its current
	// operational certificate (of its newest issuance when it has no current one), the
	// operational certificate before that one (the one renewed, or the previous issuance), its
	// factory certificate, its newest build record and its model and lot names. Devices
	// without evidence are skipped.
	Admissions(sc ReportScope, after string, limit int) ([]Admission, error)
	// NextTimeChange returns the earliest instant after after (to the microsecond) at which an
	// answer of Summary, Rotation, Overdue, ExpiringCounts or Expiring (before = now + one of
	// windows) may differ, for any scope, from its answer at after with the passing of time
	// alone, no row changing: every answer at an instant in [after, next) is the one at after.
	// The instants are an operational certificate's not_after (where not_after > now
	// turns), its not_after less a window plus 1µs (where not_after < now + window turns), and
	// the issue time of an active device's current operational certificate plus its
	// environment's max_age (where compliance turns). ok is false when no such instant lies
	// ahead. It reads the whole fleet, so its callers ask it once per unchanged fleet
	// (internal/reports, timememo.go).
	NextTimeChange(after time.Time, windows []time.Duration) (next time.Time, ok bool, err error)
}

// ReportScope is what a party may see in reports: everything (All) or the devices PartyID
// made or holds (as DeviceFilter.VisibleTo).
type ReportScope struct {
	All     bool
	PartyID string
	// Operational narrows a party's scope to the devices it holds in environments it operates: the
	// operational records (environments, operational certificates, reported facts) are their
	// operator's to see, not the maker's (docs/governance.md, Visibility). Ignored with All.
	Operational bool
}

// InventoryItem is one device with its two identity stages.
type InventoryItem struct {
	Device      device.Device
	Factory     *CertInfo // nil when the device has no factory certificate record
	Operational *CertInfo // nil when the device has no current operational certificate
}

// CertInfo is the part of a certificate record reports show.
type CertInfo struct {
	Serial    string
	State     ca.CertState
	NotAfter  time.Time
	IssuedAt  *time.Time
	RevokedAt *time.Time
	Reason    *int
}

// ReportSummary are fleet counts as of one instant.
type ReportSummary struct {
	Devices int
	ByState map[device.State]int
	// Offboarded counts released, quarantined and factory-revoked devices; OffboardedValid
	// those of them still holding an issued, unexpired operational certificate, and
	// OldestOffboardedValid the one among them that changed state first ("" if none).
	Offboarded, OffboardedValid int
	OldestOffboardedValid       string
	// HandedOff counts devices exported in a custody voucher to another deployment
	// (device.HandedOff), a bucket of their own beside Offboarded; HandedOffValid and
	// OldestHandedOffValid are as for Offboarded.
	HandedOff, HandedOffValid int
	OldestHandedOffValid      string
	// KeyCompromise counts certificates of these devices revoked for keyCompromise (1).
	KeyCompromise int
	// Issuances counts recorded operational issuances (evidence).
	Issuances int
	// Reused counts devices holding more than one issued, unexpired operational certificate.
	Reused int
}

// RotationCount is rotation compliance of one environment.
type RotationCount struct {
	EnvironmentID string
	Active        int
	Compliant     int
}

// OverdueDevice is an active device whose operational identity is older than max_age.
type OverdueDevice struct {
	DeviceID      string
	EnvironmentID string
	Serial        string     // "" when the device has no current operational certificate
	IssuedAt      *time.Time // nil when unknown
	MaxAge        time.Duration
}

// TrendCount is rotation compliance of one environment at one instant.
type TrendCount struct {
	At            time.Time
	EnvironmentID string
	Active        int
	Compliant     int
	Holder        *TrendHolder // RotationTrendByHolder's split; nil from RotationTrend
}

// TrendHolder is who holds the devices of a RotationTrendByHolder count: the fields of the
// devices a report scope is decided on (the environment is the device's current one, which a
// scope follows, not the issuance's, which the count is of).
type TrendHolder struct {
	ManufacturerID, CustodianID, EnvironmentID string
}

// ExpiringCount is the number of expiring certificates of one environment.
type ExpiringCount struct {
	EnvironmentID string
	Count         int
}

// ExpiringCert is one current operational certificate ending soon.
type ExpiringCert struct {
	DeviceID      string
	DeviceState   device.State
	EnvironmentID string
	Serial        string
	NotAfter      time.Time
}

// Admission is what an active device's current operational certificate was issued on.
type Admission struct {
	Device             device.Device
	ModelName, LotName string
	// Evidence of the current operational certificate.
	Kind          string // onboard or renew
	PolicyKind    string
	PolicyVersion int
	Facts         json.RawMessage
	AdmittedAt    time.Time
	Serial        string
	// Previous is the operational certificate the device held before this one (for a
	// renewal, the one renewed), nil if none; Renewals counts the renewals before this one.
	Previous *CertInfo
	Renewals int
	// Factory is the factory certificate (DER and state); nil when missing.
	FactoryDER   []byte
	FactoryState ca.CertState
	// BuildRecord is the newest signed build record envelope; nil when the device has none.
	BuildRecord []byte
}
