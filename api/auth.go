package api

import "time"

// Sign-in with OpenID Connect (docs/signin.md).

// SigninProviderRequest registers or replaces a party's identity provider. The client secret
// is never sent: ClientSecretEnv names the server's environment variable holding it ("" for
// a public client using PKCE alone).
type SigninProviderRequest struct {
	Issuer          string   `json:"issuer"`
	ClientID        string   `json:"client_id"`
	ClientSecretEnv string   `json:"client_secret_env,omitempty"`
	Claim           string   `json:"claim,omitempty"` // default "sub"
	RedirectURIs    []string `json:"redirect_uris,omitempty"`
}

// SigninProvider is a party's registered identity provider.
type SigninProvider struct {
	PartyID         string    `json:"party_id"`
	Issuer          string    `json:"issuer"`
	ClientID        string    `json:"client_id"`
	ClientSecretEnv string    `json:"client_secret_env,omitempty"`
	Claim           string    `json:"claim"`
	RedirectURIs    []string  `json:"redirect_uris"`
	UpdatedBy       string    `json:"updated_by"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// BindRequest binds a claim value (in the path) to a principal of the party.
type BindRequest struct {
	PrincipalID string `json:"principal_id"`
}

// SigninBinding maps a claim value of a party's provider to one of its principals.
type SigninBinding struct {
	PartyID     string    `json:"party_id"`
	Value       string    `json:"value"`
	PrincipalID string    `json:"principal_id"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// SigninStartRequest begins a sign-in with the party's provider; RedirectURI is a loopback
// http URI (RFC 8252) or one registered for the party.
type SigninStartRequest struct {
	Party       string `json:"party"`
	RedirectURI string `json:"redirect_uri"`
}

// SigninStart is the URL to open in a browser and the state it comes back with.
type SigninStart struct {
	AuthorizationURL string    `json:"authorization_url"`
	State            string    `json:"state"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// SigninFinishRequest is what the provider sent to the redirect URI.
type SigninFinishRequest struct {
	State string `json:"state"`
	Code  string `json:"code"`
}

// DevSigninRequest signs a demo person in under serve --dev ("acme/alice").
type DevSigninRequest struct {
	Person string `json:"person"`
}

// Session is a signed-in session.
type Session struct {
	ID          string     `json:"id"`
	PrincipalID string     `json:"principal_id"`
	PartyID     string     `json:"party_id"`
	Method      string     `json:"method"` // "oidc" or "dev"
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

// SessionWithToken is a new session and its bearer token ("hms_…"), shown once. Dev is true
// for a dev sign-in, which no real deployment offers.
type SessionWithToken struct {
	Token   string  `json:"token"`
	Session Session `json:"session"`
	Dev     bool    `json:"dev"`
}
