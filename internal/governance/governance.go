// Package governance answers "who may do this?": it manages parties and principals,
// authenticates bearer tokens, edits the ownership matrix and authorises every operation
// against it. A refusal names the stage, duty and scope that the caller's party did not own.
package governance

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Config holds the collaborators.
type Config struct {
	Store store.Store
	Now   func() time.Time
	// TokenLifetime is the longest, and the default, lifetime of a principal token
	// (party.DefaultTokenLifetime when zero); MaxOverlap bounds the overlap of a rotation
	// (party.DefaultMaxOverlap when zero).
	TokenLifetime time.Duration
	MaxOverlap    time.Duration
}

// Service is the governance service.
type Service struct {
	st  store.Store
	now func() time.Time

	tokenLifetime, maxOverlap time.Duration

	execMu sync.RWMutex
	exec   map[approval.Kind]Executor
	denied map[approval.Kind]func(context.Context, approval.Request) error
}

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = party.DefaultTokenLifetime
	}
	if c.MaxOverlap == 0 {
		c.MaxOverlap = party.DefaultMaxOverlap
	}
	s := &Service{st: c.Store, now: c.Now, tokenLifetime: c.TokenLifetime, maxOverlap: c.MaxOverlap}
	s.registerChangeExecutors()
	return s
}

// Actor returns the audit actor for a principal, with the token it authenticated with
// (p.TokenID, set by Authenticate only).
func Actor(p party.Principal) audit.Actor {
	return audit.Actor{PartyID: p.PartyID, PrincipalID: p.ID, Admin: p.Admin, TokenID: p.TokenID}
}

// Event builds an audit event for actor at now.
func Event(a audit.Actor, now time.Time, action string, stage ownership.Stage, scope, subject string, detail any) audit.Event {
	e := audit.Event{At: now, PartyID: a.PartyID, PrincipalID: a.PrincipalID, Action: action, Stage: string(stage), Scope: scope, Subject: subject}
	if detail != nil {
		e.Detail = audit.Detail(detail)
	}
	return e
}

// Authenticate resolves a bearer token to its principal (with TokenID set). A token
// authenticates while it is neither revoked nor expired (nor, after a rotation, past its
// overlap) and its principal is enabled; expiry and overlap are judged against now on every
// call. When the store caches (CachedReads, as the server's does: internal/readcache), the
// token row may come from the cache: a revocation, rotation or disabling committed through
// this process refuses the token's next request; one committed through another replica (or
// by hand in SQL) refuses every request that starts more than the cache's staleness bound
// (store.cache_staleness, 250 ms by default) after its commit. Without a cache the store is
// read on every call.
func (s *Service) Authenticate(ctx context.Context, token string) (party.Principal, error) {
	h := party.HashToken(token)
	var p party.Principal
	var tok party.Token
	var err error
	if c, ok := s.st.(CachedReads); ok {
		p, tok, err = c.CachedToken(ctx, h[:])
	} else {
		err = s.st.View(ctx, func(tx store.Tx) (err error) {
			p, tok, err = tx.Parties().TokenByHash(h[:])
			return err
		})
	}
	if err != nil {
		if failure.Is(err, failure.NotFound) {
			return party.Principal{}, failure.New(failure.Unauthenticated, "the bearer token is not valid")
		}
		return party.Principal{}, fmt.Errorf("authenticating: %w", err)
	}
	now := s.now()
	switch tok.State(now) {
	case party.TokenRevoked:
		return party.Principal{}, failure.New(failure.Unauthenticated, "the bearer token %s was revoked at %s", tok.ID, tok.RevokedAt.Format(time.RFC3339Nano))
	case party.TokenExpired:
		return party.Principal{}, failure.New(failure.Unauthenticated, "the bearer token %s expired at %s: ask an administrator of your party for a new one", tok.ID, tok.ExpiresAt.Format(time.RFC3339))
	case party.TokenPending:
		return party.Principal{}, failure.New(failure.Unauthenticated, "the bearer token %s predates the upgrade and has no expiry yet: it works once a server of this version has started", tok.ID)
	}
	if p.DisabledAt != nil {
		return party.Principal{}, failure.New(failure.Unauthenticated, "principal %s is disabled", p.ID)
	}
	p.TokenID = tok.ID
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > time.Minute {
		// Best effort, at most once a minute: "last use" needs only this much.
		_ = s.st.TouchToken(ctx, p.ID, tok.ID, now)
	}
	return p, nil
}

// RequireAdmin refuses callers that are not deployment administrators.
func RequireAdmin(a audit.Actor, what string) error {
	if !IsDeploymentAdmin(a) {
		return failure.New(failure.Denied, "%s needs a deployment administrator", what)
	}
	return nil
}

// Require checks that the actor's party owns (stage, duty) over the chain, resolving the most
// specific cell, and that the principal may use that duty: it is not limited to other duties
// and holds no duty that a separation-of-duties rule keeps apart from this one over the same
// scope (sod.go). Deployment administrators do not bypass it: the matrix governs identities.
func Require(tx store.Tx, a audit.Actor, stage ownership.Stage, duty ownership.Duty, chain ownership.Chain) error {
	var lookupErr error
	owner, _, ok := ownership.Resolve(stage, duty, chain, func(k ownership.Key) (string, bool) {
		p, found, err := tx.Ownership().Owner(k)
		if err != nil && lookupErr == nil {
			lookupErr = err
		}
		return p, found
	})
	if lookupErr != nil {
		return fmt.Errorf("reading the ownership matrix: %w", lookupErr)
	}
	if ok && owner == a.PartyID {
		return checkPrincipal(tx, a, stage, duty, chain)
	}
	return &ownership.DeniedError{PartyID: a.PartyID, Stage: stage, Duty: duty, Scope: chain[0], Owner: owner}
}

// LotChain is a lot's scope and its ancestors.
func LotChain(l device.Lot) ownership.Chain {
	return ownership.Chain{
		{Kind: ownership.Lot, ID: l.ID},
		{Kind: ownership.Model, ID: l.ModelID},
		{Kind: ownership.Manufacturer, ID: l.ManufacturerID},
	}
}

// ModelChain is a model's scope and its manufacturer.
func ModelChain(m device.Model) ownership.Chain {
	return ownership.Chain{{Kind: ownership.Model, ID: m.ID}, {Kind: ownership.Manufacturer, ID: m.ManufacturerID}}
}

// ManufacturerChain is a manufacturer's own scope.
func ManufacturerChain(partyID string) ownership.Chain {
	return ownership.Chain{{Kind: ownership.Manufacturer, ID: partyID}}
}

// CanRead reports whether the actor may see things of the given parties: its own, and
// everything for auditors (parties that own an audit cell on the deployment). A deployment
// administrator's party is the deployment scope, which holds nothing of a party's.
func CanRead(tx store.Tx, a audit.Actor, partyIDs ...string) (bool, error) {
	for _, p := range partyIDs {
		if p == a.PartyID && p != "" {
			return true, nil
		}
	}
	return IsAuditor(tx, a)
}

// IsAuditor reports whether the actor's party audits any stage of the deployment. Deployment
// administrators are not auditors: they read no party's devices.
func IsAuditor(tx store.Tx, a audit.Actor) (bool, error) {
	if a.PartyID == party.Deployment || a.PartyID == "" {
		return false, nil
	}
	for _, st := range []ownership.Stage{ownership.Manufacturing, ownership.Operational, ownership.Support} {
		p, ok, err := tx.Ownership().Owner(ownership.Key{Stage: st, Duty: ownership.Audit, Scope: ownership.DeploymentScope})
		if err != nil {
			return false, err
		}
		if ok && p == a.PartyID {
			return true, nil
		}
	}
	return false, nil
}

// CanSeeDevice reports whether the actor may see a device: its maker, its custodian,
// an auditor.
func CanSeeDevice(tx store.Tx, a audit.Actor, d device.Device) (bool, error) {
	return CanRead(tx, a, d.ManufacturerID, d.CustodianID)
}

// ActorParty loads the party an actor acts for. A deployment administrator acts for none and
// is refused here, before anything it asked for is looked at.
func ActorParty(tx store.Tx, a audit.Actor) (party.Party, error) {
	if a.PartyID == party.Deployment {
		return party.Party{}, failure.New(failure.Denied, "a deployment administrator acts for no party: ask a principal of the party")
	}
	return tx.Parties().GetParty(a.PartyID)
}

// RequireKind loads a party and checks its kind.
func RequireKind(tx store.Tx, id string, kind party.Kind) (party.Party, error) {
	p, err := tx.Parties().GetParty(id)
	if err != nil {
		return p, err
	}
	if p.Kind != kind {
		return p, failure.New(failure.Invalid, "party %s is a %s, not a %s", id, p.Kind, kind)
	}
	return p, nil
}
