package signin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// StartRequest begins a sign-in with a party's provider. RedirectURI is where the provider
// sends the browser back: a loopback http URI on any port (RFC 8252, section 7.3) or one of
// the provider registration's redirect URIs.
type StartRequest struct {
	PartyID     string
	RedirectURI string
}

// Started is what the client needs: the URL to open and the state it will get back.
type Started struct {
	AuthorizationURL string
	State            string
	ExpiresAt        time.Time
}

// Start stores a flow (state, nonce, PKCE verifier, redirect URI, party) and returns the
// provider's authorization URL with the S256 code challenge.
func (s *Service) Start(ctx context.Context, r StartRequest) (Started, error) {
	if err := party.ValidSlug("party", r.PartyID); err != nil {
		return Started{}, err
	}
	var reg store.SigninProvider
	if err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { reg, err = tx.Signin().Provider(r.PartyID); return err }); err != nil {
		if failure.Is(err, failure.NotFound) {
			return Started{}, failure.New(failure.NotFound, "party %s has registered no identity provider", r.PartyID)
		}
		return Started{}, fmt.Errorf("reading the provider of %s: %w", r.PartyID, err)
	}
	if err := redirectAllowed(r.RedirectURI, reg.RedirectURIs); err != nil {
		return Started{}, err
	}
	p, err := s.provider(ctx, reg.Issuer)
	if err != nil {
		return Started{}, err
	}
	now := s.c.Now()
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	f := store.SigninFlow{StateHash: hashState(state), PartyID: r.PartyID, Nonce: nonce, Verifier: verifier, RedirectURI: r.RedirectURI, ExpiresAt: now.Add(s.c.FlowTTL)}
	err = s.c.Store.Update(ctx, func(tx store.Tx) error { return tx.Signin().CreateFlow(f, now, s.c.MaxFlows) })
	if failure.Is(err, failure.Conflict) {
		return Started{}, failure.New(failure.Unavailable, "party %s has %d sign-ins in progress; try again in a few minutes", r.PartyID, s.c.MaxFlows)
	}
	if err != nil {
		return Started{}, fmt.Errorf("storing the sign-in flow: %w", err)
	}
	u := s.oauth(p, reg, r.RedirectURI).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	return Started{AuthorizationURL: u, State: state, ExpiresAt: f.ExpiresAt}, nil
}

// FinishRequest is what the provider sent back to the redirect URI.
type FinishRequest struct {
	State string
	Code  string
}

// Finish consumes the flow named by the state, exchanges the code (with the PKCE verifier and
// the client secret), verifies the ID token, maps its claim through the party's bindings and
// issues a session. The flow is consumed even when a later step fails: a state works once.
func (s *Service) Finish(ctx context.Context, r FinishRequest) (Issued, error) {
	if r.State == "" || r.Code == "" {
		return Issued{}, failure.New(failure.Invalid, "send the state and code the identity provider returned")
	}
	if len(r.State) > maxField || len(r.Code) > maxField {
		return Issued{}, failure.New(failure.TooLarge, "the state and code must each be at most %d bytes", maxField)
	}
	now := s.c.Now()
	var f store.SigninFlow
	var reg store.SigninProvider
	err := s.c.Store.Update(ctx, func(tx store.Tx) (err error) {
		if f, err = tx.Signin().TakeFlow(hashState(r.State)); err != nil {
			return err
		}
		reg, err = tx.Signin().Provider(f.PartyID)
		return err
	})
	if failure.Is(err, failure.NotFound) {
		return Issued{}, failure.New(failure.Unauthenticated, "the state is unknown or was already used; start the sign-in again")
	}
	if err != nil {
		return Issued{}, fmt.Errorf("taking the sign-in flow: %w", err)
	}
	if !now.Before(f.ExpiresAt) {
		return Issued{}, failure.New(failure.Unauthenticated, "the sign-in started more than %s ago and expired; start it again", s.c.FlowTTL)
	}
	p, err := s.provider(ctx, reg.Issuer)
	if err != nil {
		return Issued{}, err
	}
	tok, err := s.oauth(p, reg, f.RedirectURI).Exchange(oidc.ClientContext(ctx, s.c.HTTP), r.Code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Issued{}, failure.Wrap(failure.Unauthenticated, err, fmt.Sprintf("the identity provider %s refused the code: %s %s", reg.Issuer, re.ErrorCode, re.ErrorDescription))
		}
		return Issued{}, failure.Wrap(failure.Unavailable, err, fmt.Sprintf("exchanging the code at %s", reg.Issuer))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Issued{}, failure.New(failure.Unauthenticated, "the identity provider %s returned no ID token", reg.Issuer)
	}
	value, err := s.verify(ctx, p, reg, raw, f.Nonce)
	if err != nil {
		return Issued{}, err
	}
	var out Issued
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		b, err := tx.Signin().Binding(reg.PartyID, value)
		if failure.Is(err, failure.NotFound) {
			return failure.New(failure.Denied, "%s %q of party %s is bound to no principal; ask an administrator of %s to bind it", reg.Claim, value, reg.PartyID, reg.PartyID)
		}
		if err != nil {
			return err
		}
		pr, err := tx.Parties().GetPrincipal(b.PrincipalID)
		if err != nil {
			return err
		}
		if pr.PartyID != reg.PartyID {
			return failure.New(failure.Denied, "the binding of %q names a principal outside party %s", value, reg.PartyID)
		}
		out, err = s.issue(tx, pr, "oidc", map[string]any{"issuer": reg.Issuer, "claim": reg.Claim, "value": value})
		return err
	})
	return out, err
}

// VerifyIDToken checks a raw ID token as Finish does for the party's registered provider
// (signature, issuer, audience = the party's client ID, expiry, nonce) and returns the value
// of the party's claim.
func (s *Service) VerifyIDToken(ctx context.Context, partyID, raw, nonce string) (string, error) {
	var reg store.SigninProvider
	if err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { reg, err = tx.Signin().Provider(partyID); return err }); err != nil {
		return "", fmt.Errorf("reading the provider of %s: %w", partyID, err)
	}
	p, err := s.provider(ctx, reg.Issuer)
	if err != nil {
		return "", err
	}
	return s.verify(ctx, p, reg, raw, nonce)
}

func (s *Service) verify(ctx context.Context, p *oidc.Provider, reg store.SigninProvider, raw, nonce string) (string, error) {
	if len(raw) > 64<<10 {
		return "", failure.New(failure.TooLarge, "the ID token is larger than 64 KiB")
	}
	v := p.VerifierContext(oidc.ClientContext(ctx, s.c.HTTP), &oidc.Config{ClientID: reg.ClientID, Now: s.c.Now})
	idt, err := v.Verify(oidc.ClientContext(ctx, s.c.HTTP), raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		iss := unverifiedIssuer(raw)
		switch {
		case iss != "" && iss != reg.Issuer:
			return "", failure.Wrap(failure.Unauthenticated, err, fmt.Sprintf("the ID token was not issued by party %s's provider %s (it names %.200q)", reg.PartyID, reg.Issuer, iss))
		case errors.As(err, &exp):
			return "", failure.Wrap(failure.Unauthenticated, err, fmt.Sprintf("the ID token expired at %s", exp.Expiry.UTC().Format(time.RFC3339)))
		case strings.Contains(err.Error(), "issued by a different provider"):
			return "", failure.Wrap(failure.Unauthenticated, err, fmt.Sprintf("the ID token was not issued by party %s's provider %s", reg.PartyID, reg.Issuer))
		case strings.Contains(err.Error(), "expected audience"):
			return "", failure.Wrap(failure.Unauthenticated, err, fmt.Sprintf("the ID token is not meant for client %s of party %s (wrong audience)", reg.ClientID, reg.PartyID))
		}
		return "", failure.Wrap(failure.Unauthenticated, err, "the ID token is not valid: "+err.Error())
	}
	if idt.Nonce != nonce {
		return "", failure.New(failure.Unauthenticated, "the ID token's nonce does not match this sign-in (replayed or from another sign-in)")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return "", failure.Wrap(failure.Unauthenticated, err, "the ID token's claims are not a JSON object")
	}
	value, _ := claims[reg.Claim].(string)
	if value == "" || len(value) > 256 {
		return "", failure.New(failure.Denied, "the ID token has no claim %s with a string of 1-256 characters; party %s maps principals by it", reg.Claim, reg.PartyID)
	}
	return value, nil
}

// unverifiedIssuer reads the iss claim of a JWT without verifying it, only to explain a
// refusal; "" when the token is not a readable JWT.
func unverifiedIssuer(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Iss
}

// redirectAllowed accepts loopback http URIs on any port (RFC 8252, section 7.3) and the
// registration's exact URIs.
func redirectAllowed(uri string, registered []string) error {
	if uri == "" {
		return failure.New(failure.Invalid, "give redirect_uri: a loopback http URI (http://127.0.0.1:PORT/...) or one registered for the party")
	}
	if len(uri) > maxField {
		return failure.New(failure.TooLarge, "redirect_uri is longer than %d bytes", maxField)
	}
	if slices.Contains(registered, uri) || isLoopbackHTTP(uri) {
		return nil
	}
	return failure.New(failure.Invalid, "redirect_uri %q is neither a loopback http URI nor registered for the party", uri)
}

// isLoopbackHTTP reports whether uri is http on 127.0.0.1, [::1] or localhost, with no
// user info or fragment.
func isLoopbackHTTP(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
