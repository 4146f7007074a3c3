package api

import (
	"encoding/json"
	"time"
)

// Party is an organisation in a device's life.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Kind is manufacturer, contract-manufacturer, distributor, integrator, operator,
	// support-vendor or auditor.
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
}

// CreatePartyRequest creates a party (POST /v1/parties); ID is a slug chosen by the caller.
type CreatePartyRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"` // as Party.Kind
}

// Principal is a person or service account of a party, or a deployment administrator
// (PartyID "*", the deployment scope, which is no party); its tokens are never shown again.
type Principal struct {
	ID      string `json:"id"`
	PartyID string `json:"party_id"`
	Name    string `json:"name"`
	Kind    string `json:"kind"` // person or service
	// Admin marks an administrator of its party (it manages the party's principals, their
	// tokens and duty limits) or, with PartyID "*", of the deployment (it creates parties and
	// their first administrators and sets deployment-wide settings; it never acts as a party).
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy is the principal that created this one; AccessID the break-glass request it
	// was created under, if any.
	CreatedBy  string     `json:"created_by,omitempty"`
	AccessID   string     `json:"access_id,omitempty"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"` // a disabled principal cannot authenticate
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// CreatePrincipalRequest creates a principal (POST /v1/principals); PartyID "*" creates a
// deployment administrator.
type CreatePrincipalRequest struct {
	PartyID string `json:"party_id"`
	Name    string `json:"name"`
	Kind    string `json:"kind"` // person (the default) or service
	Admin   bool   `json:"admin"`
	// TokenLifetime is the first token's lifetime, a Go duration such as "720h"; absent: the
	// deployment's maximum (90 days unless configured).
	TokenLifetime string `json:"token_lifetime,omitempty"`
}

// CreatedPrincipal is a new principal with its first bearer token, which the server shows this
// once and stores only as a hash.
type CreatedPrincipal struct {
	Principal
	Token          string    `json:"token"`
	TokenID        string    `json:"token_id"`
	TokenExpiresAt time.Time `json:"token_expires_at"`
}

// Scope is what an ownership cell covers: kind deployment (ID "*"), manufacturer, model, lot,
// operator, environment or vendor, and the ID of that thing.
type Scope struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Cell is one entry of the ownership matrix: the party that owns a duty of a stage over a
// scope (GET and PUT /v1/ownership).
type Cell struct {
	Stage   string `json:"stage"` // manufacturing, operational or support
	Duty    string `json:"duty"`  // issue, renew, revoke, audit or approve
	Scope   Scope  `json:"scope"`
	PartyID string `json:"party_id"`
}

// Pair is a stage and a duty, written "stage/duty" on the command line.
type Pair struct {
	Stage string `json:"stage"`
	Duty  string `json:"duty"`
}

// SetDutiesRequest limits a principal to duties, each "stage/duty" such as
// "operational/issue" (PUT /v1/principals/{id}/duties); an empty list lifts the limit.
type SetDutiesRequest struct {
	Duties []string `json:"duties"`
}

// SoDRule is a separation-of-duties rule: no one principal may hold both duties over one
// scope.
type SoDRule struct {
	ID string    `json:"id"`
	A  Pair      `json:"a"`
	B  Pair      `json:"b"`
	By string    `json:"created_by"`
	At time.Time `json:"created_at"`
}

// SoDRuleRequest adds a separation-of-duties rule (POST /v1/sod-rules); A and B are
// "stage/duty".
type SoDRuleRequest struct {
	ID string `json:"id"`
	A  string `json:"a"`
	B  string `json:"b"`
}

// Approval is one approval request: an action of Kind (support-grant, readmit, revoke-ca or
// onboard) that waits for Approvers principals of the approver party to decide.
type Approval struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"` // pending, approved, denied, expired (undecided, or approved and unused by execute_by), cancelled or executed
	// RequesterParty and RequesterPrincipal asked; ApproverParty owns the approve duty over
	// Scope.
	RequesterParty     string `json:"requester_party"`
	RequesterPrincipal string `json:"requester_principal"`
	ApproverParty      string `json:"approver_party"`
	Scope              string `json:"scope"`   // e.g. environment:env-1
	Subject            string `json:"subject"` // e.g. device:dev-1
	Reason             string `json:"reason"`
	// Until is the end of the access asked for, when it has one.
	Until      *time.Time         `json:"until,omitempty"`
	Payload    json.RawMessage    `json:"payload,omitempty"`
	Approvers  int                `json:"approvers"`
	OtherParty bool               `json:"other_party"`
	Decisions  []ApprovalDecision `json:"decisions"`
	// Quorum, on a governance change, is the n-of-m approver groups that must approve it;
	// Approvers is then their total.
	Quorum    []ApprovalSeat `json:"quorum,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	ExpiresAt time.Time      `json:"expires_at"`
	DecidedAt *time.Time     `json:"decided_at,omitempty"`
	// ExecuteBy, on an approved request, is when it lapses (state expired) unless its action
	// has run: as long after the approval as the request had to be decided in.
	ExecuteBy  *time.Time `json:"execute_by,omitempty"`
	ExecutedAt *time.Time `json:"executed_at,omitempty"`
}

// ApprovalDecision is one principal's approval or denial of an approval request.
type ApprovalDecision struct {
	PartyID     string `json:"party_id"`
	PrincipalID string `json:"principal_id"`
	Approve     bool   `json:"approve"`
	Comment     string `json:"comment,omitempty"`
	// Group is the approver group whose seat the decision took (governance changes).
	Group string    `json:"group,omitempty"`
	At    time.Time `json:"at"`
}

// Decision is what an approver says (POST /v1/approvals/{id}/decision).
type Decision struct {
	Approve bool   `json:"approve"`
	Comment string `json:"comment,omitempty"`
}

// DecideResult is a decided approval request and, when it became approved and the server
// ran the approved action at once, what running it did.
type DecideResult struct {
	Approval Approval `json:"approval"`
	// Executed is true when the approved action ran; ExecError says why it did not.
	Executed  bool   `json:"executed"`
	ExecError string `json:"execution_error,omitempty"`
}

// ApprovalRule says who may approve requests of one kind (GET /v1/approval-rules).
type ApprovalRule struct {
	Kind string `json:"kind"`
	// Approvers is how many distinct principals must approve: 1 or 2.
	Approvers int `json:"approvers"`
	// OtherParty requires approvers of another party than the requester's.
	OtherParty bool `json:"other_party"`
	// Expiry is how long an undecided request stays open, a Go duration such as "72h0m0s".
	Expiry string `json:"expiry"`
	Stored bool   `json:"stored"` // false: the built-in default
}

// SetApprovalRuleRequest sets the rule of one approval kind
// (PUT /v1/approval-rules/{kind}).
type SetApprovalRuleRequest struct {
	Approvers  int    `json:"approvers"`
	OtherParty bool   `json:"other_party"`
	Expiry     string `json:"expiry"` // a Go duration, e.g. 72h
}
