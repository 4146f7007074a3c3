package maker

import "time"

// ManifestState is where an uploaded manifest is.
type ManifestState string

// The states. A signed manifest is active at once; a CSV is pending until an operator
// approves that exact upload. Activating one supersedes the maker's previous active one.
const (
	ManifestPending    ManifestState = "pending"
	ManifestActive     ManifestState = "active"
	ManifestSuperseded ManifestState = "superseded"
	ManifestDenied     ManifestState = "denied"
)

// Manifest is one uploaded device manifest of a maker (internal/manifest parses it).
type Manifest struct {
	ID      string
	MakerID string
	Format  string // dsse or csv (manifest.Format)
	SHA256  [32]byte
	// Content is the upload as received; list reads leave it nil.
	Content []byte
	Entries int
	// IssuedAt is the signed document's issuedAt; nil for a CSV.
	IssuedAt    *time.Time
	State       ManifestState
	ApprovalID  string // the approval a CSV waits for or was activated by
	UploadedBy  string
	UploadedAt  time.Time
	ActivatedAt *time.Time
}
