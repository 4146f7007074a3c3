// Package store is the storage contract: small interfaces per aggregate, a transaction runner
// and sentinel errors. Implementations live in subpackages (sqlite, postgres) and must pass
// the conformance suite in storetest.
//
// Invariants every implementation keeps:
//   - Update runs its function in one serializable transaction; either everything it wrote is
//     committed or nothing is.
//   - A transaction that changed identity state commits only if it also appended an audit
//     event (ErrUnaudited otherwise): no audit, no change. Reserving a serial is the one write
//     exempt from this, because the reservation is itself the record of intent.
//   - Serials are unique per deployment; a second reservation of a serial fails with a
//     Conflict and changes nothing.
package store

import (
	"context"
	"errors"
	"math/big"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
)

// Sentinel errors; both carry a failure kind.
var (
	ErrNotFound  = &failure.Error{Kind: failure.NotFound, Msg: "not found"}
	ErrConflict  = &failure.Error{Kind: failure.Conflict, Msg: "conflict"}
	ErrUnaudited = errors.New("store: transaction changed state without an audit event")
)

// Store runs transactions.
type Store interface {
	// Update runs fn in a read-write transaction and commits when fn returns nil.
	//
	// fn may run more than once for one call: Update retries it after a conflict the
	// database expects to clear (SQLite busy, PostgreSQL serialization failure) or a
	// connection lost before the commit, and group commit runs a whole batch again when one
	// of its functions failed, each run in a transaction that is rolled back and may see
	// other writes. So fn must start from scratch on every run: it must not read a variable
	// from outside that an earlier run changed, and whatever it leaves outside for the caller
	// (results, slices, counters, flags, fields of a captured struct) must be reset at its
	// start or written whole by the run that returned nil. Effects outside the database
	// (metrics, caches, logs) belong after Update returns, not in fn.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Touch records a principal's use; it is not an identity change and is not audited.
	TouchPrincipal(ctx context.Context, principalID string, at time.Time) error
	// TouchToken records the use of a token and of its principal, likewise unaudited.
	TouchToken(ctx context.Context, principalID, tokenID string, at time.Time) error
	Close() error
}

// Tx gives a transaction's view of each aggregate.
type Tx interface {
	Parties() Parties
	Ownership() Ownership
	CAs() CAs
	Catalog() Catalog
	Devices() Devices
	Certificates() Certificates
	BuildRecords() BuildRecords
	Custody() Custody
	Audit() AuditLog
	AuditTree() AuditTree // audittree.go
	Environments() Environments
	Challenges() Challenges
	Evidence() Evidence
	Revocations() Revocations
	Status() Status               // status.go
	Bulk() Bulk                   // bulk.go
	Approvals() Approvals         // governance.go
	SupportGrants() SupportGrants // governance.go
	Duties() Duties               // governance.go
	GovernanceReads() GovernanceReads
	Leases() Leases   // lease.go
	CRLs() CRLs       // lease.go
	Reports() Reports // reports.go

	Succession() Succession   // rotation.go
	KeyHistory() KeyHistory   // rotation.go
	Signin() Signin           // signin.go
	Refusals() Refusals       // refusals.go
	Makers() Makers           // makers.go
	ChangeRules() ChangeRules // changes.go
	Waivers() Waivers         // changes.go

	StateRows() StateRows // reconcile.go

	CustodyVouchers() CustodyVouchers // custodyvouchers.go

	ReportSnapshots() ReportSnapshots // snapshots.go

	Epochs() Epochs // epochs.go
}

// Parties stores parties, principals, their tokens and break-glass access (principals.go).
// The deployment scope (party.Deployment) is stored as a party row so that deployment
// administrators are principals like any other, but GetParty and ListParties never return it.
type Parties interface {
	CreateParty(p party.Party) error
	GetParty(id string) (party.Party, error)
	ListParties() ([]party.Party, error)
	PrincipalStore
	AccessStore
}

// Ownership stores the ownership matrix.
type Ownership interface {
	// SetCell sets or replaces the owner of a cell.
	SetCell(c ownership.Cell, by string, at time.Time) error
	DeleteCell(k ownership.Key) error
	// Owner returns the owner of exactly this cell.
	Owner(k ownership.Key) (string, bool, error)
	ListCells() ([]ownership.Cell, error)
}

// CAs stores certificate authorities and signing keys.
type CAs interface {
	CreateCA(c ca.CA) error
	GetCA(id string) (ca.CA, error)
	ListCAs(partyID string) ([]ca.CA, error) // partyID "" lists all
	// RetireCA stops a CA from issuing (idempotent: the first retirement time stays).
	RetireCA(id string, at time.Time) error
	// RetiredAt is when the CA was retired (nil: never), read without loading the CA: the
	// authority asks it twice per issuance.
	RetiredAt(id string) (*time.Time, error)
	CreateSigningKey(k ca.SigningKey) error
	SigningKey(partyID, purpose string) (ca.SigningKey, error)
}

// Catalog stores models and lots.
type Catalog interface {
	CreateModel(m device.Model) error
	GetModel(id string) (device.Model, error)
	ListModels(manufacturerID string) ([]device.Model, error)
	CreateLot(l device.Lot) error
	GetLot(id string) (device.Lot, error)
	ListLots(manufacturerID string) ([]device.Lot, error)
	// HeldLots lists the lots of manufacturerID ("" for every manufacturer) of which partyID
	// holds at least one device, ordered as ListLots: one index probe per lot.
	HeldLots(partyID, manufacturerID string) ([]device.Lot, error)
}

// DeviceFilter selects devices; zero fields match everything.
type DeviceFilter struct {
	ManufacturerID string
	CustodianID    string
	LotID          string
	EnvironmentID  string
	State          device.State
	// ExpiringBefore keeps devices whose current operational certificate ends before it: the
	// certificate the device row names, when it is an operational certificate of that device.
	ExpiringBefore time.Time
	// VisibleTo, when set, keeps devices this party made or holds.
	VisibleTo string
	After     string // pagination: IDs greater than this
	Limit     int
}

// Devices stores devices.
type Devices interface {
	CreateDevice(d device.Device) error
	GetDevice(id string) (device.Device, error)
	DeviceBySerial(manufacturerID, serial string) (device.Device, error)
	ListDevices(f DeviceFilter) ([]device.Device, error)
	// UpdateDevice writes d if the stored device still has the state, custodian and
	// operational certificate given in expect (so of two concurrent renewals of one
	// certificate only the first commits); otherwise it returns ErrConflict and writes nothing.
	UpdateDevice(d device.Device, expect device.Device) error
}

// Certificates stores certificate records.
type Certificates interface {
	// Reserve records a serial and its to-be-signed bytes before signing.
	Reserve(c ca.Cert) error
	// MarkIssued stores the signed certificate for a reserved serial. When der parses as a
	// certificate, its tbsCertificate must be the reserved TBS (else ErrConflict).
	MarkIssued(serial *big.Int, der []byte, at time.Time) error
	GetCert(serial *big.Int) (ca.Cert, error)
	ListDeviceCerts(deviceID string) ([]ca.Cert, error)
	// Revoke marks an issued (or held) certificate revoked with an RFC 5280 reason code;
	// ErrConflict when it is already revoked for good or not issued.
	Revoke(serial *big.Int, reason int, at time.Time) error
	// Unhold lifts a certificateHold (reason 6); ErrConflict when the certificate is not held.
	Unhold(serial *big.Int) error
	// FactoryCerts selects factory certificates of one manufacturer, ordered by serial,
	// after the given serial.
	FactoryCerts(sel FactorySelector, afterSerial string, limit int) ([]FactoryCert, error)
	// FactoryPreview is what a manufacturing revocation of sel at the given time would do, as
	// its dry run (FactoryCerts, then DeviceTargets) finds it, counted by the store: whole
	// counts and only the first limit rows of each list (limit <= 0 or over 10,000: 10,000).
	// Where DeviceTargets refuses a device of an issued selected factory certificate (its row
	// names an operational certificate that is not its own operational certificate), the
	// revocation stops, and so does the preview: ErrNotFound naming the device.
	FactoryPreview(sel FactorySelector, at time.Time, limit int) (FactoryPreview, error)
	// KeyBoundElsewhere reports whether a certificate signed for a device other than
	// deviceID (issued, or revoked since; a reservation never signed does not count) carries
	// the public key whose SubjectPublicKeyInfo hashes to keySHA256 (ca.Cert.KeySHA256).
	KeyBoundElsewhere(keySHA256 []byte, deviceID string) (bool, error)
}

// FactorySelector picks factory certificates for a manufacturing revocation; zero fields
// match everything of the manufacturer.
type FactorySelector struct {
	ManufacturerID string    `json:"manufacturer_id"`
	DeviceID       string    `json:"device_id,omitempty"`
	LotID          string    `json:"lot_id,omitempty"`
	Line           string    `json:"line,omitempty"`
	IssuingCAID    string    `json:"issuing_ca_id,omitempty"`
	IssuedFrom     time.Time `json:"issued_from,omitzero"`
	IssuedTo       time.Time `json:"issued_to,omitzero"`
}

// FactoryCert is a selected factory certificate with its device.
type FactoryCert struct {
	Serial   string       `json:"serial"`
	DeviceID string       `json:"device_id"`
	LotID    string       `json:"lot_id"`
	State    ca.CertState `json:"state"`
}

// FactoryPreview is a manufacturing revocation's dry run without its every row.
type FactoryPreview struct {
	// Revoke counts the selected factory certificates that are issued: those it revokes.
	Revoke int
	// Skipped counts the selected factory certificates that are not issued (already revoked).
	Skipped int
	// Suspend counts, by the device's environment ID, the devices of issued selected factory
	// certificates whose operational certificate (their own, of the operational profile, as
	// DeviceTargets reads it) is issued and unexpired at the given time: a device with two such
	// factory certificates counts once, as the revocation suspends it once. Environments with
	// none are absent.
	Suspend map[string]int
	// Factory is the first limit issued factory certificates, by serial.
	Factory []FactoryCert
	// Suspended is the first limit suspensions of each environment, by factory serial (the
	// order of the dry run's whole list, of which it is a subsequence).
	Suspended []Suspension
}

// Suspension is an operational identity issued on a selected factory identity: what a
// manufacturing revocation suspends.
type Suspension struct {
	DeviceID    string `json:"device_id"`
	Serial      string `json:"serial"`
	Environment string `json:"environment_id"`
}

// BuildRecord is a stored signed build record.
type BuildRecord struct {
	ID            string    `json:"id"`
	DeviceID      string    `json:"device_id"`
	PayloadSHA256 []byte    `json:"-"`
	Envelope      []byte    `json:"-"`
	CreatedAt     time.Time `json:"created_at"`
}

// BuildRecords stores signed build records.
type BuildRecords interface {
	CreateBuildRecord(r BuildRecord) error
	LatestBuildRecord(deviceID string) (BuildRecord, error)
}

// Custody stores transfers. A transfer's device count is stored with it: reading a transfer
// never counts or loads its devices.
type Custody interface {
	// CreateTransfer records an offer of the named devices (t.DeviceCount is ignored: the
	// count stored is len(deviceIDs)); ErrConflict when any device already has an open offer.
	CreateTransfer(t device.Transfer, deviceIDs []string) error
	// CreateLotTransfer records an offer of every device of the lot that t.FromID holds, in
	// one INSERT … SELECT, and returns how many it names. With none it records nothing and
	// returns 0; ErrConflict when any of them already has an open offer.
	CreateLotTransfer(t device.Transfer, lotID string) (int, error)
	GetTransfer(id string) (device.Transfer, error)
	// TransferDevices returns the IDs of transfer id's devices greater than after, in order,
	// at most limit (1-1000; otherwise 1000).
	TransferDevices(id, after string, limit int) ([]string, error)
	// DecideTransfer moves an offered transfer to a final state; ErrConflict unless it is
	// still offered.
	DecideTransfer(id string, state device.TransferState, by string, at time.Time) error
	// MoveDevices gives every device of transfer id that party from holds to party to, in one
	// statement, and says how many moved (the caller compares it with the transfer's count).
	MoveDevices(id, from, to string, at time.Time) (int64, error)
	// DeviceNotHeld names the lowest-ID device of transfer id that partyID does not hold, in
	// one query; "" when it holds them all.
	DeviceNotHeld(id, partyID string) (string, error)
	// OperationalDevice names the lowest-ID device of transfer id that is active, suspended
	// or quarantined, in one query: a device whose operational identity its holder's
	// environment trusts, or may trust again; or handed off to another deployment in a
	// custody voucher (no longer held here); "" when there is none.
	OperationalDevice(id string) (string, error)
	// ListTransfers returns up to 1000 of the party's transfers, both directions, newest first.
	ListTransfers(partyID string) ([]device.Transfer, error)
	CustodyChain(deviceID string) ([]device.CustodyLink, error)
}

// AuditLog appends and reads audit events.
type AuditLog interface {
	Append(e audit.Event) (int64, error)
	List(afterSeq int64, limit int) ([]audit.Event, error)
}

// Environments stores operator environments and their versioned policies.
type Environments interface {
	CreateEnvironment(e environment.Environment) error
	GetEnvironment(id string) (environment.Environment, error)
	ListEnvironments(operatorID string) ([]environment.Environment, error)
	// EnvironmentByLabel resolves an EST label: the environment whose ID is label, else the
	// environment that claimed label as its EST name (ClaimESTName); ErrNotFound otherwise.
	// Since a claim never moves, a later environment of the same name (another operator's)
	// never changes the answer.
	EnvironmentByLabel(label string) (environment.Environment, error)
	// ClaimESTName makes name the EST label of environment envID unless another environment
	// claimed it first, and reports whether envID holds the claim. A claim is never moved or
	// released.
	ClaimESTName(name, envID string, at time.Time) (bool, error)
	// ESTName returns the name envID claimed as its EST label; "" when it holds none (its
	// name was claimed before it, so EST reaches it by ID only).
	ESTName(envID string) (string, error)
	// ClaimTrustDomain claims SPIFFE trust domain name for operatorID, by its environment
	// envID, unless it is claimed already, and returns the claim that holds it (the new one,
	// or the earlier one, of this operator or another). A claim is never moved or released.
	ClaimTrustDomain(name, operatorID, envID string, at time.Time) (environment.TrustDomainClaim, error)
	// ListTrustDomains returns every trust domain claim, by name.
	ListTrustDomains() ([]environment.TrustDomainClaim, error)
	// AddPolicy stores a new version; ErrConflict when that version exists.
	AddPolicy(p environment.PolicyVersion) error
	LatestPolicy(envID string, kind environment.PolicyKind) (environment.PolicyVersion, error)
	// UpdateEnvironment writes an environment's issuing CA, lifetime, max age and services;
	// ErrNotFound when it does not exist.
	UpdateEnvironment(e environment.Environment) error
	// PolicyVersions lists the stored versions of an environment's policy of one kind, newest
	// first, at most MaxPolicyVersions; none is an empty list, not an error.
	PolicyVersions(envID string, kind environment.PolicyKind) ([]environment.PolicyVersion, error)
}

// MaxPolicyVersions bounds PolicyVersions.
const MaxPolicyVersions = 200

// Challenge is a single-use nonce a device signs to prove possession of a key. It is bound
// to the principal that asked for it, a purpose (onboard or renew), an environment and the
// key of the CSR the proof vouches for.
type Challenge struct {
	ID            string
	Nonce         []byte
	Purpose       string
	PrincipalID   string
	PartyID       string // the principal's party, for the audit summary
	EnvironmentID string
	KeySHA256     []byte // SHA-256 of the CSR's SubjectPublicKeyInfo (DER)
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        *time.Time // set by ConsumeChallenge; the row stays until it expires
}

// Challenges stores onboarding and renewal challenges. They are nonces, not identity state:
// creating and consuming one is exempt from the audit rule; the service records them in
// coalesced audit events when it purges them.
type Challenges interface {
	// LiveChallenges counts principalID's challenges that expire after now, used or not,
	// stopping at limit.
	LiveChallenges(principalID string, now time.Time, limit int) (int, error)
	CreateChallenge(c Challenge) error
	// ConsumeChallenge marks challenge id used and returns it when it belongs to principalID,
	// is unused and expires after now; ErrNotFound otherwise (unknown, another principal's,
	// used or expired), changing nothing.
	ConsumeChallenge(id, principalID string, now time.Time) (Challenge, error)
	// PurgeChallenges deletes up to limit challenges that expired at or before now, oldest
	// first (by the expires_at index), and returns them.
	PurgeChallenges(now time.Time, limit int) ([]Challenge, error)
}

// Evidence stores what each operational certificate was issued on.
type Evidence interface {
	CreateEvidence(e environment.Evidence) error
	ListEvidence(deviceID string) ([]environment.Evidence, error)
	// CountRenewals is how many of the device's evidence rows are of kind renew, read from
	// an index of those alone (every renewal counts them for its policy).
	CountRenewals(deviceID string) (int, error)
	// LatestEvidence is the device's evidence row created last (of rows created at the same
	// time, the one with the lowest serial, the first of them ListEvidence lists), read as one
	// row from the (device_id, created_at) index; ErrNotFound when the device has none.
	LatestEvidence(deviceID string) (environment.Evidence, error)
}

// RevocationRun is one manufacturing revocation request.
type RevocationRun struct {
	ID             string          `json:"id"`
	ManufacturerID string          `json:"manufacturer_id"`
	Selector       FactorySelector `json:"selector"`
	Reason         int             `json:"reason"`
	RequestedBy    string          `json:"requested_by"`
	CreatedAt      time.Time       `json:"created_at"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
}

// CascadeItem is one certificate a run revoked or suspended.
type CascadeItem struct {
	RunID    string    `json:"run_id"`
	Serial   string    `json:"serial"`
	DeviceID string    `json:"device_id"`
	Action   string    `json:"action"` // factory-revoked or operational-suspended
	At       time.Time `json:"at"`
}

// Revocations stores manufacturing revocation runs and their cascade items.
type Revocations interface {
	CreateRun(r RevocationRun) error
	GetRun(id string) (RevocationRun, error)
	FinishRun(id string, at time.Time) error
	// AddItem records a cascade item; recording the same (run, serial) twice is a no-op.
	AddItem(i CascadeItem) error
	ListItems(runID string, afterSerial string, limit int) ([]CascadeItem, error)
}
