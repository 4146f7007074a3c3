package api

import "time"

// Device is one physical device.
type Device struct {
	ID             string `json:"id"`
	ManufacturerID string `json:"manufacturer_id"`
	ModelID        string `json:"model_id"`
	LotID          string `json:"lot_id"`
	Serial         string `json:"serial"`
	// State is registered, active, quarantined, suspended, released or factory-revoked.
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
