package store

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/party"
)

// PrincipalStore stores principals and their tokens.
type PrincipalStore interface {
	CreatePrincipal(p party.Principal) error
	GetPrincipal(id string) (party.Principal, error)
	// ListPrincipals lists one party's principals by name (party.Deployment: the deployment
	// administrators), or, with "", every principal by party and name.
	ListPrincipals(partyID string) ([]party.Principal, error)
	// LiveAdmins counts partyID's enabled administrators that can sign in at now: that hold a
	// token valid at now, or that a claim of the party's identity provider is bound to
	// (signin_bindings; they sign in with the provider, whatever their tokens).
	LiveAdmins(partyID string, now time.Time) (int, error)
	// SetDisabled disables a principal (at set) or enables it (nil); ErrNotFound when unknown.
	SetDisabled(principalID string, at *time.Time) error
	// DeletePrincipal deletes a principal with its tokens and duty limits; ErrNotFound when
	// unknown.
	DeletePrincipal(principalID string) error

	// CreateToken stores a token of an existing principal with the SHA-256 of its secret.
	CreateToken(t party.Token, hash []byte) error
	// TokenByHash returns the token whose secret hashes to hash, with its principal;
	// ErrNotFound when there is none. Whether it is still valid is the caller's to judge.
	TokenByHash(hash []byte) (party.Principal, party.Token, error)
	GetToken(id string) (party.Token, error)
	// ListTokens returns tokens with their principals, newest first within a principal.
	ListTokens(f TokenFilter) ([]PrincipalToken, error)
	// SupersedeTokens marks every token of principalID other than newID that is neither
	// revoked nor expired at now as superseded by newID, ending it at until unless it ends
	// sooner, and says how many it marked.
	SupersedeTokens(principalID, newID string, now, until time.Time) (int, error)
	// RevokeToken revokes a token at at; ErrNotFound when unknown, ErrConflict when it is
	// revoked already.
	RevokeToken(id string, at time.Time) error
	// LegacyTokens counts the tokens without an expiry (from before migration 0020);
	// SetLegacyExpiry gives each of them the expiry at and says how many it changed.
	LegacyTokens() (int, error)
	SetLegacyExpiry(at time.Time) (int, error)

	// PrincipalLineage returns who created principalID, kept after the principal is deleted
	// (migration 0031: written with every principal, never changed or deleted);
	// ErrNotFound when no principal of that id was ever recorded.
	PrincipalLineage(principalID string) (PrincipalLineage, error)
	// DeploymentCreations returns, oldest first, when each principal of partyID that a
	// deployment administrator (a principal whose lineage party is party.Deployment) created
	// at or after since was created, deleted principals included: read from the lineage, so
	// deleting a principal does not take it out of the count (the hand-over bound,
	// party.HandoverLimit). At most 1000.
	DeploymentCreations(partyID string, since time.Time) ([]time.Time, error)
}

// PrincipalLineage is a principal's creation as recorded when it was made: its party then and
// the principal that created it ("" when none did, as for the bootstrap administrator).
type PrincipalLineage struct {
	PrincipalID string
	PartyID     string
	CreatedBy   string
	CreatedAt   time.Time
}

// TokenFilter selects tokens; zero fields match everything.
type TokenFilter struct {
	PrincipalID string
	PartyID     string
	// LiveAt keeps the tokens that are neither revoked nor expired at this instant.
	LiveAt time.Time
	Limit  int // 0: 10000
}

// PrincipalToken is a token with its principal.
type PrincipalToken struct {
	Token     party.Token
	Principal party.Principal
}

// AccessFilter selects break-glass requests; zero fields match everything.
type AccessFilter struct {
	PartyID     string
	PrincipalID string
	Limit       int // 0: 1000
}

// AccessStore stores break-glass requests (party.Access).
type AccessStore interface {
	CreateAccess(a party.Access) error
	GetAccess(id string) (party.Access, error)
	// UpdateAccess writes a if the stored request is still in state expect; otherwise
	// ErrConflict and nothing is written.
	UpdateAccess(a party.Access, expect party.AccessState) error
	// ListAccess returns requests, newest first.
	ListAccess(f AccessFilter) ([]party.Access, error)
}
