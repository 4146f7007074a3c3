package store

import "time"

// CustodyKey is a public key a party registered for custody vouchers to be addressed to.
type CustodyKey struct {
	KeyID        string // lowercase hex SHA-256 of the key's SubjectPublicKeyInfo
	PartyID      string
	Name         string
	PublicKeyPEM string
	CreatedBy    string
	CreatedAt    time.Time
}

// VoucherRecord is a custody voucher this deployment exported or imported.
type VoucherRecord struct {
	ID        string
	PartyID   string // the exporting or importing party
	Direction string // "export" or "import"
	MakerID   string // the registered maker it was verified against ("" for an export)
	SHA256    [32]byte
	Content   []byte // the voucher file (empty when listed)
	Devices   int
	// FinalLink is the hex SHA-256 of the last link's payload; AddresseeKeyID the key it is
	// addressed to.
	FinalLink      string
	AddresseeKeyID string
	CreatedBy      string
	CreatedAt      time.Time
}

// VoucherLink is one link of an imported voucher.
type VoucherLink struct {
	Hash, Previous string // hex SHA-256 of its payload and of its predecessor's ("" for link 0)
	VoucherID      string
	Position       int
	AddresseeKeyID string
}

// CustodyVouchers stores custody keys and vouchers (internal/custodyvouchers).
type CustodyVouchers interface {
	// AddCustodyKey stores a key; ErrConflict when the key is registered already (to any
	// party).
	AddCustodyKey(k CustodyKey) error
	// GetCustodyKey returns a key by its ID.
	GetCustodyKey(keyID string) (CustodyKey, error)
	// ListCustodyKeys returns a party's keys, oldest first.
	ListCustodyKeys(partyID string) ([]CustodyKey, error)
	// AddVoucher stores a voucher with its devices and (for an import) its links;
	// ErrConflict when one of the links is stored already.
	AddVoucher(v VoucherRecord, deviceIDs []string, links []VoucherLink) error
	// GetVoucher returns a voucher with its content.
	GetVoucher(id string) (VoucherRecord, error)
	// ListVouchers returns a party's vouchers, newest first, without content.
	ListVouchers(partyID string) ([]VoucherRecord, error)
	// GetLink returns a stored link by hash.
	GetLink(hash string) (VoucherLink, error)
	// VouchersOfDevice returns the vouchers naming a device, newest first, without content.
	VouchersOfDevice(deviceID string) ([]VoucherRecord, error)
}
