package operational

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Governed operational changes (issue 17): policy versions (environments.go), environment
// settings and waivers. Each is checked here, passed through governance.Govern under the
// operator's rule of its kind, and applied by the same call with the approval's ID when the
// quorum approves it (PolicyApproved, EnvironmentApproved, WaiverApproved: registered with the
// governance service by the app).

// policyChange is the payload of a pending policy-change.
type policyChange struct {
	Environment string                 `json:"environment"`
	Kind        environment.PolicyKind `json:"kind"`
	Spec        json.RawMessage        `json:"spec"`
	// Base is the policy version the proposal was made against.
	Base string `json:"base_version,omitempty"`
}

// pendingErr turns a committed proposal into *governance.Pending.
func pendingErr(q *approval.Request, err error) error {
	if err == nil && q != nil {
		return &governance.Pending{Request: *q}
	}
	return err
}

// PolicyApproved stores the policy version an approved policy-change request proposed.
func (s *Service) PolicyApproved(ctx context.Context, a audit.Actor, q approval.Request) error {
	var p policyChange
	if err := json.Unmarshal(q.Payload, &p); err != nil {
		return fmt.Errorf("approval %s: decoding the policy: %w", q.ID, err)
	}
	_, _, err := s.setPolicy(ctx, a, p.Environment, p.Kind, p.Spec, q.ID, p.Base)
	return err
}

// EnvironmentUpdate changes an environment's settings; empty fields keep their value.
type EnvironmentUpdate struct {
	Lifetime    string    `json:"lifetime,omitempty"`
	MaxAge      string    `json:"max_age,omitempty"`
	Services    *[]string `json:"services,omitempty"`
	IssuingCAID string    `json:"issuing_ca_id,omitempty"`
	Reason      string    `json:"reason,omitempty"`
}

// UpdateEnvironment changes an environment's certificate lifetime, maximum age, services or
// issuing CA. The caller's party must own operational/issue over the environment; the values
// are checked as at creation (a lifetime within the deployment's maximum and not above the
// maximum age; an issuing CA of the operator, not succeeded). The change is governed under
// the operator's environment-change rule and audited (environment.update, with the values
// before and after). Certificates already issued keep their lifetime; the next issuance uses
// the new settings.
func (s *Service) UpdateEnvironment(ctx context.Context, a audit.Actor, envID string, u EnvironmentUpdate) (EnvironmentView, error) {
	v, q, err := s.updateEnvironment(ctx, a, envID, u, "", "")
	return v, pendingErr(q, err)
}

// updateEnvironment applies, or proposes, an environment update. approvalID and base are set
// only by EnvironmentApproved: base is the digest of the settings the proposal was made
// against (settingsDigest; "" for a proposal from before bases were recorded), and settings
// changed since refuse the update (governance.CheckBase: 409, nothing applied).
func (s *Service) updateEnvironment(ctx context.Context, a audit.Actor, envID string, u EnvironmentUpdate, approvalID, base string) (EnvironmentView, *approval.Request, error) {
	var v EnvironmentView
	if u.Lifetime == "" && u.MaxAge == "" && u.Services == nil && u.IssuingCAID == "" {
		return v, nil, failure.New(failure.Invalid, "name at least one of lifetime, max_age, services, issuing_ca_id")
	}
	var life, maxAge time.Duration
	var err error
	if u.Lifetime != "" {
		if life, err = parseDuration("lifetime", u.Lifetime, time.Hour, s.c.MaxLifetime); err != nil {
			return v, nil, err
		}
	}
	if u.MaxAge != "" {
		if maxAge, err = parseDuration("max_age", u.MaxAge, time.Hour, 365*24*time.Hour); err != nil {
			return v, nil, err
		}
	}
	if u.Services != nil {
		if len(*u.Services) > 64 {
			return v, nil, failure.New(failure.Invalid, "at most 64 services")
		}
		for _, svc := range *u.Services {
			if err := party.ValidSlug("service", svc); err != nil {
				return v, nil, err
			}
		}
	}
	now := s.now()
	var pending *approval.Request
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		pending = nil // Update may run this function again: a proposal of an earlier run is not this run's
		e, err := tx.Environments().GetEnvironment(envID)
		if err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, EnvChain(e)); err != nil {
			return err
		}
		before := e
		digest, err := settingsDigest(e)
		if err != nil {
			return err
		}
		if err := governance.CheckBase(approvalID, "environment settings", base, digest); err != nil {
			return err
		}
		if life != 0 {
			e.Lifetime = environment.Duration(life)
		}
		if maxAge != 0 {
			e.MaxAge = environment.Duration(maxAge)
		}
		if (life != 0 || maxAge != 0) && e.Lifetime > e.MaxAge {
			return failure.New(failure.Invalid, "lifetime %s would exceed max_age %s", time.Duration(e.Lifetime), time.Duration(e.MaxAge))
		}
		if u.Services != nil {
			e.Services = slices.Clone(*u.Services)
			if e.Services == nil {
				e.Services = []string{}
			}
		}
		if u.IssuingCAID != "" && u.IssuingCAID != e.IssuingCAID {
			if err := checkIssuingCA(tx, u.IssuingCAID, e.OperatorID); err != nil {
				return err
			}
			e.IssuingCAID = u.IssuingCAID
		}
		q, apply, err := governance.Govern(tx, a, now, governance.Change{Kind: approval.EnvironmentChange, Scope: "environment:" + envID,
			Subject: "environment:" + envID, Reason: u.Reason, Payload: map[string]any{"environment": envID, "update": u, "base": digest}, ApprovalID: approvalID})
		if err != nil || !apply {
			pending = &q
			return err
		}
		if err := tx.Environments().UpdateEnvironment(e); err != nil {
			return err
		}
		v.Environment = e
		detail := map[string]any{"before": settings(before), "after": settings(e)}
		if approvalID != "" {
			detail["approval"] = approvalID
		}
		_, err = tx.Audit().Append(s.event(a, "environment.update", "environment:"+envID, "environment:"+envID, detail))
		return err
	})
	if err != nil {
		return v, nil, err
	}
	if pending != nil {
		return v, pending, nil
	}
	v, err = s.GetEnvironment(ctx, a, envID)
	return v, nil, err
}

// settings is what an environment update may change, for its audit event.
func settings(e environment.Environment) map[string]any {
	return map[string]any{"lifetime": e.Lifetime, "max_age": e.MaxAge, "services": e.Services, "issuing_ca_id": e.IssuingCAID}
}

// settingsDigest is a short digest of what an environment update may change: the base an
// environment-change proposal records, to refuse it once the settings changed since.
func settingsDigest(e environment.Environment) (string, error) {
	b, err := json.Marshal(settings(e))
	if err != nil {
		return "", fmt.Errorf("encoding the environment's settings: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:8]), nil
}

// EnvironmentApproved applies the update an approved environment-change request proposed.
func (s *Service) EnvironmentApproved(ctx context.Context, a audit.Actor, q approval.Request) error {
	var p struct {
		Environment string            `json:"environment"`
		Update      EnvironmentUpdate `json:"update"`
		Base        string            `json:"base"`
	}
	if err := json.Unmarshal(q.Payload, &p); err != nil {
		return fmt.Errorf("approval %s: decoding the update: %w", q.ID, err)
	}
	_, _, err := s.updateEnvironment(ctx, a, p.Environment, p.Update, q.ID, p.Base)
	return err
}
