package api

import "time"

// RegisterCustodyKeyRequest registers a public key custody vouchers for the caller's party
// may be addressed to (POST /v1/custody/keys).
type RegisterCustodyKeyRequest struct {
	Name         string `json:"name"`           // a slug
	PublicKeyPEM string `json:"public_key_pem"` // "PUBLIC KEY" PEM: ECDSA P-256, P-384 or Ed25519
}

// CustodyKey is a registered custody key.
type CustodyKey struct {
	KeyID        string    `json:"key_id"` // hex SHA-256 of its SubjectPublicKeyInfo
	PartyID      string    `json:"party_id"`
	Name         string    `json:"name"`
	PublicKeyPEM string    `json:"public_key_pem"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
}

// ExportVoucherRequest exports devices the caller's party holds in a custody voucher
// (POST /v1/custody/vouchers/export).
type ExportVoucherRequest struct {
	DeviceIDs []string `json:"device_ids"`
	// To names the receiver; ToKeyPEM is the receiver's "PUBLIC KEY" PEM the voucher is
	// addressed to.
	To       string `json:"to"`
	ToKeyPEM string `json:"to_key_pem"`
	// TTL is how long the voucher may be imported or extended (default 720h, at most 8784h).
	TTL Duration `json:"ttl,omitempty"`
}

// CustodyVoucher is a custody voucher this deployment exported or imported.
type CustodyVoucher struct {
	ID             string    `json:"id"`
	PartyID        string    `json:"party_id"`
	Direction      string    `json:"direction"` // export or import
	MakerID        string    `json:"maker_id,omitempty"`
	SHA256         string    `json:"sha256"` // of the voucher file, hex
	Devices        int       `json:"devices"`
	FinalLink      string    `json:"final_link"` // hex SHA-256 of the last link's payload
	AddresseeKeyID string    `json:"addressee_key_id"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	// File is the voucher file (JSON text): in an export's answer and in GET by ID.
	File string `json:"file,omitempty"`
}

// ImportedVoucher is what an import created (POST /v1/custody/vouchers/import takes the
// voucher file itself as application/json).
type ImportedVoucher struct {
	Voucher   CustodyVoucher `json:"voucher"`
	MakerID   string         `json:"maker_id"`
	MakerName string         `json:"maker_name"`
	DeviceIDs []string       `json:"device_ids"`
}
