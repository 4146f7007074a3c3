package api

import (
	"encoding/json"
	"time"
)

// Device is one physical device. A device of a maker that does not run Hallmark has no
// manufacturer, model or lot here (empty): DeviceView.External names its maker.
type Device struct {
	ID             string `json:"id"`
	ManufacturerID string `json:"manufacturer_id"`
	ModelID        string `json:"model_id"`
	LotID          string `json:"lot_id"`
	Serial         string `json:"serial"`
	// State is registered, active, quarantined, suspended, released, factory-revoked or
	// handed-off (exported in a custody voucher to another deployment).
	State       string `json:"state"`
	CustodianID string `json:"custodian_id"`
	// FactoryCert is the serial (hex) of the current factory certificate.
	FactoryCert   string `json:"factory_certificate"`
	EnvironmentID string `json:"environment_id,omitempty"`
	// OperationalCert is the serial (hex) of the current operational certificate.
	OperationalCert string    `json:"operational_certificate,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// DevicePage is one page of devices (GET /v1/devices), in ID order. NextAfter is set when the
// page is full and there may be more: pass it as "after" for the next page.
type DevicePage struct {
	Items     []Device `json:"items"`
	NextAfter string   `json:"next_after,omitempty"`
}

// DeviceView is one device with everything Hallmark shows of it (GET /v1/devices/{id}).
type DeviceView struct {
	Device
	Certificates []Certificate `json:"certificates"`
	// BuildRecord is the signed build record, a DSSE envelope.
	BuildRecord json.RawMessage `json:"build_record,omitempty"`
	Custody     []CustodyLink   `json:"custody"`
	// Lineage is what each operational certificate was issued on.
	Lineage []Evidence `json:"lineage"`
	// SupportGrants are the support grants that reach or reached the device (named, or by lot).
	SupportGrants []Grant `json:"support_grants"`
	// External is the origin of a device of a maker that does not run Hallmark.
	External *DeviceOrigin `json:"external,omitempty"`
	// FactoryLineage is the device's factory identities, oldest first: the one it was made
	// with, then one per repair; every one but the current is revoked as superseded.
	FactoryLineage []FactoryLink `json:"factory_lineage"`
}

// FactoryLink is one factory identity of a device in its factory lineage.
type FactoryLink struct {
	Serial    string     `json:"serial"`
	State     string     `json:"state"`
	Reason    string     `json:"revocation_reason,omitempty"`
	IssuedAt  *time.Time `json:"issued_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// BuildRecordSHA256 is the digest (hex) of the build record the certificate binds.
	BuildRecordSHA256 string `json:"build_record_sha256,omitempty"`
	SupersededBy      string `json:"superseded_by,omitempty"`
	Current           bool   `json:"current"`
}

// Certificate is one certificate Hallmark issued (or reserved a serial for).
type Certificate struct {
	Serial    string     `json:"serial"` // lowercase hex
	CAID      string     `json:"ca_id"`
	DeviceID  string     `json:"device_id,omitempty"`
	Profile   string     `json:"profile"`
	State     string     `json:"state"` // reserved, issued or revoked
	NotBefore time.Time  `json:"not_before"`
	NotAfter  time.Time  `json:"not_after"`
	CreatedAt time.Time  `json:"created_at"`
	IssuedAt  *time.Time `json:"issued_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// Reason is the RFC 5280 CRLReason code of a revoked certificate.
	Reason *int `json:"revocation_reason,omitempty"`
}

// CustodyLink is one accepted hand-over in a device's custody chain.
type CustodyLink struct {
	TransferID string    `json:"transfer_id"`
	FromID     string    `json:"from_party_id"`
	ToID       string    `json:"to_party_id"`
	At         time.Time `json:"at"`
}

// Evidence is what an operational certificate was issued on.
type Evidence struct {
	Serial        string `json:"serial"`
	DeviceID      string `json:"device_id"`
	EnvironmentID string `json:"environment_id"`
	Kind          string `json:"kind"`     // onboard or renew
	BasedOn       string `json:"based_on"` // the certificate (serial) presented as proof
	// Superseded is the operational certificate this one replaced and revoked, if any.
	Superseded    string          `json:"superseded,omitempty"`
	FactorySerial string          `json:"factory_serial"`
	Protocol      string          `json:"protocol"`    // api or est
	PolicyKind    string          `json:"policy_kind"` // onboarding or renewal
	PolicyVersion int             `json:"policy_version"`
	PrincipalID   string          `json:"principal_id"`
	Facts         json.RawMessage `json:"facts,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
}

// OfferRequest offers custody of devices, or of every device of a lot the caller holds, to
// another party (POST /v1/transfers): name devices or a lot, not both.
type OfferRequest struct {
	To        string   `json:"to"`
	DeviceIDs []string `json:"device_ids,omitempty"`
	LotID     string   `json:"lot_id,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// Transfer is an offer of custody of one or more devices from one party to another.
type Transfer struct {
	ID     string `json:"id"`
	FromID string `json:"from_party_id"`
	ToID   string `json:"to_party_id"`
	State  string `json:"state"` // offered, accepted, refused or cancelled
	// DeviceCount is fixed at the offer; GET /v1/transfers/{id}/devices lists the devices.
	DeviceCount int        `json:"device_count"`
	Note        string     `json:"note,omitempty"`
	OfferedBy   string     `json:"offered_by"`
	OfferedAt   time.Time  `json:"offered_at"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
}

// The decisions on a transfer: POST /v1/transfers/{id}/{decision}. The receiving party
// accepts or refuses; the offering party cancels.
const (
	TransferAccept = "accept"
	TransferRefuse = "refuse"
	TransferCancel = "cancel"
)

// IDPage is one page of IDs (GET /v1/transfers/{id}/devices). NextAfter is set when the page
// is full and there may be more.
type IDPage struct {
	Items     []string `json:"items"`
	NextAfter string   `json:"next_after,omitempty"`
}
