package store

import "time"

// SigninProvider is a party's OpenID Connect identity provider (migration 0016_signin.sql).
type SigninProvider struct {
	PartyID  string
	Issuer   string
	ClientID string
	// ClientSecretEnv names the server's environment variable holding the client secret;
	// "" for a public client (PKCE only). The secret itself is never stored.
	ClientSecretEnv string
	// Claim is the ID token claim whose value names a principal through a binding.
	Claim        string
	RedirectURIs []string
	UpdatedBy    string
	UpdatedAt    time.Time
}

// SigninBinding maps one claim value of a party's provider to a principal of that party.
type SigninBinding struct {
	PartyID     string
	ClaimValue  string
	PrincipalID string
	CreatedBy   string
	CreatedAt   time.Time
}

// SigninFlow is a pending authorization request, stored by the hash of its state.
type SigninFlow struct {
	StateHash   []byte
	PartyID     string
	Nonce       string
	Verifier    string
	RedirectURI string
	ExpiresAt   time.Time
}

// Session is a signed-in session, stored by the hash of its bearer token.
type Session struct {
	ID          string
	TokenHash   []byte
	PrincipalID string
	PartyID     string
	Method      string // "oidc" or "dev"
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RevokedAt   *time.Time
}

// Signin stores sign-in providers, bindings, pending flows and sessions. Flow writes are
// nonces, exempt from the audit rule; every other write is identity state.
type Signin interface {
	PutProvider(p SigninProvider) error
	Provider(partyID string) (SigninProvider, error)
	PutBinding(b SigninBinding) error
	DeleteBinding(partyID, claimValue string) error
	Binding(partyID, claimValue string) (SigninBinding, error)
	ListBindings(partyID string) ([]SigninBinding, error)
	// CreateFlow stores a flow after deleting the party's expired ones; it refuses with
	// ErrConflict when the party already has max live flows.
	CreateFlow(f SigninFlow, now time.Time, max int) error
	// TakeFlow deletes and returns the flow with this state hash (ErrNotFound: unknown or
	// already taken), so that a state is used at most once.
	TakeFlow(stateHash []byte) (SigninFlow, error)
	CreateSession(s Session) error
	SessionByTokenHash(hash []byte) (Session, error)
	GetSession(id string) (Session, error)
	// RevokeSession sets revoked_at once; ErrNotFound when there is no such live session.
	RevokeSession(id string, at time.Time) error
}
