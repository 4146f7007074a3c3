package governance

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// CreatePartyRequest creates a party; ID is a slug chosen by the caller.
type CreatePartyRequest struct {
	ID   string     `json:"id"`
	Name string     `json:"name"`
	Kind party.Kind `json:"kind"`
}

// CreateParty creates a party with the default cells of its kind. Administrators only.
func (s *Service) CreateParty(ctx context.Context, a audit.Actor, r CreatePartyRequest) (party.Party, error) {
	if err := RequireAdmin(a, "creating a party"); err != nil {
		return party.Party{}, err
	}
	if err := party.ValidSlug("party id", r.ID); err != nil {
		return party.Party{}, err
	}
	if err := party.ValidName("party name", r.Name); err != nil {
		return party.Party{}, err
	}
	if _, err := party.ParseKind(string(r.Kind)); err != nil {
		return party.Party{}, err
	}
	now := s.now()
	p := party.Party{ID: r.ID, Name: r.Name, Kind: r.Kind, CreatedAt: now}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(p); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "a party with id %q or name %q already exists", r.ID, r.Name)
			}
			return err
		}
		cells, err := DefaultCells(tx, p)
		if err != nil {
			return err
		}
		for _, c := range cells {
			if err := tx.Ownership().SetCell(c, a.PrincipalID, now); err != nil {
				return err
			}
		}
		_, err = tx.Audit().Append(Event(a, now, "party.create", "", "party:"+p.ID, "party:"+p.ID, map[string]any{"kind": p.Kind, "name": p.Name, "cells": cells}))
		return err
	})
	return p, err
}

// DefaultCells are the cells a new party gets: ownership.Defaults, except that an auditor
// does not take over audit cells another auditor already owns.
func DefaultCells(tx store.Tx, p party.Party) ([]ownership.Cell, error) {
	var out []ownership.Cell
	for _, c := range ownership.Defaults(p.ID, string(p.Kind)) {
		if _, taken, err := tx.Ownership().Owner(ownership.Key{Stage: c.Stage, Duty: c.Duty, Scope: c.Scope}); err != nil {
			return nil, err
		} else if taken {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// ListParties lists every party; party names are not secret within a deployment.
func (s *Service) ListParties(ctx context.Context) ([]party.Party, error) {
	var out []party.Party
	err := s.st.View(ctx, func(tx store.Tx) (err error) { out, err = tx.Parties().ListParties(); return err })
	return out, err
}
