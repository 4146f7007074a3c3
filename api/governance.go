package api

import "time"

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

// Principal is a person or service account of a party; its token is never shown again.
type Principal struct {
	ID      string `json:"id"`
	PartyID string `json:"party_id"`
	Name    string `json:"name"`
	Kind    string `json:"kind"` // person or service
	// Admin marks a deployment administrator: creates parties and principals, edits any cell.
	Admin      bool       `json:"admin"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// CreatePrincipalRequest creates a principal (POST /v1/principals).
type CreatePrincipalRequest struct {
	PartyID string `json:"party_id"`
	Name    string `json:"name"`
	Kind    string `json:"kind"` // person (the default) or service
	Admin   bool   `json:"admin"`
}

// CreatedPrincipal is a new principal with its bearer token, which the server shows this once
// and stores only as a hash.
type CreatedPrincipal struct {
	Principal
	Token string `json:"token"`
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
