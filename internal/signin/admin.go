package signin

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Provider is a party's registered identity provider; Binding maps a claim value to a
// principal.
type (
	Provider = store.SigninProvider
	Binding  = store.SigninBinding
)

// ProviderRequest registers or replaces a party's identity provider.
type ProviderRequest struct {
	PartyID         string
	Issuer          string
	ClientID        string
	ClientSecretEnv string
	Claim           string
	RedirectURIs    []string
}

var (
	envName   = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,127}$`)
	claimName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
)

// requirePartyAdmin refuses callers that are not administrators of partyID: a deployment
// administrator (party "*") is none, break-glass or not.
func requirePartyAdmin(a audit.Actor, partyID, what string) error {
	if !governance.IsPartyAdmin(a, partyID) || partyID == party.Deployment {
		return failure.New(failure.Denied, "%s needs an administrator of party %s", what, partyID)
	}
	return nil
}

// SetProvider registers (or replaces) the party's provider. The issuer must be https, or http
// on loopback; the client secret is named by an environment variable of the server, never
// sent. The provider is not contacted here: Start discovers it.
func (s *Service) SetProvider(ctx context.Context, a audit.Actor, r ProviderRequest) (store.SigninProvider, error) {
	if err := party.ValidSlug("party", r.PartyID); err != nil {
		return store.SigninProvider{}, err
	}
	if err := requirePartyAdmin(a, r.PartyID, "registering the identity provider"); err != nil {
		return store.SigninProvider{}, err
	}
	if err := validIssuer(r.Issuer); err != nil {
		return store.SigninProvider{}, err
	}
	if r.ClientID == "" || len(r.ClientID) > 256 {
		return store.SigninProvider{}, failure.New(failure.Invalid, "client_id must be 1-256 characters")
	}
	if r.ClientSecretEnv != "" && !envName.MatchString(r.ClientSecretEnv) {
		return store.SigninProvider{}, failure.New(failure.Invalid, "client_secret_env %q must name an environment variable (A-Z, 0-9, _)", r.ClientSecretEnv)
	}
	if r.Claim == "" {
		r.Claim = "sub"
	}
	if !claimName.MatchString(r.Claim) {
		return store.SigninProvider{}, failure.New(failure.Invalid, "claim %q must be 1-64 letters, digits or _.:-", r.Claim)
	}
	if len(r.RedirectURIs) > 16 {
		return store.SigninProvider{}, failure.New(failure.Invalid, "at most 16 redirect_uris")
	}
	for _, u := range r.RedirectURIs {
		if p, err := url.Parse(u); err != nil || len(u) > maxField || p.Fragment != "" || !(p.Scheme == "https" && p.Host != "" || isLoopbackHTTP(u)) {
			return store.SigninProvider{}, failure.New(failure.Invalid, "redirect URI %q must be an https URL (or loopback http) without a fragment", u)
		}
	}
	now := s.c.Now()
	p := store.SigninProvider{PartyID: r.PartyID, Issuer: r.Issuer, ClientID: r.ClientID, ClientSecretEnv: r.ClientSecretEnv, Claim: r.Claim, RedirectURIs: r.RedirectURIs, UpdatedBy: a.PrincipalID, UpdatedAt: now}
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Parties().GetParty(r.PartyID); err != nil {
			return err
		}
		if err := tx.Signin().PutProvider(p); err != nil {
			return err
		}
		_, err := tx.Audit().Append(governance.Event(a, now, "signin.provider", "", "party:"+r.PartyID, "party:"+r.PartyID,
			map[string]any{"issuer": p.Issuer, "client_id": p.ClientID, "client_secret_env": p.ClientSecretEnv, "claim": p.Claim, "redirect_uris": p.RedirectURIs}))
		return err
	})
	return p, err
}

// Provider returns the party's registration; any principal of the party may read it, and a
// deployment administrator (who may not change it). Administrators of other parties may not.
func (s *Service) Provider(ctx context.Context, a audit.Actor, partyID string) (store.SigninProvider, error) {
	if a.PartyID != partyID && !governance.IsDeploymentAdmin(a) {
		return store.SigninProvider{}, failure.New(failure.NotFound, "party %s has no identity provider you may see", partyID)
	}
	var p store.SigninProvider
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { p, err = tx.Signin().Provider(partyID); return err })
	return p, err
}

func validIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || issuer == "" || len(issuer) > 512 || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return failure.New(failure.Invalid, "issuer %q must be an absolute URL without query or fragment", issuer)
	}
	if u.Scheme != "https" && !isLoopbackHTTP(issuer) {
		return failure.New(failure.Invalid, "issuer %q must be https (http only on loopback)", issuer)
	}
	return nil
}

// Bind maps a claim value of the party's provider to one of the party's principals. Only
// administrators of that party bind.
func (s *Service) Bind(ctx context.Context, a audit.Actor, partyID, value, principalID string) (store.SigninBinding, error) {
	if err := requirePartyAdmin(a, partyID, "binding an identity"); err != nil {
		return store.SigninBinding{}, err
	}
	if value == "" || len(value) > 256 {
		return store.SigninBinding{}, failure.New(failure.Invalid, "the claim value must be 1-256 characters")
	}
	now := s.c.Now()
	b := store.SigninBinding{PartyID: partyID, ClaimValue: value, PrincipalID: principalID, CreatedBy: a.PrincipalID, CreatedAt: now}
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Signin().Provider(partyID); err != nil {
			if failure.Is(err, failure.NotFound) {
				return failure.New(failure.Invalid, "party %s has registered no identity provider; register one first", partyID)
			}
			return err
		}
		pr, err := tx.Parties().GetPrincipal(principalID)
		if err != nil || pr.PartyID != partyID {
			if err == nil || failure.Is(err, failure.NotFound) {
				return failure.New(failure.Invalid, "party %s has no principal %s", partyID, principalID)
			}
			return err
		}
		if err := tx.Signin().PutBinding(b); err != nil {
			return err
		}
		_, err = tx.Audit().Append(governance.Event(a, now, "signin.bind", "", "party:"+partyID, "principal:"+principalID, map[string]any{"value": value}))
		return err
	})
	return b, err
}

// Unbind removes a binding; only administrators of the party.
func (s *Service) Unbind(ctx context.Context, a audit.Actor, partyID, value string) error {
	if err := requirePartyAdmin(a, partyID, "removing an identity binding"); err != nil {
		return err
	}
	now := s.c.Now()
	return s.c.Store.Update(ctx, func(tx store.Tx) error {
		b, err := tx.Signin().Binding(partyID, value)
		if err != nil {
			return err
		}
		if err := tx.Signin().DeleteBinding(partyID, value); err != nil {
			return err
		}
		_, err = tx.Audit().Append(governance.Event(a, now, "signin.unbind", "", "party:"+partyID, "principal:"+b.PrincipalID, map[string]any{"value": value}))
		return err
	})
}

// Bindings lists the party's bindings; its administrators only.
func (s *Service) Bindings(ctx context.Context, a audit.Actor, partyID string) ([]store.SigninBinding, error) {
	if err := requirePartyAdmin(a, partyID, "listing identity bindings"); err != nil {
		return nil, err
	}
	var out []store.SigninBinding
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.Signin().ListBindings(partyID); return err })
	if err != nil {
		return nil, fmt.Errorf("listing bindings of %s: %w", partyID, err)
	}
	return out, nil
}
