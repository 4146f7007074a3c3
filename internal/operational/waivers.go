package operational

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

// WaiverRequest asks for a waiver; For is a Go duration.
type WaiverRequest struct {
	DeviceID string `json:"device_id"`
	Rule     string `json:"rule"`
	Reason   string `json:"reason"`
	For      string `json:"for"`
}

// waiverChange is the payload of a pending waiver request.
type waiverChange struct {
	DeviceID string        `json:"device_id"`
	Rule     string        `json:"rule"`
	Reason   string        `json:"reason"`
	For      time.Duration `json:"for"`
}

// RequestWaiver asks for a time-bound exception to one rule of the renewal policy of the
// device's environment. The caller's party must own operational/issue over that environment
// (it sets the policy) and the rule must be a rule of its current renewal policy. The request
// is governed under the operator's waiver rule (by default one other principal of the same
// party): the waiver exists, and renewal honours it, only once approved; it runs For from the
// approval and then expires by itself.
func (s *Service) RequestWaiver(ctx context.Context, a audit.Actor, r WaiverRequest) (waiver.Waiver, error) {
	d, err := time.ParseDuration(r.For)
	if err != nil {
		return waiver.Waiver{}, failure.New(failure.Invalid, "for %q is not a duration such as 72h", r.For)
	}
	w, q, err := s.requestWaiver(ctx, a, waiverChange{DeviceID: r.DeviceID, Rule: r.Rule, Reason: r.Reason, For: d}, "")
	return w, pendingErr(q, err)
}

func (s *Service) requestWaiver(ctx context.Context, a audit.Actor, r waiverChange, approvalID string) (waiver.Waiver, *approval.Request, error) {
	var w waiver.Waiver
	if err := (waiver.Request{DeviceID: r.DeviceID, Rule: r.Rule, Reason: r.Reason, For: r.For}).Validate(); err != nil {
		return w, nil, err
	}
	now := s.now()
	var pending *approval.Request
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		w, pending = waiver.Waiver{}, nil // Update may run this function again: nothing of an earlier run is this run's
		d, err := tx.Devices().GetDevice(r.DeviceID)
		if err != nil {
			return err
		}
		if d.EnvironmentID == "" {
			return failure.New(failure.Invalid, "device %s is in no environment: it has no renewal policy to waive", d.ID)
		}
		env, err := tx.Environments().GetEnvironment(d.EnvironmentID)
		if err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, EnvChain(env)); err != nil {
			return err
		}
		if d.CustodianID != env.OperatorID {
			return failure.New(failure.NotFound, "device %s not found", d.ID)
		}
		pv, err := tx.Environments().LatestPolicy(env.ID, environment.Renewal)
		if err != nil {
			return err
		}
		spec, err := policy.ParseSpec(pv.Spec)
		if err != nil {
			return fmt.Errorf("stored renewal policy v%d of %s: %w", pv.Version, env.ID, err)
		}
		if !hasRule(spec, r.Rule) {
			return failure.New(failure.Invalid, "renewal policy v%d of environment %s has no rule %q", pv.Version, env.ID, r.Rule)
		}
		q, apply, err := governance.Govern(tx, a, now, governance.Change{Kind: approval.Waiver, Scope: "environment:" + env.ID,
			Subject: "device:" + d.ID, Reason: r.Reason, Payload: r, ApprovalID: approvalID})
		if err != nil || !apply {
			pending = &q
			return err
		}
		w = waiver.Waiver{ID: "wvr-" + strings.ToLower(rand.Text()[:16]), PartyID: env.OperatorID, DeviceID: d.ID, EnvironmentID: env.ID, Rule: r.Rule,
			Reason: r.Reason, ApprovalID: approvalID, RequestedBy: a.PrincipalID, NotAfter: now.Add(r.For), CreatedAt: now}
		if err := tx.Waivers().CreateWaiver(w); err != nil {
			return err
		}
		_, err = tx.Audit().Append(s.event(a, "waiver.grant", "environment:"+env.ID, "device:"+d.ID, w))
		return err
	})
	if err != nil {
		return w, nil, err
	}
	return w, pending, nil
}

func hasRule(spec *policy.Spec, name string) bool {
	for _, r := range spec.Rules {
		if r.Name == name {
			return true
		}
	}
	return false
}

// WaiverApproved grants the waiver an approved waiver request asked for.
func (s *Service) WaiverApproved(ctx context.Context, a audit.Actor, q approval.Request) error {
	var p waiverChange
	if err := json.Unmarshal(q.Payload, &p); err != nil {
		return fmt.Errorf("approval %s: decoding the waiver: %w", q.ID, err)
	}
	_, _, err := s.requestWaiver(ctx, a, p, q.ID)
	return err
}

// WaiverView is a waiver and whether it still holds.
type WaiverView struct {
	waiver.Waiver
	Active bool `json:"active"`
}

// ListWaivers returns the waivers of the environments the caller's party operates (every
// waiver for auditors), newest first; active keeps those that still hold.
func (s *Service) ListWaivers(ctx context.Context, a audit.Actor, deviceID string, active bool) ([]WaiverView, error) {
	now := s.now()
	out := []WaiverView{}
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out = []WaiverView{}
		f := store.WaiverFilter{DeviceID: deviceID}
		auditor, err := governance.IsAuditor(tx, a)
		if err != nil {
			return err
		}
		if !auditor {
			f.Party = a.PartyID
		}
		if active {
			f.ActiveAt = &now
		}
		ws, err := tx.Waivers().ListWaivers(f)
		for _, w := range ws {
			out = append(out, WaiverView{Waiver: w, Active: w.Active(now)})
		}
		return err
	})
	return out, err
}
