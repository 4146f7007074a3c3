package governance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Executor carries out an approved request on behalf of its requester. It must consume the
// approval (ConsumeApproval) in the same transaction as the change it makes, so that an
// approval is used at most once.
type Executor func(ctx context.Context, requester audit.Actor, r approval.Request) error

// OnApproved registers what runs when a request of kind k is approved. Onboarding has none:
// the device itself comes back for its certificate.
func (s *Service) OnApproved(k approval.Kind, fn Executor) {
	s.execMu.Lock()
	defer s.execMu.Unlock()
	if s.exec == nil {
		s.exec = map[approval.Kind]Executor{}
	}
	s.exec[k] = fn
}

func (s *Service) executor(k approval.Kind) Executor {
	s.execMu.RLock()
	defer s.execMu.RUnlock()
	return s.exec[k]
}

func newApprovalID() string { return "apr-" + strings.ToLower(rand.Text()[:16]) }

// RuleFor returns the rule requests of kind k are created under: the stored one, or the default.
func RuleFor(tx store.Tx, k approval.Kind) (approval.Rule, error) {
	r, ok, err := tx.Approvals().Rule(k)
	if err != nil || ok {
		return r, err
	}
	return approval.DefaultRule(k), nil
}

// RequestApproval creates a pending request inside the caller's transaction: the approver
// party is the owner of the kind's approve duty over chain. It appends the audit event.
func RequestApproval(tx store.Tx, a audit.Actor, now time.Time, k approval.Kind, chain ownership.Chain, subject, reason string, until *time.Time, payload any) (approval.Request, error) {
	rule, err := RuleFor(tx, k)
	if err != nil {
		return approval.Request{}, err
	}
	var lookupErr error
	approver, _, _ := ownership.Resolve(k.Stage(), ownership.Approve, chain, func(key ownership.Key) (string, bool) {
		p, found, err := tx.Ownership().Owner(key)
		if err != nil && lookupErr == nil {
			lookupErr = err
		}
		return p, found
	})
	if lookupErr != nil {
		return approval.Request{}, lookupErr
	}
	q := approval.Request{RequesterParty: a.PartyID, RequesterPrincipal: a.PrincipalID, ApproverParty: approver,
		Scope: chain[0].String(), Subject: subject, Reason: reason, Until: until}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return q, err
		}
		q.Payload = b
	}
	q, err = approval.New(rule, newApprovalID(), q, now)
	if err != nil {
		return q, err
	}
	if err := tx.Approvals().CreateApproval(q); err != nil {
		return q, err
	}
	_, err = tx.Audit().Append(Event(a, now, "approval.request", k.Stage(), q.Scope, q.Subject, q))
	return q, err
}

// ConsumeApproval marks an approved request executed by the action it approved, inside that
// action's transaction.
func ConsumeApproval(tx store.Tx, a audit.Actor, now time.Time, id string, k approval.Kind, subject string) (approval.Request, error) {
	q, err := tx.Approvals().GetApproval(id)
	if err != nil {
		return q, err
	}
	if err := q.Consume(k, subject, now); err != nil {
		return q, err
	}
	if err := tx.Approvals().UpdateApproval(q, approval.Approved); err != nil {
		return q, err
	}
	_, err = tx.Audit().Append(Event(a, now, "approval.execute", k.Stage(), q.Scope, q.Subject, map[string]any{"approval": q.ID, "kind": q.Kind, "approved_by": q.Decisions}))
	return q, err
}

// LatestApproval returns the newest request of kind k for subject, if any, with expiry
// applied as of now (not stored).
func LatestApproval(tx store.Tx, k approval.Kind, subject string, now time.Time) (approval.Request, bool, error) {
	qs, err := tx.Approvals().ListApprovals(store.ApprovalFilter{Kind: k, Subject: subject, Limit: 1})
	if err != nil || len(qs) == 0 {
		return approval.Request{}, false, err
	}
	q := qs[0]
	q.Expire(now)
	return q, true, nil
}

// Decision is what an approver says.
type Decision struct {
	Approve bool   `json:"approve"`
	Comment string `json:"comment,omitempty"`
}

// DecideResult is a decided request and, when it became approved and has an executor, what
// running it did.
type DecideResult struct {
	Request approval.Request `json:"approval"`
	// Executed is true when the approved action ran; ExecError says why it did not.
	Executed  bool   `json:"executed"`
	ExecError string `json:"execution_error,omitempty"`
}

// Decide records a principal's decision. The principal's party must be the request's approver
// party and own the approve duty; the principal must not be the requester, must not have
// decided already, and is subject to separation-of-duties rules. When the request becomes
// approved, its executor runs at once as the requester.
func (s *Service) Decide(ctx context.Context, a audit.Actor, id string, d Decision) (DecideResult, error) {
	now := s.now()
	var res DecideResult
	var expired bool
	err := s.st.Update(ctx, func(tx store.Tx) error {
		// Update may run this again: an earlier run's outcome (expired, say) is not this one's.
		res, expired = DecideResult{}, false
		q, err := tx.Approvals().GetApproval(id)
		if err != nil {
			return err
		}
		if ok, err := CanRead(tx, a, q.RequesterParty, q.ApproverParty); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "approval %s not found", id)
		}
		if q.Expire(now) {
			expired = true
			res.Request = q
			if err := tx.Approvals().UpdateApproval(q, approval.Pending); err != nil {
				return err
			}
			_, err = tx.Audit().Append(Event(audit.Actor{PartyID: a.PartyID, PrincipalID: a.PrincipalID}, now, "approval.expire", q.Kind.Stage(), q.Scope, q.Subject, map[string]any{"approval": q.ID}))
			return err
		}
		if err := q.Decide(approval.Decision{PartyID: a.PartyID, PrincipalID: a.PrincipalID, Approve: d.Approve, Comment: d.Comment}, now); err != nil {
			return err
		}
		// No request is decided by a principal its requester made or gave a working
		// credential (a puppet): IndependentApprover. Two people must mean two holders of
		// credentials, for a re-admission or a whole-CA revocation as for a governance change.
		if err := IndependentApprover(tx, q.RequesterPrincipal, a.PrincipalID, now); err != nil {
			return err
		}
		// The approve duty, with the principal-level checks, as of now: the matrix may have
		// changed since the request was made. A governance change is decided by its quorum's
		// seats instead (approval.NewChange), which Decide checked.
		if !q.Kind.IsChange() {
			chain, err := approvalChain(tx, q)
			if err != nil {
				return err
			}
			if err := Require(tx, a, q.Kind.Stage(), ownership.Approve, chain); err != nil {
				return err
			}
		}
		if err := tx.Approvals().UpdateApproval(q, approval.Pending); err != nil {
			return err
		}
		action := "approval.approve"
		if !d.Approve {
			action = "approval.deny"
		}
		res.Request = q
		_, err = tx.Audit().Append(Event(a, now, action, q.Kind.Stage(), q.Scope, q.Subject, map[string]any{"approval": q.ID, "kind": q.Kind, "state": q.State, "comment": d.Comment}))
		return err
	})
	if err != nil {
		return res, err
	}
	if expired {
		return res, failure.New(failure.Conflict, "approval %s expired at %s undecided", id, res.Request.ExpiresAt.Format(time.RFC3339))
	}
	if res.Request.State == approval.Approved {
		s.run(ctx, &res)
	}
	if res.Request.State == approval.Denied {
		if fn := s.onDenied(res.Request.Kind); fn != nil {
			if err := fn(ctx, res.Request); err != nil {
				res.ExecError = err.Error()
			}
		}
	}
	return res, nil
}

func (s *Service) run(ctx context.Context, res *DecideResult) {
	fn := s.executor(res.Request.Kind)
	if fn == nil {
		return
	}
	q := res.Request
	requester := audit.Actor{PartyID: q.RequesterParty, PrincipalID: q.RequesterPrincipal}
	// An approval left unused past its ExecuteBy is not set off again (approval.Expire): the
	// action does not start, and the refusal is recorded as any other.
	err := q.Lapsed(s.now())
	if err == nil {
		err = s.asProposer(ctx, q, &requester)
	}
	if err == nil {
		err = fn(ctx, requester, q)
	}
	if err != nil {
		// Whatever the kind, an approved action that did not run is a refusal: it is
		// recorded, and the request stays approved and unexecuted.
		res.ExecError = err.Error()
		if aerr := s.auditExecRefusal(ctx, requester, q, err); aerr != nil {
			res.ExecError += "; recording the refusal in the audit log failed: " + aerr.Error()
		}
		return
	}
	res.Executed = true
	_ = s.st.View(ctx, func(tx store.Tx) (err error) { res.Request, err = tx.Approvals().GetApproval(q.ID); return err })
}

// asProposer gives a governance change its proposer's authority as of now: an administrator's
// change needs the proposer still to be an enabled administrator (requester.Admin is set from
// the proposer's row). Other kinds run as their requester, unchanged.
func (s *Service) asProposer(ctx context.Context, q approval.Request, requester *audit.Actor) error {
	if !q.Kind.IsChange() {
		return nil
	}
	var p party.Principal
	if err := s.st.View(ctx, func(tx store.Tx) (err error) { p, err = tx.Parties().GetPrincipal(q.RequesterPrincipal); return err }); err != nil {
		return fmt.Errorf("reading the proposer %s: %w", q.RequesterPrincipal, err)
	}
	if p.DisabledAt != nil {
		return failure.New(failure.Conflict, "the proposer %s is disabled: the change is not applied", p.ID)
	}
	requester.Admin = p.Admin
	return nil
}

// auditExecRefusal records that an approved request's action did not run (its transaction
// rolled back, or a governance change's proposer may no longer propose it): action
// approval.execute.refused, with the kind, the error and the rule it names. The request stays
// approved and unexecuted.
func (s *Service) auditExecRefusal(ctx context.Context, requester audit.Actor, q approval.Request, cause error) error {
	now := s.now()
	return s.st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Audit().Append(Event(requester, now, "approval.execute.refused", q.Kind.Stage(), q.Scope, q.Subject,
			map[string]any{"approval": q.ID, "kind": q.Kind, "error": cause.Error(), "rule": failure.RuleOf(cause)}))
		return err
	})
}

// Execute runs the action of an approved request that was not carried out when it was
// approved (the server stopped, or the action failed and its cause is fixed). The requester's
// party or the approver's party may ask.
func (s *Service) Execute(ctx context.Context, a audit.Actor, id string) (DecideResult, error) {
	var res DecideResult
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		res.Request, err = tx.Approvals().GetApproval(id)
		if err != nil {
			return err
		}
		q := res.Request
		if a.PartyID != q.RequesterParty && a.PartyID != q.ApproverParty {
			return failure.New(failure.NotFound, "approval %s not found", id)
		}
		// The action runs as its requester, so only the requester, or a principal that may
		// decide such requests now, may set it off again: not any colleague of theirs.
		if a.PrincipalID == q.RequesterPrincipal {
			return nil
		}
		if q.Kind.IsChange() {
			// Any principal of the party may set an approved change off again: it applies
			// what the quorum approved, as its proposer, and nothing else.
			return nil
		}
		chain, err := approvalChain(tx, q)
		if err != nil {
			return err
		}
		return Require(tx, a, q.Kind.Stage(), ownership.Approve, chain)
	})
	if err != nil {
		return res, err
	}
	resumable := res.Request.State == approval.Executed && res.Request.Kind == approval.RevokeCA
	if res.Request.State != approval.Approved && !resumable {
		return res, failure.New(failure.Conflict, "approval %s is %s; only an approved request is executed", id, res.Request.State)
	}
	if s.executor(res.Request.Kind) == nil {
		return res, failure.New(failure.Invalid, "%s approvals are used by the action that asked for them (the device enrolls again), not executed", res.Request.Kind)
	}
	s.run(ctx, &res)
	if res.ExecError != "" {
		return res, failure.New(failure.Conflict, "approval %s: %s", id, res.ExecError)
	}
	return res, nil
}

// Cancel withdraws a pending request; its requester's party may.
func (s *Service) Cancel(ctx context.Context, a audit.Actor, id string) (approval.Request, error) {
	now := s.now()
	var q approval.Request
	err := s.st.Update(ctx, func(tx store.Tx) (err error) {
		if q, err = tx.Approvals().GetApproval(id); err != nil {
			return err
		}
		if a.PartyID != q.RequesterParty && a.PartyID != q.ApproverParty {
			return failure.New(failure.NotFound, "approval %s not found", id)
		}
		// An approved request whose action did not run (refused when it ran, or the server
		// stopped) may be withdrawn too: otherwise it would wait, approved, for anyone entitled
		// to execute it, however long after the approvers looked.
		was := q.State
		if err := q.Cancel(a.PartyID, now); err != nil {
			return err
		}
		if err := tx.Approvals().UpdateApproval(q, was); err != nil {
			return err
		}
		_, err = tx.Audit().Append(Event(a, now, "approval.cancel", q.Kind.Stage(), q.Scope, q.Subject, map[string]any{"approval": q.ID, "was": was}))
		return err
	})
	if err == nil {
		if fn := s.onDenied(q.Kind); fn != nil {
			_ = fn(ctx, q)
		}
	}
	return q, err
}

// OnDenied registers what runs when a request of kind k is denied or cancelled (a support
// grant records that it will not be issued).
func (s *Service) OnDenied(k approval.Kind, fn func(ctx context.Context, r approval.Request) error) {
	s.execMu.Lock()
	defer s.execMu.Unlock()
	if s.denied == nil {
		s.denied = map[approval.Kind]func(context.Context, approval.Request) error{}
	}
	s.denied[k] = fn
}

func (s *Service) onDenied(k approval.Kind) func(context.Context, approval.Request) error {
	s.execMu.RLock()
	defer s.execMu.RUnlock()
	return s.denied[k]
}

// GetApproval returns one request to a party that asked for it, decides it, or audits.
func (s *Service) GetApproval(ctx context.Context, a audit.Actor, id string) (approval.Request, error) {
	var q approval.Request
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		if q, err = tx.Approvals().GetApproval(id); err != nil {
			return err
		}
		if ok, err := CanRead(tx, a, q.RequesterParty, q.ApproverParty); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "approval %s not found", id)
		}
		return nil
	})
	q.Expire(s.now())
	return q, err
}

// ApprovalFilter selects what ListApprovals returns; zero fields match everything. It is the
// store's filter, named here so that a caller of the service (the API) need not import the
// store.
type ApprovalFilter = store.ApprovalFilter

// ListApprovals returns the requests the caller's party asked for or decides (every request
// for auditors), newest first.
func (s *Service) ListApprovals(ctx context.Context, a audit.Actor, f store.ApprovalFilter) ([]approval.Request, error) {
	var out []approval.Request
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		f := f
		out = nil
		auditor, err := IsAuditor(tx, a)
		if err != nil {
			return err
		}
		if !auditor {
			f.Party = a.PartyID
		}
		wantPending := f.State == approval.Pending
		if f.State == approval.Expired {
			f.State = approval.Pending // expiry is applied on read
		}
		qs, err := tx.Approvals().ListApprovals(f)
		if err != nil {
			return err
		}
		now := s.now()
		for _, q := range qs {
			q.Expire(now)
			if wantPending && q.State != approval.Pending {
				continue
			}
			out = append(out, q)
		}
		return nil
	})
	return out, err
}

// RuleView is a rule with its expiry as text.
type RuleView struct {
	approval.Rule
	Expiry string `json:"expiry"`
	Stored bool   `json:"stored"` // false: the built-in default
}

// ApprovalRules lists the rule of every kind.
func (s *Service) ApprovalRules(ctx context.Context) ([]RuleView, error) {
	var out []RuleView
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out = nil
		for _, k := range approval.Kinds {
			r, ok, err := tx.Approvals().Rule(k)
			if err != nil {
				return err
			}
			if !ok {
				r = approval.DefaultRule(k)
			}
			out = append(out, RuleView{Rule: r, Expiry: r.Expiry.String(), Stored: ok})
		}
		return nil
	})
	return out, err
}

// RuleRequest sets the rule of one kind.
type RuleRequest struct {
	Approvers  int    `json:"approvers"`
	OtherParty bool   `json:"other_party"`
	Expiry     string `json:"expiry"` // Go duration, e.g. 72h
}

// SetApprovalRule sets the rule of one kind; administrators only. Pending requests keep the
// rule they were made under.
//
// The change is governed (changes.go) under the actor's party's approval-rule-change rule when
// one is stored. A proposal records the rule it replaces as its base: once approved, it
// applies only if that is still the rule (CheckBase).
func (s *Service) SetApprovalRule(ctx context.Context, a audit.Actor, kind string, r RuleRequest) (RuleView, error) {
	v, q, err := s.setApprovalRule(ctx, a, kind, r, "")
	return v, pendingErr(q, err)
}

func (s *Service) setApprovalRule(ctx context.Context, a audit.Actor, kind string, r RuleRequest, approvalID string) (RuleView, *approval.Request, error) {
	v, pending, err := s.setApprovalRuleTx(ctx, a, kind, r, approvalID)
	q, err := pendingOf(pending, err)
	return v, q, err
}

func (s *Service) setApprovalRuleTx(ctx context.Context, a audit.Actor, kind string, r RuleRequest, approvalID string) (RuleView, *approval.Request, error) {
	if err := RequireAdmin(a, "changing approval rules"); err != nil {
		return RuleView{}, nil, err
	}
	k, err := approval.ParseKind(kind)
	if err != nil {
		return RuleView{}, nil, err
	}
	if k.IsChange() {
		return RuleView{}, nil, failure.New(failure.Invalid, "%s is a governance change: each party sets its rule (PUT /v1/parties/{id}/change-rules/%s)", k, k)
	}
	exp, err := time.ParseDuration(r.Expiry)
	if err != nil {
		return RuleView{}, nil, failure.New(failure.Invalid, "expiry %q is not a duration such as 72h", r.Expiry)
	}
	rule := approval.Rule{Kind: k, Approvers: r.Approvers, OtherParty: r.OtherParty, Expiry: exp}
	if err := rule.Validate(); err != nil {
		return RuleView{}, nil, err
	}
	now := s.now()
	var pending *approval.Request
	err = s.st.Update(ctx, func(tx store.Tx) error {
		pending = nil // Update may run this function again: a proposal of an earlier run is not this run's
		base, err := approvalRuleBase(tx, k)
		if err != nil {
			return err
		}
		c := Change{Kind: approval.RuleChange, Subject: "approval-rule:" + string(k), Payload: map[string]any{"kind": k, "approval_rule": r}, ApprovalID: approvalID,
			Base: base, BaseWhat: "the " + string(k) + " approval rule:"}
		if _, ok, err := tx.ChangeRules().ChangeRule(a.PartyID, approval.RuleChange); err != nil {
			return err
		} else if !ok {
			c.Rule = &approval.ChangeRule{} // no rule of the kind stored: applied at once, as before
		}
		q, apply, err := Govern(tx, a, now, c)
		if err != nil || !apply {
			pending = &q
			return err
		}
		if err := tx.Approvals().SetRule(rule, a.PrincipalID, now); err != nil {
			return err
		}
		_, err = tx.Audit().Append(Event(a, now, "approval.rule.set", k.Stage(), "", "approval-rule:"+string(k), RuleView{Rule: rule, Expiry: exp.String(), Stored: true}))
		return err
	})
	return RuleView{Rule: rule, Expiry: exp.String(), Stored: true}, pending, err
}

// approvalChain resolves the scope a request was made over to its chain.
func approvalChain(tx store.Tx, q approval.Request) (ownership.Chain, error) {
	kind, id, ok := strings.Cut(q.Scope, ":")
	if !ok {
		return nil, fmt.Errorf("approval %s has a malformed scope %q", q.ID, q.Scope)
	}
	return scopeChain(tx, ownership.Scope{Kind: ownership.ScopeKind(kind), ID: id})
}
