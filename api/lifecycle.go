package api

// ReleaseRequest ends a device's operational identity so that it can leave its environment
// (POST /v1/devices/{id}/release) or be taken out of service (POST
// /v1/devices/{id}/decommission). Either revokes the current operational certificate as
// cessationOfOperation and leaves the device released (its environment and that certificate
// stay on record); the answer is the Device. Custody moves only released devices.
type ReleaseRequest struct {
	// Note says why, for the audit log (at most 1000 characters).
	Note string `json:"note,omitempty"`
}
