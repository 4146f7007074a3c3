package api

import "time"

// PrincipalToken is the record of one bearer token of a principal; the token itself is shown
// only when it is made (IssuedToken).
type PrincipalToken struct {
	ID          string `json:"id"`
	PrincipalID string `json:"principal_id"`
	// State is active, overlap (superseded by a rotation, working until expires_at), expired,
	// revoked, or upgrade-pending (from before the upgrade, no expiry yet: it does not work).
	State        string     `json:"state"`
	CreatedAt    time.Time  `json:"created_at"`
	CreatedBy    string     `json:"created_by,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	SupersededBy string     `json:"superseded_by,omitempty"`
	// Handover marks a hand-over token: minted by a deployment administrator for a principal
	// of a party, or in a request authenticated by a hand-over token. It lives at most 72h,
	// and its principal is a handover gap until the party mints it a token otherwise
	// (docs/governance.md, Roles).
	Handover bool `json:"handover,omitempty"`
}

// RotateTokenRequest asks for a new token of a principal (POST /v1/principals/{id}/tokens).
type RotateTokenRequest struct {
	// Overlap is how long the principal's current tokens keep working beside the new one, a
	// Go duration such as "24h"; "0s" or absent ends them at once. At most the deployment's
	// maximum overlap (7 days unless configured).
	Overlap string `json:"overlap,omitempty"`
	// Lifetime of the new token, a Go duration; absent: the deployment's maximum.
	Lifetime string `json:"lifetime,omitempty"`
}

// IssuedToken is a new token: its record and the bearer token, shown this once.
type IssuedToken struct {
	PrincipalToken
	Token string `json:"token"`
}

// AccessRequest asks, as a deployment administrator, for break-glass access to a party's
// principals (POST /v1/parties/{id}/access).
type AccessRequest struct {
	Reason string `json:"reason"`
	// Duration is the window asked for, a Go duration from "1m" to "24h"; absent: "1h". It
	// starts when an administrator of the party approves.
	Duration string `json:"duration,omitempty"`
}

// Access is a break-glass request: a deployment administrator's time-bound right to manage one
// party's principals, approved or denied by an administrator of that party and listed to all
// of its principals. It never lets the deployment administrator act as the party.
type Access struct {
	ID          string `json:"id"`
	PartyID     string `json:"party_id"`
	PrincipalID string `json:"principal_id"` // the deployment administrator who asked
	Reason      string `json:"reason"`
	Duration    string `json:"duration"`
	// State is pending, approved (open until until), denied, ended (early), expired (never
	// decided) or over (the window has passed).
	State       string     `json:"state"`
	RequestedAt time.Time  `json:"requested_at"`
	ExpiresAt   time.Time  `json:"expires_at"` // an undecided request lapses then
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	Comment     string     `json:"comment,omitempty"`
	Until       *time.Time `json:"until,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	EndedBy     string     `json:"ended_by,omitempty"`
}

// AccessDecision approves or denies a break-glass request (POST /v1/access/{id}/decision).
type AccessDecision struct {
	Approve bool   `json:"approve"`
	Comment string `json:"comment,omitempty"`
}
