package api

import (
	"encoding/json"
	"time"
)

// CA is a certificate authority as the API shows it: a root, an issuing CA, or another maker's
// trust anchor (certificate only).
type CA struct {
	ID       string `json:"id"`
	PartyID  string `json:"party_id"`
	Stage    string `json:"stage"` // manufacturing, operational or support
	Role     string `json:"role"`  // root, issuing or anchor
	ParentID string `json:"parent_id,omitempty"`
	Name     string `json:"name"`
	KeyID    string `json:"key_id,omitempty"` // empty for anchors
	Imported bool   `json:"imported"`
	// CreatedAt is when Hallmark created or imported the CA.
	CreatedAt time.Time `json:"created_at"`
	// RetiredAt is when a whole-CA revocation retired the CA: it issues nothing after it.
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// CRLPartitions is the number of CRL partitions the CA's certificates are spread over,
	// fixed when it was created; 0 means one full CRL only.
	CRLPartitions int `json:"crl_partitions"`
	// FactoryValidity is a manufacturing issuing CA's: the notAfter of the factory
	// certificates it issues, "undefined" (99991231235959Z, IEEE 802.1AR) or "issuer" (its
	// own notAfter). Other CAs have none.
	FactoryValidity string `json:"factory_validity,omitempty"`
	// SuccessorID names the CA that succeeded this one by a rotation or rollover, SucceededAt
	// when, and IssuesUntil the end of the overlap after which it signs nothing more but
	// keeps serving its revocation status; all absent until then.
	SuccessorID string     `json:"successor_id,omitempty"`
	SucceededAt *time.Time `json:"succeeded_at,omitempty"`
	IssuesUntil *time.Time `json:"issues_until,omitempty"`
	// Subject and NotAfter (RFC 3339, UTC) are read from the certificate.
	Subject        string `json:"subject"`
	NotAfter       string `json:"not_after"`
	CertificatePEM string `json:"certificate_pem"`
}

// Hierarchy is a new root CA and the issuing CA under it (POST /v1/manufacturing/hierarchies,
// /v1/operational/hierarchies and /v1/support/hierarchies).
type Hierarchy struct {
	Issuing CA `json:"issuing"`
	Root    CA `json:"root"`
}

// CreateHierarchyRequest asks for a manufacturing root and issuing CA
// (POST /v1/manufacturing/hierarchies).
type CreateHierarchyRequest struct {
	ManufacturerID string `json:"manufacturer_id"`
	Name           string `json:"name"`
	// Algorithm is ecdsa-p256 (the default), ecdsa-p384, ed25519 or rsa-3072.
	Algorithm string `json:"algorithm,omitempty"`
	// CRLPartitions is the issuing CA's CRL partition count (1 to 1024, fixed for its life);
	// 0 takes the default, 16.
	CRLPartitions int `json:"crl_partitions,omitempty"`
	// FactoryValidity is the notAfter of the factory certificates the issuing CA issues,
	// fixed for its life: "undefined" (99991231235959Z, IEEE 802.1AR; the default when
	// empty) or "issuer" (the issuing CA's own notAfter).
	FactoryValidity string `json:"factory_validity,omitempty"`
}

// ImportCARequest brings an existing manufacturing CA under Hallmark
// (POST /v1/manufacturing/imports); the key is checked against the certificate before
// anything is stored.
type ImportCARequest struct {
	ManufacturerID string `json:"manufacturer_id"`
	Name           string `json:"name"`
	CertificatePEM string `json:"certificate_pem"`
	// KeyURI names the CA's key in the server's HSM (a key ceremony, docs/ceremony.md): no
	// private key crosses the API. KeyPEM sends the private key itself, which only the file
	// backend accepts. Give one of the two.
	KeyURI     string `json:"key_uri,omitempty"`
	KeyPEM     string `json:"key_pem,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
	// CRLPartitions is as in CreateHierarchyRequest, for an imported issuing CA.
	CRLPartitions int `json:"crl_partitions,omitempty"`
}

// RegisterAnchorRequest registers another maker's trust anchor, certificate only, for the
// caller's party (POST /v1/anchors).
type RegisterAnchorRequest struct {
	Name           string `json:"name"`
	CertificatePEM string `json:"certificate_pem"`
}

// Model is a product design of one manufacturer.
type Model struct {
	ID             string `json:"id"`
	ManufacturerID string `json:"manufacturer_id"`
	Name           string `json:"name"`
	// HardwareType is the dotted OID used as hwType in the certificates' hardwareModuleName.
	HardwareType string    `json:"hardware_type"`
	CreatedAt    time.Time `json:"created_at"`
}

// CreateModelRequest defines a model (POST /v1/models).
type CreateModelRequest struct {
	ManufacturerID string `json:"manufacturer_id"`
	Name           string `json:"name"`
	// HardwareType is the hwType OID for hardwareModuleName (RFC 4108); empty allocates one
	// under Hallmark's arc.
	HardwareType string `json:"hardware_type,omitempty"`
}

// Lot is a production batch of one model on one line.
type Lot struct {
	ID             string `json:"id"`
	ManufacturerID string `json:"manufacturer_id"`
	ModelID        string `json:"model_id"`
	Name           string `json:"name"`
	Line           string `json:"line"`
	// IssuingCAID is the manufacturing issuing CA that signs the lot's factory certificates.
	IssuingCAID string    `json:"issuing_ca_id"`
	CreatedAt   time.Time `json:"created_at"`
}

// SignManifestRequest asks a manufacturer to sign the device manifest of some of its lots
// (POST /v1/manufacturers/{id}/manifest).
type SignManifestRequest struct {
	LotIDs []string `json:"lot_ids"` // 1 to 100
}

// SignedManifest is a device manifest signed with the manufacturer's build-record key: what an
// operator that registered this manufacturer as a maker imports (POST
// /v1/makers/{id}/manifests).
type SignedManifest struct {
	ManufacturerID string   `json:"manufacturer_id"`
	LotIDs         []string `json:"lot_ids"`
	Devices        int      `json:"devices"` // listed: the lots' devices whose factory certificate is good
	// SHA256 is the SHA-256 of Envelope, in hex.
	SHA256 string `json:"sha256"`
	// Envelope is the DSSE envelope (payload type application/vnd.hallmark.manifest+json).
	Envelope json.RawMessage `json:"envelope"`
}

// CreateLotRequest defines a lot (POST /v1/lots).
type CreateLotRequest struct {
	ModelID     string `json:"model_id"`
	Name        string `json:"name"`
	Line        string `json:"line"`
	IssuingCAID string `json:"issuing_ca_id"`
	// DelegateTo, when set, is a contract manufacturer that will own manufacturing/issue on
	// this lot.
	DelegateTo string `json:"delegate_to,omitempty"`
}

// IssueFactoryRequest registers one device of a lot and issues its factory identity
// (POST /v1/lots/{id}/devices).
type IssueFactoryRequest struct {
	// CSR is the device's PKCS#10 request, PEM or base64 DER.
	CSR string `json:"csr"`
	// BuildRecord is the build record (a BuildRecord, JSON) the factory asserts; its
	// manufacturer, model and lot must name this lot, and its serial becomes the device serial.
	// It is kept raw so that a client sends the document exactly as the factory wrote it, and
	// the server's strict decoder (which refuses unknown fields) judges that document.
	BuildRecord json.RawMessage `json:"build_record"`
}

// BuildRecord is what the factory asserts about one device: the in-toto predicate of a build
// record. Its member names are those of the signed document.
type BuildRecord struct {
	Manufacturer     string      `json:"manufacturer"`     // manufacturer party ID
	Model            string      `json:"model"`            // model name
	HardwareRevision string      `json:"hardwareRevision"` // optional
	Serial           string      `json:"serial"`           // device serial, as in the certificate subject serialNumber
	Lot              string      `json:"lot"`              // lot name
	Line             string      `json:"line"`             // production line; optional
	Components       []Component `json:"components"`       // unique names
	FirmwareDigest   Digest      `json:"firmwareDigest"`   // the firmware image installed at the factory
	TestResult       string      `json:"testResult"`       // pass or fail
	BuiltAt          time.Time   `json:"builtAt"`
}

// Component is one part of a device, identified by name and content digest.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Digest  Digest `json:"digest"`
}

// Digest is a content digest.
type Digest struct {
	SHA256 string `json:"sha256"` // lowercase hex
}

// FactoryIdentity is a device with its factory (IDevID) certificate and signed build record.
type FactoryIdentity struct {
	Device         Device `json:"device"`
	CertificatePEM string `json:"certificate_pem"`
	ChainPEM       string `json:"chain_pem"` // issuing CA then root
	// BuildRecord is the signed build record, a DSSE envelope (JSON); base64 in JSON.
	BuildRecord    []byte `json:"build_record"`
	BuildRecordSHA string `json:"build_record_sha256"`
}

// CreateOperationalHierarchyRequest asks for an operator's operational root and issuing CA
// (POST /v1/operational/hierarchies).
type CreateOperationalHierarchyRequest struct {
	OperatorID string `json:"operator_id"`
	Name       string `json:"name"`
	Algorithm  string `json:"algorithm,omitempty"` // as in CreateHierarchyRequest
	// CRLPartitions is as in CreateHierarchyRequest.
	CRLPartitions int `json:"crl_partitions,omitempty"`
}

// CreateSupportHierarchyRequest asks for an operator's support root and issuing CA, from which
// approved support grants are issued (POST /v1/support/hierarchies).
type CreateSupportHierarchyRequest struct {
	OperatorID string `json:"operator_id"`
	Name       string `json:"name"`
	Algorithm  string `json:"algorithm,omitempty"` // as in CreateHierarchyRequest
}

// RepairRequest asks for a repaired device's new build record and factory identity
// (POST /v1/devices/{id}/repair). It waits for an approval (kind repair); once approved, the
// old factory identity is revoked as superseded and the device carries the new one.
type RepairRequest struct {
	// CSR is the device's PKCS#10 request, PEM or base64 DER; its key may be new.
	CSR string `json:"csr"`
	// BuildRecord is the repaired device's build record (a BuildRecord, JSON), kept raw as in
	// IssueFactoryRequest; its serial must be the device's.
	BuildRecord json.RawMessage `json:"build_record"`
	// Reason says what was repaired, for the approvers and the audit log.
	Reason string `json:"reason"`
}

// RepairResult is the device as it is now and the approval request its repair waits for.
type RepairResult struct {
	Device   Device    `json:"device"`
	Approval *Approval `json:"approval"`
}
