package governance

import (
	"context"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Principals and their tokens (docs/governance.md, *Principals and tokens*).
//
// Who manages a principal P of party X:
//   - P itself may rotate and revoke its own tokens (a station renews its credential);
//   - X's administrators may do everything: create principals, rotate and revoke tokens,
//     disable, enable and delete principals, limit duties;
//   - a deployment administrator may do the same to deployment administrators, and to X's
//     principals only while an approved break-glass request of X is open (access.go), except
//     that it may create the first administrator of a party that has no enabled administrator
//     holding a valid token;
//   - nobody else.
//
// Every change is audited, and none may leave a party (or the deployment) that had an
// enabled administrator with a valid token without one.

// IsDeploymentAdmin reports whether a is a deployment administrator.
func IsDeploymentAdmin(a audit.Actor) bool { return a.Admin && a.PartyID == party.Deployment }

// IsPartyAdmin reports whether a is an administrator of partyID (for party.Deployment: a
// deployment administrator).
func IsPartyAdmin(a audit.Actor, partyID string) bool { return a.Admin && a.PartyID == partyID }

// authority is how an actor may manage a party's principals.
type authority struct {
	ok       bool
	accessID string // set when it rests on a break-glass request
}

// manages says whether a may manage the principals of partyID at now: as an administrator
// of that party (deployment administrators of the deployment scope), or as a deployment
// administrator under an open break-glass request.
func manages(tx store.Tx, a audit.Actor, partyID string, now time.Time) (authority, error) {
	if IsPartyAdmin(a, partyID) {
		return authority{ok: true}, nil
	}
	if !IsDeploymentAdmin(a) {
		return authority{}, nil
	}
	acc, ok, err := openAccess(tx, a, partyID, now)
	if err != nil || !ok {
		return authority{}, err
	}
	return authority{ok: true, accessID: acc.ID}, nil
}

func deniedManage(a audit.Actor, partyID, what string) error {
	if IsDeploymentAdmin(a) {
		return failure.New(failure.Denied, "%s of party %s needs an administrator of that party; a deployment administrator needs an approved break-glass request first (POST /v1/parties/%s/access)", what, partyID, partyID)
	}
	return failure.New(failure.Denied, "%s of party %s needs an administrator of that party", what, partyID)
}

// detail adds the break-glass request a change rests on to an audit detail.
func (au authority) detail(d map[string]any) map[string]any {
	if au.accessID != "" {
		d["access"] = au.accessID
	}
	return d
}

// CreatePrincipalRequest creates a principal.
type CreatePrincipalRequest struct {
	PartyID string              `json:"party_id"`
	Name    string              `json:"name"`
	Kind    party.PrincipalKind `json:"kind"`
	Admin   bool                `json:"admin"`
	// TokenLifetime is the first token's lifetime, a Go duration; "": the deployment maximum
	// (for a hand-over token, one a deployment administrator mints for a party's principal:
	// party.HandoverTokenLifetime, also its bound).
	TokenLifetime string `json:"token_lifetime,omitempty"`
}

// parseDuration reads an optional duration a caller gave ("" is zero).
func parseDuration(what, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, failure.New(failure.Invalid, "%s %q is not a duration such as 24h or 90m", what, s)
	}
	return d, nil
}

// TokenView is a token's record with its state as of the read.
type TokenView struct {
	party.Token
	State party.TokenState `json:"state"`
}

// NewToken is a token minted this once: its record and its secret.
type NewToken struct {
	TokenView
	Secret string `json:"token"`
}

// CreatePrincipal creates a principal with its first token, whose secret is returned this
// once. PartyID party.Deployment creates a deployment administrator (Admin is then implied).
func (s *Service) CreatePrincipal(ctx context.Context, a audit.Actor, r CreatePrincipalRequest) (party.Principal, NewToken, error) {
	var nt NewToken
	if err := party.ValidSlug("principal name", r.Name); err != nil {
		return party.Principal{}, nt, err
	}
	if r.Kind == "" {
		r.Kind = party.Person
	}
	if _, err := party.ParsePrincipalKind(string(r.Kind)); err != nil {
		return party.Principal{}, nt, err
	}
	if r.PartyID == party.Deployment {
		r.Admin = true
	}
	asked, err := parseDuration("token_lifetime", r.TokenLifetime)
	if err != nil {
		return party.Principal{}, nt, err
	}
	if _, err = party.CheckLifetime(asked, s.tokenLifetime); err != nil {
		return party.Principal{}, nt, err
	}
	now := s.now()
	p := party.Principal{ID: party.NewID("prn"), PartyID: r.PartyID, Name: r.Name, Kind: r.Kind, Admin: r.Admin, CreatedAt: now, CreatedBy: a.PrincipalID}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if r.PartyID != party.Deployment {
			if _, err := tx.Parties().GetParty(r.PartyID); err != nil {
				return err
			}
		}
		au, first, err := s.mayCreate(tx, a, r, now)
		if err != nil {
			return err
		}
		p.AccessID = au.accessID
		ho, err := handoverIn(tx, a, r.PartyID)
		if err != nil {
			return err
		}
		// A local: Update may run this function twice (a retry, or group commit's re-run of a
		// batch), and a refused first run must not leave life changed for the second.
		life, err := s.tokenLife(r.PartyID, ho, asked, now)
		if err != nil {
			return err
		}
		if first {
			if ho.recent, err = boundHandover(tx, r.PartyID, now); err != nil {
				return err
			}
		}
		if err := tx.Parties().CreatePrincipal(p); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "party %s already has a principal named %q", r.PartyID, r.Name)
			}
			return err
		}
		if nt, err = mint(tx, a, p.ID, now, life, ho.on); err != nil {
			return err
		}
		_, err = tx.Audit().Append(Event(a, now, "principal.create", "", "party:"+p.PartyID, "principal:"+p.ID, au.detail(ho.detail(map[string]any{
			"name": p.Name, "kind": p.Kind, "admin": p.Admin, "first_admin": first, "token": nt.Token.ID, "expires_at": nt.Token.ExpiresAt,
			"handover": ho.on, "auth_token": a.TokenID}))))
		return err
	})
	if err != nil {
		return party.Principal{}, NewToken{}, err
	}
	return p, nt, nil
}

// mayCreate decides whether a may create r, and says whether it is a party's first
// administrator made by a deployment administrator.
func (s *Service) mayCreate(tx store.Tx, a audit.Actor, r CreatePrincipalRequest, now time.Time) (authority, bool, error) {
	if IsPartyAdmin(a, r.PartyID) {
		return authority{ok: true}, false, nil
	}
	if !IsDeploymentAdmin(a) {
		return authority{}, false, deniedManage(a, r.PartyID, "creating a principal")
	}
	live, err := tx.Parties().LiveAdmins(r.PartyID, now)
	if err != nil {
		return authority{}, false, fmt.Errorf("counting the administrators of %s: %w", r.PartyID, err)
	}
	if live == 0 {
		if !r.Admin {
			return authority{}, false, failure.New(failure.Denied, "party %s has no administrator: a deployment administrator creates its first administrator (admin: true), who then creates its other principals", r.PartyID)
		}
		return authority{ok: true}, true, nil
	}
	au, err := manages(tx, a, r.PartyID, now)
	if err != nil {
		return au, false, err
	}
	if !au.ok {
		return au, false, deniedManage(a, r.PartyID, "creating a principal")
	}
	return au, false, nil
}

// Handover reports whether a token a mints for a principal of partyID is a hand-over token
// by who mints it: a deployment administrator minting one of a party's (its first
// administrator's, or any under break-glass). The deployment administrator is shown it, so it
// holds a working token of a party it does not belong to until the party rotates it; such a
// token lives at most party.HandoverTokenLifetime, and the gaps report lists it until then.
// handoverIn adds the tokens minted with one (inherited).
func Handover(a audit.Actor, partyID string) bool {
	return IsDeploymentAdmin(a) && partyID != party.Deployment
}

// handoverIn says whether a token a mints in tx for a principal of partyID is a hand-over
// token: Handover (a new hand-over, origin), or a authenticated with a hand-over token
// (a.TokenID; inherited, and ending no later than that token, until). Whoever held that token
// is shown the new one, whether a rotation of its own principal's tokens or the first token of
// a principal it creates, so the new one inherits the hand-over and its end: rotating with it
// never outlives the hand-over the deployment administrator minted. Only a request
// authenticated otherwise (a non-hand-over token of the party, or a sign-in session through
// the party's identity provider, which has no TokenID) mints a token that ends it.
func handoverIn(tx store.Tx, a audit.Actor, partyID string) (handover, error) {
	if Handover(a, partyID) {
		return handover{on: true, origin: true}, nil
	}
	if a.TokenID == "" {
		return handover{}, nil
	}
	t, err := tx.Parties().GetToken(a.TokenID)
	if err != nil {
		return handover{}, fmt.Errorf("reading the token the request authenticated with: %w", err)
	}
	if t.PrincipalID != a.PrincipalID {
		return handover{}, fmt.Errorf("the request's token %s is not of its principal %s", t.ID, a.PrincipalID)
	}
	if !t.Handover || t.ExpiresAt == nil {
		return handover{on: t.Handover}, nil
	}
	return handover{on: true, until: *t.ExpiresAt}, nil
}

// tokenLife validates the lifetime asked for a token minted at now for a principal of
// partyID (0: the default): at most the deployment's maximum, and for a hand-over token at
// most party.HandoverTokenLifetime, which is also its default, and, for one minted with a
// hand-over token, no later than that token ends (the default then).
func (s *Service) tokenLife(partyID string, ho handover, asked time.Duration, now time.Time) (time.Duration, error) {
	if !ho.on {
		return party.CheckLifetime(asked, s.tokenLifetime)
	}
	bound := min(s.tokenLifetime, party.HandoverTokenLifetime)
	if asked > bound {
		return 0, &HandoverLifetimeError{Msg: fmt.Sprintf("this token of a principal of party %s is a hand-over token (a deployment administrator mints it, or the request authenticated with a hand-over token): it lives at most %s, not %s; the party ends the hand-over with a rotation authenticated otherwise (docs/governance.md, Roles; rule %s)", partyID, bound, asked, RuleHandoverLifetime)}
	}
	if !ho.until.IsZero() {
		left := min(ho.until.Sub(now), bound)
		if left <= 0 {
			return 0, &HandoverLifetimeError{Msg: fmt.Sprintf("the hand-over token this request authenticated with ended at %s: it mints no token of a principal of party %s (rule %s)", ho.until.UTC().Format(time.RFC3339), partyID, RuleHandoverLifetime)}
		}
		if asked > left {
			return 0, &HandoverLifetimeError{Msg: fmt.Sprintf("this token of a principal of party %s is minted with a hand-over token, which ends at %s: it ends no later, so it lives at most %s, not %s; the party ends the hand-over with a rotation authenticated otherwise (docs/governance.md, Roles; rule %s)", partyID, ho.until.UTC().Format(time.RFC3339), left.Truncate(time.Second), asked, RuleHandoverLifetime)}
		}
		if asked == 0 {
			return left, nil
		}
	}
	return party.CheckLifetime(asked, bound)
}

// mint stores a new token of principalID valid for life, a hand-over token if handover, and
// returns its secret.
func mint(tx store.Tx, a audit.Actor, principalID string, now time.Time, life time.Duration, handover bool) (NewToken, error) {
	secret, hash := party.NewToken()
	exp := now.Add(life)
	t := party.Token{ID: party.NewID("tok"), PrincipalID: principalID, CreatedAt: now, CreatedBy: a.PrincipalID, ExpiresAt: &exp, Handover: handover}
	if err := tx.Parties().CreateToken(t, hash[:]); err != nil {
		return NewToken{}, fmt.Errorf("storing the token: %w", err)
	}
	return NewToken{TokenView: TokenView{Token: t, State: party.TokenActive}, Secret: secret}, nil
}

// target loads a principal that a may see, or says it does not exist.
func target(tx store.Tx, a audit.Actor, id string) (party.Principal, error) {
	p, err := principalOf(tx, id)
	if err != nil {
		return p, err
	}
	if ok, err := maySee(tx, a, p.PartyID); err != nil {
		return p, err
	} else if !ok {
		return p, failure.New(failure.NotFound, "principal %s not found", id)
	}
	return p, nil
}

// maySee says whether a may see the principals (and token records) of partyID: its own
// party's, everything for auditors, and, for deployment administrators, every party's (names
// and token records: never a secret, never a device).
func maySee(tx store.Tx, a audit.Actor, partyID string) (bool, error) {
	if IsDeploymentAdmin(a) {
		return true, nil
	}
	return CanRead(tx, a, partyID)
}

// GetPrincipal returns one principal.
func (s *Service) GetPrincipal(ctx context.Context, a audit.Actor, id string) (party.Principal, error) {
	var p party.Principal
	err := s.st.View(ctx, func(tx store.Tx) (err error) { p, err = target(tx, a, id); return err })
	return p, err
}

// ListPrincipals lists the principals of a party (party.Deployment: the deployment
// administrators) to those who may see them (maySee).
func (s *Service) ListPrincipals(ctx context.Context, a audit.Actor, partyID string) ([]party.Principal, error) {
	var out []party.Principal
	err := s.st.View(ctx, func(tx store.Tx) error {
		if partyID != party.Deployment {
			if _, err := tx.Parties().GetParty(partyID); err != nil {
				return err
			}
		}
		if ok, err := maySee(tx, a, partyID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.Denied, "party %s may not list principals of party %s", a.PartyID, partyID)
		}
		var err error
		out, err = tx.Parties().ListPrincipals(partyID)
		return err
	})
	return out, err
}

// ListTokens lists a principal's tokens (never their secrets), newest first.
func (s *Service) ListTokens(ctx context.Context, a audit.Actor, principalID string) ([]TokenView, error) {
	var out []TokenView
	now := s.now()
	err := s.st.View(ctx, func(tx store.Tx) error {
		out = nil // View retries after a lost connection: start over
		if _, err := target(tx, a, principalID); err != nil {
			return err
		}
		ts, err := tx.Parties().ListTokens(store.TokenFilter{PrincipalID: principalID})
		for _, t := range ts {
			out = append(out, TokenView{Token: t.Token, State: t.Token.State(now)})
		}
		return err
	})
	return out, err
}

// RotateRequest asks for a new token; durations are Go duration strings.
type RotateRequest struct {
	// Overlap is how long the principal's current tokens keep working beside the new one
	// ("" or "0s": they stop now), at most the deployment's maximum overlap.
	Overlap string `json:"overlap,omitempty"`
	// Lifetime of the new token; "": the deployment maximum (a hand-over token: at most and by
	// default party.HandoverTokenLifetime).
	Lifetime string `json:"lifetime,omitempty"`
}

// RotateToken mints a new token for a principal and ends its other valid tokens when the
// overlap is over. The principal itself, its party's administrators and (under break-glass)
// a deployment administrator may.
func (s *Service) RotateToken(ctx context.Context, a audit.Actor, principalID string, r RotateRequest) (NewToken, error) {
	var nt NewToken
	overlap, err := parseDuration("overlap", r.Overlap)
	if err != nil {
		return nt, err
	}
	if err := party.CheckOverlap(overlap, s.maxOverlap); err != nil {
		return nt, err
	}
	asked, err := parseDuration("lifetime", r.Lifetime)
	if err != nil {
		return nt, err
	}
	if _, err = party.CheckLifetime(asked, s.tokenLifetime); err != nil {
		return nt, err
	}
	now := s.now()
	err = s.st.Update(ctx, func(tx store.Tx) error {
		p, au, err := s.mayTouchTokens(tx, a, principalID, now, "rotating the tokens")
		if err != nil {
			return err
		}
		if p.DisabledAt != nil {
			return failure.New(failure.Conflict, "principal %s is disabled: enable it before giving it a token", p.ID)
		}
		ho, err := handoverIn(tx, a, p.PartyID)
		if err != nil {
			return err
		}
		life, err := s.tokenLife(p.PartyID, ho, asked, now)
		if err != nil {
			return err
		}
		if nt, err = mint(tx, a, p.ID, now, life, ho.on); err != nil {
			return err
		}
		n, err := tx.Parties().SupersedeTokens(p.ID, nt.Token.ID, now, now.Add(overlap))
		if err != nil {
			return fmt.Errorf("ending the superseded tokens: %w", err)
		}
		_, err = tx.Audit().Append(Event(a, now, "principal.token.rotate", "", "party:"+p.PartyID, "principal:"+p.ID, au.detail(map[string]any{
			"token": nt.Token.ID, "expires_at": nt.Token.ExpiresAt, "superseded": n, "overlap": overlap.String(), "overlap_until": now.Add(overlap),
			"handover": ho.on, "auth_token": a.TokenID})))
		return err
	})
	if err != nil {
		return NewToken{}, err
	}
	return nt, nil
}

// mayTouchTokens loads the principal and checks that a may rotate or revoke its tokens.
func (s *Service) mayTouchTokens(tx store.Tx, a audit.Actor, principalID string, now time.Time, what string) (party.Principal, authority, error) {
	p, err := target(tx, a, principalID)
	if err != nil {
		return p, authority{}, err
	}
	if a.PrincipalID == p.ID {
		return p, authority{ok: true}, nil
	}
	au, err := manages(tx, a, p.PartyID, now)
	if err != nil {
		return p, au, err
	}
	if !au.ok {
		return p, au, deniedManage(a, p.PartyID, what+" of a principal")
	}
	return p, au, nil
}

// RevokeToken revokes one token of a principal at once. It is refused when it would leave the
// principal's party without an enabled administrator holding a valid token.
func (s *Service) RevokeToken(ctx context.Context, a audit.Actor, principalID, tokenID string) (TokenView, error) {
	now := s.now()
	var tok party.Token
	err := s.st.Update(ctx, func(tx store.Tx) error {
		p, au, err := s.mayTouchTokens(tx, a, principalID, now, "revoking the tokens")
		if err != nil {
			return err
		}
		tok, err = tx.Parties().GetToken(tokenID)
		if err != nil || tok.PrincipalID != p.ID {
			return failure.New(failure.NotFound, "principal %s has no token %s", p.ID, tokenID)
		}
		keep, err := keepsAdmin(tx, p.PartyID, now, func() error { return tx.Parties().RevokeToken(tokenID, now) })
		if err != nil {
			return err
		}
		if !keep {
			return failure.New(failure.Conflict, "revoking token %s would leave %s without an administrator that can sign in: create or rotate another administrator's token first", tokenID, scopeName(p.PartyID))
		}
		tok.RevokedAt = &now
		_, err = tx.Audit().Append(Event(a, now, "principal.token.revoke", "", "party:"+p.PartyID, "principal:"+p.ID, au.detail(map[string]any{"token": tokenID})))
		return err
	})
	return TokenView{Token: tok, State: tok.State(now)}, err
}

// keepsAdmin runs change and reports whether partyID still has an enabled administrator with a
// valid token, when it had one before. The caller rolls back when it did not.
func keepsAdmin(tx store.Tx, partyID string, now time.Time, change func() error) (bool, error) {
	before, err := tx.Parties().LiveAdmins(partyID, now)
	if err != nil {
		return false, err
	}
	if err := change(); err != nil {
		return false, err
	}
	after, err := tx.Parties().LiveAdmins(partyID, now)
	if err != nil {
		return false, err
	}
	return after > 0 || before == 0, nil
}

func scopeName(partyID string) string {
	if partyID == party.Deployment {
		return "the deployment"
	}
	return "party " + partyID
}

// SetDisabled disables a principal (its tokens stop working at once and stay stored) or
// enables it again. Its party's administrators (not the principal itself) may, and a
// deployment administrator under break-glass.
func (s *Service) SetDisabled(ctx context.Context, a audit.Actor, principalID string, disabled bool) (party.Principal, error) {
	now := s.now()
	var p party.Principal
	action := "principal.enable"
	if disabled {
		action = "principal.disable"
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var au authority
		var err error
		if p, au, err = s.mayManage(tx, a, principalID, now, "disabling or enabling"); err != nil {
			return err
		}
		if (p.DisabledAt != nil) == disabled {
			state := "enabled"
			if disabled {
				state = "disabled"
			}
			return failure.New(failure.Conflict, "principal %s is %s already", p.ID, state)
		}
		var at *time.Time
		if disabled {
			at = &now
		}
		keep, err := keepsAdmin(tx, p.PartyID, now, func() error { return tx.Parties().SetDisabled(p.ID, at) })
		if err != nil {
			return err
		}
		if !keep {
			return failure.New(failure.Conflict, "disabling %s would leave %s without an administrator that can sign in: create another administrator first", p.ID, scopeName(p.PartyID))
		}
		p.DisabledAt = at
		_, err = tx.Audit().Append(Event(a, now, action, "", "party:"+p.PartyID, "principal:"+p.ID, au.detail(map[string]any{"name": p.Name})))
		return err
	})
	return p, err
}

// mayManage loads the principal and checks that a may disable, enable or delete it: never
// itself.
func (s *Service) mayManage(tx store.Tx, a audit.Actor, principalID string, now time.Time, what string) (party.Principal, authority, error) {
	p, err := target(tx, a, principalID)
	if err != nil {
		return p, authority{}, err
	}
	if a.PrincipalID == p.ID {
		return p, authority{}, failure.New(failure.Denied, "%s itself is not for a principal: ask another administrator of %s", what, scopeName(p.PartyID))
	}
	au, err := manages(tx, a, p.PartyID, now)
	if err != nil {
		return p, au, err
	}
	if !au.ok {
		return p, au, deniedManage(a, p.PartyID, what+" a principal")
	}
	return p, au, nil
}

// DeletePrincipal deletes a principal, its tokens and its duty limits. The audit log keeps
// what it did under its ID.
func (s *Service) DeletePrincipal(ctx context.Context, a audit.Actor, principalID string) error {
	now := s.now()
	return s.st.Update(ctx, func(tx store.Tx) error {
		p, au, err := s.mayManage(tx, a, principalID, now, "deleting")
		if err != nil {
			return err
		}
		keep, err := keepsAdmin(tx, p.PartyID, now, func() error { return tx.Parties().DeletePrincipal(p.ID) })
		if err != nil {
			return err
		}
		if !keep {
			return failure.New(failure.Conflict, "deleting %s would leave %s without an administrator that can sign in: create another administrator first", p.ID, scopeName(p.PartyID))
		}
		_, err = tx.Audit().Append(Event(a, now, "principal.delete", "", "party:"+p.PartyID, "principal:"+p.ID, au.detail(map[string]any{
			"name": p.Name, "kind": p.Kind, "admin": p.Admin})))
		return err
	})
}

// UpgradeTokens gives every token from before migration 0020 (no expiry) the expiry now +
// lifetime, in one audited transaction, and says how many it changed. The server runs it at
// start; a second run finds none.
func (s *Service) UpgradeTokens(ctx context.Context, lifetime time.Duration) (int, error) {
	if lifetime < party.MinTokenLifetime || lifetime > party.MaxTokenLifetime {
		return 0, failure.New(failure.Invalid, "the upgrade token lifetime must be between %s and %s, not %s", party.MinTokenLifetime, party.MaxTokenLifetime, lifetime)
	}
	now := s.now()
	var n int
	err := s.st.Update(ctx, func(tx store.Tx) error {
		legacy, err := tx.Parties().LegacyTokens()
		if err != nil || legacy == 0 {
			return err
		}
		if n, err = tx.Parties().SetLegacyExpiry(now.Add(lifetime)); err != nil {
			return err
		}
		_, err = tx.Audit().Append(audit.Event{At: now, PartyID: party.Deployment, PrincipalID: "hallmark:upgrade", Action: "principal.token.upgrade",
			Detail: audit.Detail(map[string]any{"tokens": n, "expires_at": now.Add(lifetime)})})
		return err
	})
	return n, err
}

// RuleHandoverLifetime names the rule that bounds a hand-over token's lifetime.
const RuleHandoverLifetime = "token:handover-lifetime"

// HandoverLifetimeError refuses a hand-over token asked for longer than its bound: bad input
// (400) that names the rule it breaks, so the refusal is recorded (refusals.Classify) as
// every refusal of a governance rule is.
type HandoverLifetimeError struct{ Msg string }

func (e *HandoverLifetimeError) Error() string { return e.Msg }

// FailureKind makes it a 400.
func (e *HandoverLifetimeError) FailureKind() failure.Kind { return failure.Invalid }

// FailureRule names the rule for the refusals report.
func (e *HandoverLifetimeError) FailureRule() string { return RuleHandoverLifetime }
