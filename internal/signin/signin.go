// Package signin lets people sign in to Hallmark with OpenID Connect against their own
// party's identity provider: authorization code with PKCE, the ID token verified for issuer,
// audience, expiry, signature and nonce, its claim mapped through a binding to a principal of
// that party, and a short, revocable session bound to the party.
//
// Contracts:
//   - Each party registers one provider (issuer, client ID, the name of the server's
//     environment variable holding the client secret, the claim naming a person, extra
//     redirect URIs). Only that party's administrators register it or bind claim values to
//     its principals. The secret is never stored.
//   - A flow's state is random, stored by hash, bound to one party, one nonce, one PKCE
//     verifier and one redirect URI, and consumed by its first use: a replayed state is
//     refused and creates nothing.
//   - A session token ("hms_…") is stored by hash; it authenticates its principal until it
//     expires (default 8 h) or is revoked, and only while the principal still belongs to the
//     session's party.
//   - Every session creation and revocation, provider registration and binding is audited.
package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Defaults.
const (
	DefaultSessionTTL = 8 * time.Hour
	DefaultFlowTTL    = 10 * time.Minute
	DefaultMaxFlows   = 1000
	// SessionPrefix marks session tokens, apart from principal tokens (party.TokenPrefix).
	SessionPrefix = "hms_"
	// MaxTokenLen bounds a presented session token; a real one is 30 characters.
	MaxTokenLen = 128
	// maxField bounds codes, states, claim values and URLs taken from outside.
	maxField = 2048
)

// Config holds the collaborators and limits; zero values take the defaults.
type Config struct {
	Store store.Store
	Now   func() time.Time
	// SessionTTL is how long a session lasts (signin.session_ttl; default 8 h).
	SessionTTL time.Duration
	// FlowTTL is how long a started sign-in waits for its callback (default 10 min).
	FlowTTL time.Duration
	// MaxFlows caps the sign-ins in progress per party (default 1000).
	MaxFlows int
	// HTTP reaches the identity providers (default: a client with a 10 s timeout).
	HTTP *http.Client
	// Getenv reads client secrets by the variable name a provider registration gives
	// (default os.Getenv, set by the caller).
	Getenv func(string) string
	// Dev enables DevSignIn (serve --dev only).
	Dev bool
	Log *slog.Logger
}

// Service is the sign-in service.
type Service struct {
	c Config

	mu        sync.Mutex
	providers map[string]*oidc.Provider // by issuer, discovered once
}

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.FlowTTL <= 0 {
		c.FlowTTL = DefaultFlowTTL
	}
	if c.MaxFlows <= 0 {
		c.MaxFlows = DefaultMaxFlows
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Getenv == nil {
		c.Getenv = func(string) string { return "" }
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Service{c: c, providers: map[string]*oidc.Provider{}}
}

// SessionTTL is the configured session lifetime.
func (s *Service) SessionTTL() time.Duration { return s.c.SessionTTL }

// Session is a session as callers see it (never its token or hash).
type Session struct {
	ID          string     `json:"id"`
	PrincipalID string     `json:"principal_id"`
	PartyID     string     `json:"party_id"`
	Method      string     `json:"method"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

func toSession(v store.Session) Session {
	return Session{ID: v.ID, PrincipalID: v.PrincipalID, PartyID: v.PartyID, Method: v.Method, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt, RevokedAt: v.RevokedAt}
}

// Issued is a new session and its bearer token, shown once.
type Issued struct {
	Token   string
	Session Session
}

// Authenticate resolves a session token to its principal. Unknown, revoked and expired
// sessions, sessions whose principal left the party, was disabled or was deleted (which
// deletes its sessions), are Unauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (party.Principal, Session, error) {
	if len(token) > MaxTokenLen {
		return party.Principal{}, Session{}, failure.New(failure.Unauthenticated, "the session token is longer than %d characters; it is not a Hallmark session", MaxTokenLen)
	}
	h := sha256.Sum256([]byte(token))
	var v store.Session
	var p party.Principal
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
		if v, err = tx.Signin().SessionByTokenHash(h[:]); err != nil {
			return err
		}
		p, err = tx.Parties().GetPrincipal(v.PrincipalID)
		return err
	})
	if failure.Is(err, failure.NotFound) {
		return p, Session{}, failure.New(failure.Unauthenticated, "the session is not valid; sign in again with hallmark login")
	}
	if err != nil {
		return p, Session{}, fmt.Errorf("authenticating a session: %w", err)
	}
	switch {
	case v.RevokedAt != nil:
		return party.Principal{}, Session{}, failure.New(failure.Unauthenticated, "the session %s was revoked at %s; sign in again", v.ID, v.RevokedAt.Format(time.RFC3339))
	case !s.c.Now().Before(v.ExpiresAt):
		return party.Principal{}, Session{}, failure.New(failure.Unauthenticated, "the session %s expired at %s; sign in again", v.ID, v.ExpiresAt.Format(time.RFC3339))
	case p.PartyID != v.PartyID:
		return party.Principal{}, Session{}, failure.New(failure.Unauthenticated, "the session %s is bound to party %s, which its principal no longer belongs to", v.ID, v.PartyID)
	case p.DisabledAt != nil:
		return party.Principal{}, Session{}, failure.New(failure.Unauthenticated, "the session %s is of principal %s, which is disabled", v.ID, p.ID)
	}
	return p, toSession(v), nil
}

// Revoke ends a session. Its own principal and administrators of its party may revoke it;
// to anyone else it does not exist.
func (s *Service) Revoke(ctx context.Context, a audit.Actor, id string) (Session, error) {
	now := s.c.Now()
	var out store.Session
	err := s.c.Store.Update(ctx, func(tx store.Tx) (err error) {
		if out, err = tx.Signin().GetSession(id); err != nil {
			return err
		}
		if out.PrincipalID != a.PrincipalID && !governance.IsPartyAdmin(a, out.PartyID) {
			return failure.New(failure.NotFound, "no session %s that you may revoke", id)
		}
		if out.RevokedAt != nil {
			return failure.New(failure.Conflict, "session %s was already revoked at %s", id, out.RevokedAt.Format(time.RFC3339))
		}
		if err := tx.Signin().RevokeSession(id, now); err != nil {
			return err
		}
		out.RevokedAt = &now
		_, err = tx.Audit().Append(governance.Event(a, now, "signin.revoke", "", "party:"+out.PartyID, "session:"+id, map[string]any{"principal_id": out.PrincipalID}))
		return err
	})
	return toSession(out), err
}

// issue creates a session for a principal in tx and audits it; a disabled principal gets none.
func (s *Service) issue(tx store.Tx, p party.Principal, method string, detail map[string]any) (Issued, error) {
	if p.DisabledAt != nil {
		return Issued{}, failure.New(failure.Denied, "principal %s is disabled: an administrator of %s enables it again", p.ID, p.PartyID)
	}
	now := s.c.Now()
	token := SessionPrefix + rand.Text()
	h := sha256.Sum256([]byte(token))
	v := store.Session{ID: party.NewID("ses"), TokenHash: h[:], PrincipalID: p.ID, PartyID: p.PartyID, Method: method, CreatedAt: now, ExpiresAt: now.Add(s.c.SessionTTL)}
	if err := tx.Signin().CreateSession(v); err != nil {
		return Issued{}, err
	}
	if detail == nil {
		detail = map[string]any{}
	}
	detail["session_id"], detail["method"], detail["expires_at"] = v.ID, method, v.ExpiresAt
	if _, err := tx.Audit().Append(governance.Event(governance.Actor(p), now, "signin.session", "", "party:"+p.PartyID, "principal:"+p.ID, detail)); err != nil {
		return Issued{}, err
	}
	return Issued{Token: token, Session: toSession(v)}, nil
}

// DevSignIn signs a demo person in without any identity provider; person is
// "<party>/<principal name>". It exists only when the service was built for serve --dev.
func (s *Service) DevSignIn(ctx context.Context, person string) (Issued, error) {
	if !s.c.Dev {
		return Issued{}, failure.New(failure.NotFound, "dev sign-in exists only under hallmark serve --dev")
	}
	partyID, name, ok := strings.Cut(person, "/")
	if !ok || partyID == "" || name == "" || len(person) > 200 {
		return Issued{}, failure.New(failure.Invalid, "person must be <party>/<name>, e.g. acme/alice (got %q)", person)
	}
	var out Issued
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		out = Issued{} // Update may run this again
		ps, err := tx.Parties().ListPrincipals(partyID)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Name == name {
				out, err = s.issue(tx, p, "dev", nil)
				return err
			}
		}
		return failure.New(failure.NotFound, "no person %s", person)
	})
	return out, err
}

// random returns n random bytes as URL-safe text (state, nonce, PKCE verifier).
func random() string { return rand.Text() + rand.Text() }

// hashState is the stored form of a state.
func hashState(state string) []byte { h := sha256.Sum256([]byte(state)); return h[:] }

// provider returns the discovered provider of an issuer, discovering it on first use. go-oidc
// refuses a discovery document whose issuer is not exactly the registered one.
func (s *Service) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	s.mu.Lock()
	p, ok := s.providers[issuer]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, s.c.HTTP), issuer)
	if err != nil {
		return nil, failure.Wrap(failure.Unavailable, err, fmt.Sprintf("discovering the identity provider %s", issuer))
	}
	s.mu.Lock()
	s.providers[issuer] = p
	s.mu.Unlock()
	return p, nil
}

func (s *Service) oauth(p *oidc.Provider, reg store.SigninProvider, redirect string) *oauth2.Config {
	secret := ""
	if reg.ClientSecretEnv != "" {
		secret = s.c.Getenv(reg.ClientSecretEnv)
	}
	return &oauth2.Config{ClientID: reg.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
}
