package governance

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ListCells returns the whole matrix (it holds no secrets and every party needs to know who
// owns what).
func (s *Service) ListCells(ctx context.Context) ([]ownership.Cell, error) {
	var out []ownership.Cell
	err := s.st.View(ctx, func(tx store.Tx) (err error) { out, err = tx.Ownership().ListCells(); return err })
	return out, err
}

// SetCell assigns a cell (mayChangeCell says who may). A party may delegate a cell over a
// lot or model it owns the same duty over (a manufacturer delegating issuance of one lot to
// its contract manufacturer), and take such a delegation back.
//
// The change is governed (changes.go): under the party's ownership-change rule it may become a
// pending proposal, returned as *Pending once committed. The proposal records the cell's
// owner (or "absent") as its base: once approved, it applies only if the cell still has that
// owner (CheckBase), so an approval never overrides a change made to the cell meanwhile.
func (s *Service) SetCell(ctx context.Context, a audit.Actor, c ownership.Cell) error {
	return pendingErr(s.setCell(ctx, a, c, "", ""))
}

func (s *Service) setCell(ctx context.Context, a audit.Actor, c ownership.Cell, reason, approvalID string) (*approval.Request, error) {
	if err := validCell(c); err != nil {
		return nil, err
	}
	now := s.now()
	var pending *approval.Request
	err := s.st.Update(ctx, func(tx store.Tx) error {
		pending = nil // Update may run this function again: a proposal of an earlier run is not this run's
		if _, err := tx.Parties().GetParty(c.PartyID); err != nil {
			return err
		}
		chain, err := scopeChain(tx, c.Scope)
		if err != nil {
			return err
		}
		if err := mayChangeCell(tx, a, c.Stage, c.Duty, chain); err != nil {
			return err
		}
		k := ownership.Key{Stage: c.Stage, Duty: c.Duty, Scope: c.Scope}
		base, err := cellBase(tx, k)
		if err != nil {
			return err
		}
		q, apply, err := Govern(tx, a, now, Change{Kind: approval.OwnershipChange, Scope: c.Scope.String(), Subject: "cell:" + k.String(),
			Reason: reason, Payload: map[string]any{"cell": c}, ApprovalID: approvalID, Base: base, BaseWhat: "cell " + k.String() + ":"})
		if err != nil || !apply {
			pending = &q
			return err
		}
		if err := tx.Ownership().SetCell(c, a.PrincipalID, now); err != nil {
			return err
		}
		if err := checkParty(tx, c.PartyID); err != nil {
			return err
		}
		_, err = tx.Audit().Append(Event(a, now, "ownership.set", c.Stage, c.Scope.String(), c.Scope.String(), c))
		return err
	})
	return pendingOf(pending, err)
}

// DeleteCell removes a cell: the scope then inherits from its parent, or, with no cell above
// it, nobody owns the duty (a gap the governance report shows). mayChangeCell says who may.
// The change is governed like SetCell's.
func (s *Service) DeleteCell(ctx context.Context, a audit.Actor, k ownership.Key) error {
	return pendingErr(s.deleteCell(ctx, a, k, "", ""))
}

func (s *Service) deleteCell(ctx context.Context, a audit.Actor, k ownership.Key, reason, approvalID string) (*approval.Request, error) {
	if err := validCell(ownership.Cell{Stage: k.Stage, Duty: k.Duty, Scope: k.Scope, PartyID: "-"}); err != nil {
		return nil, err
	}
	now := s.now()
	var pending *approval.Request
	err := s.st.Update(ctx, func(tx store.Tx) error {
		pending = nil // Update may run this function again: a proposal of an earlier run is not this run's
		owner, found, err := tx.Ownership().Owner(k)
		if err != nil {
			return err
		}
		if !found {
			return failure.New(failure.NotFound, "no cell %s", k)
		}
		chain, err := scopeChain(tx, k.Scope)
		if err != nil {
			return err
		}
		if err := mayChangeCell(tx, a, k.Stage, k.Duty, chain); err != nil {
			return err
		}
		q, apply, err := Govern(tx, a, now, Change{Kind: approval.OwnershipChange, Scope: k.Scope.String(), Subject: "cell:" + k.String(),
			Reason: reason, Payload: map[string]any{"delete": true, "cell": ownership.Cell{Stage: k.Stage, Duty: k.Duty, Scope: k.Scope}}, ApprovalID: approvalID,
			Base: ownerBase(owner), BaseWhat: "cell " + k.String() + ":"})
		if err != nil || !apply {
			pending = &q
			return err
		}
		if err := tx.Ownership().DeleteCell(k); err != nil {
			return err
		}
		_, err = tx.Audit().Append(Event(a, now, "ownership.delete", k.Stage, k.Scope.String(), k.Scope.String(), map[string]any{"stage": k.Stage, "duty": k.Duty, "scope": k.Scope, "was": owner}))
		return err
	})
	return pendingOf(pending, err)
}

// mayChangeCell says whether a may set or delete a cell over chain[0]:
//   - a deployment administrator, over the deployment scope only (who audits the deployment:
//     a deployment-wide setting); cells over a party's scopes are that party's;
//   - an administrator of the party a scope belongs to (the manufacturer of a model or lot,
//     the operator of an environment, the party of a manufacturer, operator or vendor scope);
//   - any principal whose party owns the same duty over the parent scope (a delegation), with
//     the principal-level checks of Require.
func mayChangeCell(tx store.Tx, a audit.Actor, stage ownership.Stage, duty ownership.Duty, chain ownership.Chain) error {
	root := chain[len(chain)-1]
	if root.Kind == ownership.Deployment {
		if IsDeploymentAdmin(a) {
			return nil
		}
		return failure.New(failure.Denied, "cells over the deployment scope are set by a deployment administrator")
	}
	if a.Admin && a.PartyID == root.ID {
		return nil
	}
	if IsDeploymentAdmin(a) {
		return failure.New(failure.Denied, "a deployment administrator sets cells over the deployment scope only: cells over %s belong to party %s, whose administrators set them", chain[0], root.ID)
	}
	if len(chain) < 2 {
		return failure.New(failure.Denied, "cells over %s are set by an administrator of party %s", chain[0], root.ID)
	}
	// The caller must own this duty over the parent scope.
	return Require(tx, a, stage, duty, chain[1:])
}

func validCell(c ownership.Cell) error {
	if _, err := ownership.ParseStage(string(c.Stage)); err != nil {
		return err
	}
	if _, err := ownership.ParseDuty(string(c.Duty)); err != nil {
		return err
	}
	if _, err := ownership.ParseScopeKind(string(c.Scope.Kind)); err != nil {
		return err
	}
	if c.Scope.ID == "" || c.PartyID == "" {
		return failure.New(failure.Invalid, "a cell needs a scope id and a party")
	}
	return nil
}

// scopeChain resolves a scope to itself and its ancestors, checking that it exists.
func scopeChain(tx store.Tx, s ownership.Scope) (ownership.Chain, error) {
	switch s.Kind {
	case ownership.Lot:
		l, err := tx.Catalog().GetLot(s.ID)
		if err != nil {
			return nil, err
		}
		return LotChain(l), nil
	case ownership.Model:
		m, err := tx.Catalog().GetModel(s.ID)
		if err != nil {
			return nil, err
		}
		return ModelChain(m), nil
	case ownership.Environment:
		e, err := tx.Environments().GetEnvironment(s.ID)
		if err != nil {
			return nil, err
		}
		return ownership.Chain{s, {Kind: ownership.Operator, ID: e.OperatorID}}, nil
	case ownership.Manufacturer, ownership.Operator, ownership.Vendor:
		if _, err := tx.Parties().GetParty(s.ID); err != nil {
			return nil, err
		}
		return ownership.Chain{s}, nil
	case ownership.Deployment:
		if s.ID != "*" {
			return nil, failure.New(failure.Invalid, "the deployment scope's id is *")
		}
		return ownership.Chain{s}, nil
	}
	return nil, failure.New(failure.Invalid, "cells over %s scopes are not supported yet", s.Kind)
}
