package api

import "time"

// MakerPolicy is an operator's onboarding policy for one maker's devices, checked before the
// environment's policy.
type MakerPolicy struct {
	// Revocation is what onboarding does when no CRL or OCSP source of the maker answers:
	// fail-closed (the default: refuse) or fail-open (admit, recording a warning).
	Revocation string `json:"revocation,omitempty"`
	// RequireManifest admits only devices listed in the maker's active manifest.
	RequireManifest bool `json:"require_manifest,omitempty"`
	// RequireHardwareModuleName admits only factory certificates naming a hardwareModuleName.
	RequireHardwareModuleName bool `json:"require_hardware_module_name,omitempty"`
	// KeyTypes, when set, lists the factory key types admitted: ecdsa-p256, ecdsa-p384,
	// ed25519, rsa.
	KeyTypes []string `json:"key_types,omitempty"`
}

// RegisterMakerRequest registers a maker that does not run Hallmark (POST /v1/makers).
type RegisterMakerRequest struct {
	// OperatorID is the operator whose onboarding trusts the maker; empty: the caller's party.
	OperatorID string `json:"operator_id,omitempty"`
	// Name is a slug, unique among the operator's makers.
	Name string `json:"name"`
	// AnchorsPEM holds the maker's root CA certificates; IntermediatesPEM the CAs under them,
	// for devices that do not present them.
	AnchorsPEM       string `json:"anchors_pem"`
	IntermediatesPEM string `json:"intermediates_pem,omitempty"`
	// CRLURLs and OCSPURLs, when any is given, replace the sources the device certificates
	// name (their CRL distribution points and OCSP responders).
	CRLURLs  []string `json:"crl_urls,omitempty"`
	OCSPURLs []string `json:"ocsp_urls,omitempty"`
	// ManifestKeysPEM are "PUBLIC KEY" PEM blocks with which the maker signs its manifests.
	ManifestKeysPEM []string `json:"manifest_keys_pem,omitempty"`
	// BuildRecordKeysPEM are "PUBLIC KEY" PEM blocks with which the maker signs build records
	// and the first link of its custody vouchers (docs/vouchers.md).
	BuildRecordKeysPEM []string    `json:"build_record_keys_pem,omitempty"`
	Policy             MakerPolicy `json:"policy"`
}

// UpdateMakerRequest changes a maker (PATCH /v1/makers/{id}); absent members stay as they
// are. Anchors do not change: register a new maker.
type UpdateMakerRequest struct {
	IntermediatesPEM *string   `json:"intermediates_pem,omitempty"`
	CRLURLs          *[]string `json:"crl_urls,omitempty"`
	OCSPURLs         *[]string `json:"ocsp_urls,omitempty"`
	ManifestKeysPEM  *[]string `json:"manifest_keys_pem,omitempty"`
	// BuildRecordKeysPEM replaces the build-record keys.
	BuildRecordKeysPEM *[]string    `json:"build_record_keys_pem,omitempty"`
	Policy             *MakerPolicy `json:"policy,omitempty"`
}

// MakerCertificate is an anchor or intermediate of a maker.
type MakerCertificate struct {
	Subject        string    `json:"subject"`
	NotAfter       time.Time `json:"not_after"`
	SHA256         string    `json:"sha256"` // of the DER certificate, hex
	CertificatePEM string    `json:"certificate_pem"`
}

// Maker is a registered maker that does not run Hallmark.
type Maker struct {
	ID              string             `json:"id"`
	OperatorID      string             `json:"operator_id"`
	Name            string             `json:"name"`
	Anchors         []MakerCertificate `json:"anchors"`
	Intermediates   []MakerCertificate `json:"intermediates"`
	CRLURLs         []string           `json:"crl_urls"`
	OCSPURLs        []string           `json:"ocsp_urls"`
	ManifestKeysPEM []string           `json:"manifest_keys_pem"`
	// BuildRecordKeysPEM verify the maker's build records and custody vouchers.
	BuildRecordKeysPEM []string    `json:"build_record_keys_pem"`
	Policy             MakerPolicy `json:"policy"`
	CreatedBy          string      `json:"created_by"`
	CreatedAt          time.Time   `json:"created_at"`
	UpdatedAt          time.Time   `json:"updated_at"`
}

// Manifest is an uploaded device manifest of a maker (POST /v1/makers/{id}/manifests takes
// the DSSE envelope as application/json, or the CSV as text/csv).
type Manifest struct {
	ID      string `json:"id"`
	MakerID string `json:"maker_id"`
	Format  string `json:"format"` // dsse or csv
	SHA256  string `json:"sha256"` // of the upload, hex: what a CSV's approval names
	Entries int    `json:"entries"`
	// IssuedAt is the signed document's issuedAt (DSSE only).
	IssuedAt *time.Time `json:"issued_at,omitempty"`
	// State is pending (a CSV waiting for approval), active, superseded or denied.
	State       string     `json:"state"`
	ApprovalID  string     `json:"approval_id,omitempty"`
	UploadedBy  string     `json:"uploaded_by"`
	UploadedAt  time.Time  `json:"uploaded_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
}

// ManifestResult is an upload and, for a CSV, the approval it waits for.
type ManifestResult struct {
	Manifest Manifest  `json:"manifest"`
	Approval *Approval `json:"approval,omitempty"`
}

// MakerSource is one revocation source of a maker as this server last fetched it.
type MakerSource struct {
	Kind        string     `json:"kind"` // crl or ocsp
	URL         string     `json:"url"`
	Issuer      string     `json:"issuer"`
	Outcome     string     `json:"outcome"` // ok, stale, bad_signature, oversized, unreachable, parse_error, invalid, responder_error
	Error       string     `json:"error,omitempty"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastOK      *time.Time `json:"last_ok,omitempty"`
	// HeldNextUpdate is the nextUpdate of the CRL held.
	HeldNextUpdate *time.Time `json:"held_next_update,omitempty"`
	// Gap is true when the last fetch failed or no fresh CRL is held.
	Gap bool `json:"gap"`
}

// MakerCheck is what one round of the status watcher did (POST /v1/makers/{id}/check).
type MakerCheck struct {
	Started   time.Time      `json:"started"`
	ElapsedMS int64          `json:"elapsed_ms"`
	CRLs      map[string]int `json:"crls"` // fetches by outcome
	OCSP      map[string]int `json:"ocsp"` // answers by outcome
	// Devices were checked: by CRL, by OCSP, or left unknown (gaps). Revoked turned up
	// revoked, of which Recorded were suspended by this round.
	Devices  int           `json:"devices"`
	ByCRL    int           `json:"by_crl"`
	ByOCSP   int           `json:"by_ocsp"`
	Unknown  int           `json:"unknown"`
	Revoked  int           `json:"revoked"`
	Recorded int           `json:"recorded"`
	Sources  []MakerSource `json:"sources"`
}

// RevocationEvidence is the CRL or OCSP answer a maker's revocation rests on.
type RevocationEvidence struct {
	Kind       string     `json:"kind"` // crl or ocsp
	URL        string     `json:"url"`
	ThisUpdate time.Time  `json:"this_update"`
	NextUpdate *time.Time `json:"next_update,omitempty"`
	Reason     string     `json:"reason"`
	RevokedAt  time.Time  `json:"revoked_at"`
}

// DeviceOrigin is where a device of a maker that does not run Hallmark comes from.
type DeviceOrigin struct {
	MakerID   string `json:"maker_id"`
	MakerName string `json:"maker_name"`
	// Serial is the device serial (hardwareModuleName, subject serialNumber or certificate
	// serial); FactorySerial the factory certificate's serial (hex).
	Serial                string `json:"serial"`
	FactorySerial         string `json:"factory_serial"`
	FactoryCertificatePEM string `json:"factory_certificate_pem"`
	Issuer                string `json:"issuer"`
	// State is good, or revoked once the maker's CRL or OCSP answer said so (Evidence).
	State     string              `json:"state"`
	RevokedAt *time.Time          `json:"revoked_at,omitempty"`
	Evidence  *RevocationEvidence `json:"evidence,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
}
