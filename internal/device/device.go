// Package device defines devices, the models and lots they are built in, the lifecycle state
// machine of PRODUCT.md, and custody transfers. It is pure: no I/O, no clock.
//
// Invariants: a device belongs to one manufacturer, model and lot for its whole life; it is
// held by exactly one party (its custodian) at a time; a state changes only along Allowed.
package device

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Model is a product design of one manufacturer.
type Model struct {
	ID             string    `json:"id"`
	ManufacturerID string    `json:"manufacturer_id"`
	Name           string    `json:"name"`
	HardwareType   string    `json:"hardware_type"` // dotted OID used as hwType in hardwareModuleName
	CreatedAt      time.Time `json:"created_at"`
}

// Lot is a production batch of one model on one line.
type Lot struct {
	ID             string    `json:"id"`
	ManufacturerID string    `json:"manufacturer_id"`
	ModelID        string    `json:"model_id"`
	Name           string    `json:"name"`
	Line           string    `json:"line"`
	IssuingCAID    string    `json:"issuing_ca_id"` // the manufacturing issuing CA that signs its factory certificates
	CreatedAt      time.Time `json:"created_at"`
}

// State is where a device is in its lifecycle.
type State string

// States.
const (
	Registered     State = "registered"      // has a factory identity; not yet onboarded anywhere
	Active         State = "active"          // holds a current operational identity
	Quarantined    State = "quarantined"     // runtime revocation; factory identity intact
	Suspended      State = "suspended"       // cascade of a manufacturing revocation
	Released       State = "released"        // decommissioned from an environment
	FactoryRevoked State = "factory-revoked" // manufacturing identity revoked; never onboards again
	// HandedOff: its holder exported it in a custody voucher to a party of another
	// deployment (internal/custodyvouchers); custody has left this deployment.
	HandedOff State = "handed-off"
)

// Allowed lists the transitions of the lifecycle.
var Allowed = map[State][]State{
	Registered:     {Active, FactoryRevoked, HandedOff},
	Active:         {Active, Quarantined, Suspended, Released, FactoryRevoked},
	Quarantined:    {Active, Released, FactoryRevoked},
	Suspended:      {Active, Quarantined, Released, FactoryRevoked},
	Released:       {Active, FactoryRevoked, HandedOff},
	FactoryRevoked: {},
	HandedOff:      {FactoryRevoked},
}

// Transition checks that from → to is allowed.
func Transition(from, to State) error {
	for _, s := range Allowed[from] {
		if s == to {
			return nil
		}
	}
	return failure.New(failure.Conflict, "device state %s cannot become %s", from, to)
}

// Device is one physical device.
type Device struct {
	ID              string    `json:"id"`
	ManufacturerID  string    `json:"manufacturer_id"`
	ModelID         string    `json:"model_id"`
	LotID           string    `json:"lot_id"`
	Serial          string    `json:"serial"`
	State           State     `json:"state"`
	CustodianID     string    `json:"custodian_id"`
	FactoryCert     string    `json:"factory_certificate"` // serial (hex) of the current factory certificate
	EnvironmentID   string    `json:"environment_id,omitempty"`
	OperationalCert string    `json:"operational_certificate,omitempty"` // serial (hex) of the current operational certificate
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// TransferState is where a custody transfer is.
type TransferState string

// Transfer states.
const (
	Offered   TransferState = "offered"
	Accepted  TransferState = "accepted"
	Refused   TransferState = "refused"
	Cancelled TransferState = "cancelled"
)

// Transfer is an offer of custody of one or more devices from one party to another.
type Transfer struct {
	ID          string        `json:"id"`
	FromID      string        `json:"from_party_id"`
	ToID        string        `json:"to_party_id"`
	State       TransferState `json:"state"`
	DeviceCount int           `json:"device_count"` // fixed at the offer; the devices are listed by page
	Note        string        `json:"note,omitempty"`
	OfferedBy   string        `json:"offered_by"`
	OfferedAt   time.Time     `json:"offered_at"`
	DecidedBy   string        `json:"decided_by,omitempty"`
	DecidedAt   *time.Time    `json:"decided_at,omitempty"`
}

// CustodyLink is one accepted hand-over in a device's custody chain.
type CustodyLink struct {
	TransferID string    `json:"transfer_id"`
	FromID     string    `json:"from_party_id"`
	ToID       string    `json:"to_party_id"`
	At         time.Time `json:"at"`
}

// External reports whether the device is of a maker that does not run Hallmark: it has no
// manufacturer, model or lot of this deployment, and its origin (internal/maker) names the
// registered maker and keeps its factory certificate.
func (d Device) External() bool { return d.ManufacturerID == "" }
