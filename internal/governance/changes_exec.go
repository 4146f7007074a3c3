package governance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
)

func jsonOf(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the change: %w", err)
	}
	return b, nil
}

// payloadOf decodes an approved change's payload.
func payloadOf(q approval.Request, v any) error {
	if err := json.Unmarshal(q.Payload, v); err != nil {
		return fmt.Errorf("approval %s: decoding the change: %w", q.ID, err)
	}
	return nil
}

// registerChangeExecutors makes the governance service apply the changes it owns when their
// requests are approved: each runs the same call as the proposer did, with the approval's ID.
func (s *Service) registerChangeExecutors() {
	s.OnApproved(approval.RuleChange, func(ctx context.Context, a audit.Actor, q approval.Request) error {
		var p struct {
			Party    string            `json:"party"`
			Kind     string            `json:"kind"`
			Rule     ChangeRuleRequest `json:"rule"`
			Group    string            `json:"group"`
			Members  []string          `json:"members"`
			Approval *RuleRequest      `json:"approval_rule"`
		}
		if err := payloadOf(q, &p); err != nil {
			return err
		}
		var err error
		switch {
		case strings.HasPrefix(q.Subject, "change-rule:"):
			_, err = s.setChangeRule(ctx, a, p.Party, p.Kind, p.Rule, q.ID)
		case strings.HasPrefix(q.Subject, "approver-group:"):
			_, err = s.setApproverGroup(ctx, a, p.Party, p.Group, GroupRequest{Members: p.Members}, q.ID)
		case strings.HasPrefix(q.Subject, "approval-rule:") && p.Approval != nil:
			_, _, err = s.setApprovalRule(ctx, a, p.Kind, *p.Approval, q.ID)
		default:
			err = failure.New(failure.Invalid, "approval %s changes %s, which no executor knows", q.ID, q.Subject)
		}
		return err
	})
	s.OnApproved(approval.OwnershipChange, func(ctx context.Context, a audit.Actor, q approval.Request) error {
		var p struct {
			Delete bool           `json:"delete"`
			Cell   ownership.Cell `json:"cell"`
		}
		if err := payloadOf(q, &p); err != nil {
			return err
		}
		if p.Delete {
			_, err := s.deleteCell(ctx, a, ownership.Key{Stage: p.Cell.Stage, Duty: p.Cell.Duty, Scope: p.Cell.Scope}, "", q.ID)
			return err
		}
		_, err := s.setCell(ctx, a, p.Cell, "", q.ID)
		return err
	})
	s.OnApproved(approval.SoDChange, func(ctx context.Context, a audit.Actor, q approval.Request) error {
		var p struct {
			Delete string         `json:"delete"`
			Add    SoDRuleRequest `json:"add"`
		}
		if err := payloadOf(q, &p); err != nil {
			return err
		}
		if p.Delete != "" {
			_, err := s.deleteSoDRule(ctx, a, p.Delete, "", q.ID)
			return err
		}
		_, _, err := s.addSoDRule(ctx, a, p.Add, q.ID)
		return err
	})
	s.OnApproved(approval.DutyChange, func(ctx context.Context, a audit.Actor, q approval.Request) error {
		var p struct {
			Principal string   `json:"principal"`
			Duties    []string `json:"duties"`
		}
		if err := payloadOf(q, &p); err != nil {
			return err
		}
		_, _, err := s.setPrincipalDuties(ctx, a, p.Principal, p.Duties, "", q.ID)
		return err
	})
}

// Pending is what a governed change returns, once its transaction committed, when it became a
// pending proposal instead of applying: the API answers 202 with the request.
type Pending struct{ Request approval.Request }

func (p *Pending) Error() string {
	return fmt.Sprintf("%s proposed as approval %s: it applies when approved (%d approvals needed)", p.Request.Kind, p.Request.ID, p.Request.Approvers)
}

// pendingOf keeps a proposal only when its transaction committed.
func pendingOf(q *approval.Request, err error) (*approval.Request, error) {
	if err != nil {
		return nil, err
	}
	return q, nil
}

// pendingErr turns a committed proposal into *Pending.
func pendingErr(q *approval.Request, err error) error {
	if err == nil && q != nil {
		return &Pending{Request: *q}
	}
	return err
}

// RuleStaleBase names the rule that refuses to apply an approved change whose base changed.
const RuleStaleBase = "approval:stale-base"

// StaleBaseError refuses to apply an approved change because what it was proposed against
// (a policy's version, an environment's settings) changed since: applying it would silently
// undo or override the newer state. It is a conflict that names its rule.
type StaleBaseError struct{ Msg string }

func (e *StaleBaseError) Error() string { return e.Msg }

// FailureKind classifies the refusal as a conflict (409).
func (e *StaleBaseError) FailureKind() failure.Kind { return failure.Conflict }

// FailureRule names the rule that failed.
func (e *StaleBaseError) FailureRule() string { return RuleStaleBase }

// CheckBase refuses to apply approval approvalID when base, what the change was proposed
// against (empty: a proposal from before bases were recorded, not checked), differs from now,
// the same thing as of the applying transaction. what names it, e.g. "renewal policy version".
func CheckBase(approvalID, what, base, now string) error {
	if approvalID == "" || base == "" || base == now {
		return nil
	}
	return &StaleBaseError{Msg: fmt.Sprintf("approval %s was proposed against %s %s, which is now %s: the change is not applied (rule %s); propose it again against the current state",
		approvalID, what, base, now, RuleStaleBase)}
}
