package operational

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// CreateEnvironmentRequest defines an environment. Lifetime and MaxAge are Go durations
// ("24h"); a missing policy gets the default (docs/policies.md).
type CreateEnvironmentRequest struct {
	OperatorID  string   `json:"operator_id"`
	Name        string   `json:"name"`
	Site        string   `json:"site,omitempty"`
	Zone        string   `json:"zone,omitempty"`
	IssuingCAID string   `json:"issuing_ca_id"`
	TrustDomain string   `json:"trust_domain"`
	Lifetime    string   `json:"lifetime"`
	MaxAge      string   `json:"max_age"`
	Services    []string `json:"services,omitempty"`
	// SupportMaxWindow bounds support grants in this environment (default 8h, at most 7 days).
	SupportMaxWindow string          `json:"support_max_window,omitempty"`
	Onboarding       json.RawMessage `json:"onboarding_policy,omitempty"`
	Renewal          json.RawMessage `json:"renewal_policy,omitempty"`
}

// trustDomain follows the SPIFFE trust domain name rules.
var trustDomain = regexp.MustCompile(`^[a-z0-9._-]{1,255}$`)

// EnvironmentView is an environment with its current policies.
type EnvironmentView struct {
	environment.Environment
	Onboarding environment.PolicyVersion `json:"onboarding_policy"`
	Renewal    environment.PolicyVersion `json:"renewal_policy"`
	// ESTLabel is the label EST clients reach the environment at: its name when it was the
	// first environment to claim that name as an EST label, else its ID (another operator's
	// environment holds the name; see docs/est.md).
	ESTLabel string `json:"est_label"`
}

// CreateEnvironment defines an environment with version 1 of both policies. Its trust domain
// must be new or held by its operator (claimTrustDomain): another operator's is refused with
// TrustDomainOwnedError (409, rule environment:trust-domain-owned), and nothing is stored.
// No later change moves an environment's trust domain.
func (s *Service) CreateEnvironment(ctx context.Context, a audit.Actor, r CreateEnvironmentRequest) (EnvironmentView, error) {
	var v EnvironmentView
	if err := party.ValidSlug("environment name", r.Name); err != nil {
		return v, err
	}
	for _, f := range []struct{ what, s string }{{"site", r.Site}, {"zone", r.Zone}} {
		if f.s != "" {
			if err := party.ValidName(f.what, f.s); err != nil {
				return v, err
			}
		}
	}
	if !trustDomain.MatchString(r.TrustDomain) {
		return v, failure.New(failure.Invalid, "trust_domain %q is not a SPIFFE trust domain name (lowercase letters, digits, dots, hyphens, underscores)", r.TrustDomain)
	}
	// Trust domains are claimed by exact name, and "a.example." or "a..example" name for many
	// relying parties the domain "a.example" does: an empty label would let a second operator
	// claim a spelling of a domain another holds.
	if strings.HasPrefix(r.TrustDomain, ".") || strings.HasSuffix(r.TrustDomain, ".") || strings.Contains(r.TrustDomain, "..") {
		return v, failure.New(failure.Invalid, "trust_domain %q has an empty label: it must not start or end with a dot or hold two in a row", r.TrustDomain)
	}
	if _, err := url.Parse("spiffe://" + r.TrustDomain + "/env/" + r.Name); err != nil {
		return v, failure.New(failure.Invalid, "trust_domain %q does not form a SPIFFE ID", r.TrustDomain)
	}
	life, err := parseDuration("lifetime", r.Lifetime, time.Hour, s.c.MaxLifetime)
	if err != nil {
		return v, err
	}
	maxAge, err := parseDuration("max_age", r.MaxAge, time.Hour, 365*24*time.Hour)
	if err != nil {
		return v, err
	}
	supportMax := grant.DefaultMaxWindow
	if r.SupportMaxWindow != "" {
		if supportMax, err = parseDuration("support_max_window", r.SupportMaxWindow, 15*time.Minute, 7*24*time.Hour); err != nil {
			return v, err
		}
	}
	if len(r.Services) > 64 {
		return v, failure.New(failure.Invalid, "at most 64 services")
	}
	for _, svc := range r.Services {
		if err := party.ValidSlug("service", svc); err != nil {
			return v, err
		}
	}
	onb, err := s.compileSpec(r.Onboarding, environment.Onboarding)
	if err != nil {
		return v, err
	}
	ren, err := s.compileSpec(r.Renewal, environment.Renewal)
	if err != nil {
		return v, err
	}
	now := s.now()
	e := environment.Environment{ID: party.NewID("env"), OperatorID: r.OperatorID, Name: r.Name, Site: r.Site, Zone: r.Zone, IssuingCAID: r.IssuingCAID,
		TrustDomain: r.TrustDomain, Lifetime: environment.Duration(life), MaxAge: environment.Duration(maxAge), Services: r.Services, SupportMaxWindow: environment.Duration(supportMax), CreatedAt: now}
	if e.Services == nil {
		e.Services = []string{}
	}
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := requireOperator(tx, r.OperatorID); err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, operatorChain(r.OperatorID)); err != nil {
			return err
		}
		if err := checkIssuingCA(tx, r.IssuingCAID, r.OperatorID); err != nil {
			return err
		}
		if err := tx.Environments().CreateEnvironment(e); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "operator %s already has an environment named %q", r.OperatorID, r.Name)
			}
			return err
		}
		// The first operator whose environment names a trust domain holds it for good;
		// another operator's environment naming it is refused (trustdomain.go).
		if err := claimTrustDomain(tx, e); err != nil {
			return err
		}
		// The first environment of a name claims it as its EST label for good; a later one,
		// of another operator, is reachable over EST by its ID only.
		claimed, err := tx.Environments().ClaimESTName(e.Name, e.ID, now)
		if err != nil {
			return err
		}
		v.Environment, v.ESTLabel = e, e.ID
		if claimed {
			v.ESTLabel = e.Name
		}
		v.Onboarding = environment.PolicyVersion{EnvironmentID: e.ID, Kind: environment.Onboarding, Version: 1, Spec: onb, CreatedBy: a.PrincipalID, CreatedAt: now}
		v.Renewal = environment.PolicyVersion{EnvironmentID: e.ID, Kind: environment.Renewal, Version: 1, Spec: ren, CreatedBy: a.PrincipalID, CreatedAt: now}
		for _, pv := range []environment.PolicyVersion{v.Onboarding, v.Renewal} {
			if err := tx.Environments().AddPolicy(pv); err != nil {
				return err
			}
		}
		_, err = tx.Audit().Append(s.event(a, "environment.create", "operator:"+r.OperatorID, "environment:"+e.ID, v))
		return err
	})
	return v, err
}

func parseDuration(what, s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, failure.New(failure.Invalid, "%s %q is not a duration such as \"24h\"", what, s)
	}
	if d < lo || d > hi {
		return 0, failure.New(failure.Invalid, "%s %s is outside [%s, %s]", what, d, lo, hi)
	}
	return d, nil
}

// SetPolicy stores a new version of an environment's policy after compiling it.
//
// The change is governed (governance.Govern) under the operator's policy-change rule, by
// default one other principal of the same party: it then becomes a pending proposal, returned
// as *governance.Pending once committed, and the new version is stored when it is approved.
func (s *Service) SetPolicy(ctx context.Context, a audit.Actor, envID string, kind environment.PolicyKind, spec json.RawMessage) (environment.PolicyVersion, error) {
	pv, q, err := s.setPolicy(ctx, a, envID, kind, spec, "", "")
	return pv, pendingErr(q, err)
}

// setPolicy stores, or proposes, a policy version. approvalID and base are set only by
// PolicyApproved: base is the version the proposal was made against ("" for a proposal from
// before bases were recorded), and a newer version stored since refuses the change
// (governance.CheckBase: 409, nothing applied).
func (s *Service) setPolicy(ctx context.Context, a audit.Actor, envID string, kind environment.PolicyKind, spec json.RawMessage, approvalID, base string) (environment.PolicyVersion, *approval.Request, error) {
	var pv environment.PolicyVersion
	if kind != environment.Onboarding && kind != environment.Renewal {
		return pv, nil, failure.New(failure.Invalid, "policy kind %q is not onboarding or renewal", kind)
	}
	if len(spec) == 0 || string(spec) == "null" {
		return pv, nil, failure.New(failure.Invalid, "send the policy as {\"rules\": [...]}")
	}
	spec, err := s.compileSpec(spec, kind)
	if err != nil {
		return pv, nil, err
	}
	var pending *approval.Request
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		pv, pending = environment.PolicyVersion{}, nil // Update may run this function again: nothing of an earlier run is this run's
		e, err := tx.Environments().GetEnvironment(envID)
		if err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, EnvChain(e)); err != nil {
			return err
		}
		cur, err := tx.Environments().LatestPolicy(envID, kind)
		if err != nil {
			return err
		}
		if err := governance.CheckBase(approvalID, string(kind)+" policy version", base, strconv.Itoa(cur.Version)); err != nil {
			return err
		}
		q, apply, err := governance.Govern(tx, a, s.now(), governance.Change{Kind: approval.PolicyChange, Scope: "environment:" + envID,
			Subject: "environment:" + envID + "/policy:" + string(kind), Payload: policyChange{Environment: envID, Kind: kind, Spec: spec, Base: strconv.Itoa(cur.Version)}, ApprovalID: approvalID})
		if err != nil || !apply {
			pending = &q
			return err
		}
		pv = environment.PolicyVersion{EnvironmentID: envID, Kind: kind, Version: cur.Version + 1, Spec: spec, CreatedBy: a.PrincipalID, CreatedAt: s.now()}
		if err := tx.Environments().AddPolicy(pv); err != nil {
			return err
		}
		detail := any(pv)
		if approvalID != "" {
			detail = map[string]any{"policy": pv, "approval": approvalID}
		}
		_, err = tx.Audit().Append(s.event(a, "policy.set", "environment:"+envID, "environment:"+envID, detail))
		return err
	})
	if err != nil {
		return pv, nil, err
	}
	return pv, pending, nil
}

// GetEnvironment returns an environment with its current policies to its operator and auditors.
func (s *Service) GetEnvironment(ctx context.Context, a audit.Actor, id string) (EnvironmentView, error) {
	var v EnvironmentView
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if v.Environment, err = tx.Environments().GetEnvironment(id); err != nil {
			return err
		}
		if ok, err := governance.CanRead(tx, a, v.OperatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "environment %s: not found", id)
		}
		if v.Onboarding, err = tx.Environments().LatestPolicy(id, environment.Onboarding); err != nil {
			return err
		}
		if v.Renewal, err = tx.Environments().LatestPolicy(id, environment.Renewal); err != nil {
			return err
		}
		if v.ESTLabel, err = tx.Environments().ESTName(id); err == nil && v.ESTLabel == "" {
			v.ESTLabel = id
		}
		return err
	})
	return v, err
}

// PolicyVersions lists the stored versions of an environment's policy of one kind, newest
// first (at most store.MaxPolicyVersions), to whoever may read the environment: its operator
// and auditors. Anyone else gets not found, as for GetEnvironment.
func (s *Service) PolicyVersions(ctx context.Context, a audit.Actor, envID string, kind environment.PolicyKind) ([]environment.PolicyVersion, error) {
	if kind != environment.Onboarding && kind != environment.Renewal {
		return nil, failure.New(failure.Invalid, "policy kind %q is not onboarding or renewal", kind)
	}
	var out []environment.PolicyVersion
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		e, err := tx.Environments().GetEnvironment(envID)
		if err != nil {
			return err
		}
		if ok, err := governance.CanRead(tx, a, e.OperatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "environment %s: not found", envID)
		}
		out, err = tx.Environments().PolicyVersions(envID, kind)
		return err
	})
	return out, err
}

// ListEnvironments lists the caller's party's environments (all of them for auditors).
func (s *Service) ListEnvironments(ctx context.Context, a audit.Actor) ([]environment.Environment, error) {
	var out []environment.Environment
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		operator := a.PartyID
		if ok, err := governance.IsAuditor(tx, a); err != nil {
			return err
		} else if ok {
			operator = ""
		}
		var err error
		out, err = tx.Environments().ListEnvironments(operator)
		return err
	})
	return out, err
}

// checkIssuingCA is the rule for an environment's issuing CA, at creation and update: an
// operational issuing CA of the operator with a key, not succeeded by another.
func checkIssuingCA(tx store.Tx, caID, operatorID string) error {
	issuer, err := tx.CAs().GetCA(caID)
	if err != nil {
		return err
	}
	if issuer.PartyID != operatorID || issuer.Stage != string(stage) || issuer.Role != ca.Issuing || issuer.KeyID == "" {
		return failure.New(failure.Invalid, "CA %s is not an operational issuing CA of operator %s", issuer.ID, operatorID)
	}
	if issuer.SuccessorID != "" {
		return failure.New(failure.Invalid, "CA %s was succeeded by %s: name the successor", issuer.ID, issuer.SuccessorID)
	}
	return nil
}
