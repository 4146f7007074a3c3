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

// Break-glass access (docs/governance.md, *Break-glass*). A deployment administrator asks for
// the right to manage one party's principals for a bounded window; an administrator of that
// party approves or denies; the window opens at approval and ends at its end, or earlier when
// the party's administrator or the requester ends it. The requests are listed to every
// principal of the party. An open window lets its requester manage the party's principals
// (principals.go) and nothing else: it never acts as the party, never owns a cell, never reads
// a device.
//
// It is not an approval of approvals.go: those are decided by the owner of a stage's approve
// duty and carried out as their requester, while this one is decided by the party's
// administrators and opens a window for a principal that belongs to no party.

// openAccess returns the newest open request of a for partyID, if any.
func openAccess(tx store.Tx, a audit.Actor, partyID string, now time.Time) (party.Access, bool, error) {
	list, err := tx.Parties().ListAccess(store.AccessFilter{PartyID: partyID, PrincipalID: a.PrincipalID, Limit: 100})
	if err != nil {
		return party.Access{}, false, err
	}
	for _, acc := range list {
		if acc.Open(now) {
			return acc, true, nil
		}
	}
	return party.Access{}, false, nil
}

// AccessRequest asks for break-glass access.
type AccessRequest struct {
	Reason   string `json:"reason"`
	Duration string `json:"duration,omitempty"` // a Go duration; "": party.DefaultAccess
}

// RequestAccess records a deployment administrator's request for access to partyID's
// principals. It opens nothing until an administrator of partyID approves.
func (s *Service) RequestAccess(ctx context.Context, a audit.Actor, partyID string, r AccessRequest) (party.Access, error) {
	if !IsDeploymentAdmin(a) {
		return party.Access{}, failure.New(failure.Denied, "break-glass access is asked for by a deployment administrator; a party's own administrators manage its principals directly")
	}
	d, err := parseDuration("duration", r.Duration)
	if err != nil {
		return party.Access{}, err
	}
	if d, err = party.CheckAccessRequest(r.Reason, d); err != nil {
		return party.Access{}, err
	}
	now := s.now()
	acc := party.Access{ID: party.NewID("acc"), PartyID: partyID, PrincipalID: a.PrincipalID, Reason: r.Reason, Duration: d,
		State: party.AccessPending, RequestedAt: now, ExpiresAt: now.Add(party.AccessRequestTTL)}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Parties().GetParty(partyID); err != nil {
			return err
		}
		if err := tx.Parties().CreateAccess(acc); err != nil {
			return err
		}
		_, err := tx.Audit().Append(Event(a, now, "party.access.request", "", "party:"+partyID, "access:"+acc.ID,
			map[string]any{"reason": acc.Reason, "duration": d.String()}))
		return err
	})
	return acc, err
}

// mayReadAccess: the party's principals, its requester, other deployment administrators and
// auditors.
func mayReadAccess(tx store.Tx, a audit.Actor, acc party.Access) (bool, error) {
	if IsDeploymentAdmin(a) || a.PartyID == acc.PartyID {
		return true, nil
	}
	return IsAuditor(tx, a)
}

// GetAccess returns one request, with its state as of now.
func (s *Service) GetAccess(ctx context.Context, a audit.Actor, id string) (party.Access, error) {
	var acc party.Access
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		if acc, err = tx.Parties().GetAccess(id); err != nil {
			return err
		}
		if ok, err := mayReadAccess(tx, a, acc); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "break-glass request %s not found", id)
		}
		return nil
	})
	return acc.At(s.now()), err
}

// ListAccess lists the break-glass requests concerning partyID, newest first, to the party's
// principals, deployment administrators and auditors.
func (s *Service) ListAccess(ctx context.Context, a audit.Actor, partyID string) ([]party.Access, error) {
	var out []party.Access
	now := s.now()
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out = nil
		if _, err := tx.Parties().GetParty(partyID); err != nil {
			return err
		}
		if ok, err := mayReadAccess(tx, a, party.Access{PartyID: partyID}); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.Denied, "party %s may not list the break-glass requests of party %s", a.PartyID, partyID)
		}
		list, err := tx.Parties().ListAccess(store.AccessFilter{PartyID: partyID})
		for _, acc := range list {
			out = append(out, acc.At(now))
		}
		return err
	})
	return out, err
}

// DecideAccess approves or denies a pending request; an administrator of its party may. An
// approval opens the window at once, for the duration asked.
func (s *Service) DecideAccess(ctx context.Context, a audit.Actor, id string, approve bool, comment string) (party.Access, error) {
	if len(comment) > party.MaxAccessReason {
		return party.Access{}, failure.New(failure.Invalid, "the comment is longer than %d bytes", party.MaxAccessReason)
	}
	now := s.now()
	var acc party.Access
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if acc, err = s.accessFor(tx, a, id); err != nil {
			return err
		}
		if !IsPartyAdmin(a, acc.PartyID) {
			return failure.New(failure.Denied, "break-glass request %s is decided by an administrator of party %s", id, acc.PartyID)
		}
		if st := acc.At(now).State; st != party.AccessPending {
			return failure.New(failure.Conflict, "break-glass request %s is %s, not pending", id, st)
		}
		if approve {
			if err := approvesOwn(tx, a, acc); err != nil {
				return err
			}
		}
		acc.DecidedBy, acc.DecidedAt, acc.Comment, acc.State = a.PrincipalID, &now, comment, party.AccessDenied
		action := "party.access.deny"
		if approve {
			until := now.Add(acc.Duration)
			acc.State, acc.Until, action = party.AccessApproved, &until, "party.access.approve"
		}
		if err := tx.Parties().UpdateAccess(acc, party.AccessPending); err != nil {
			return err
		}
		_, err = tx.Audit().Append(Event(a, now, action, "", "party:"+acc.PartyID, "access:"+acc.ID,
			map[string]any{"requested_by": acc.PrincipalID, "until": acc.Until, "comment": comment}))
		return err
	})
	return acc, err
}

// EndAccess closes an open window early; an administrator of the party or the requester may.
func (s *Service) EndAccess(ctx context.Context, a audit.Actor, id string) (party.Access, error) {
	now := s.now()
	var acc party.Access
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if acc, err = s.accessFor(tx, a, id); err != nil {
			return err
		}
		if !IsPartyAdmin(a, acc.PartyID) && a.PrincipalID != acc.PrincipalID {
			return failure.New(failure.Denied, "break-glass request %s is ended by an administrator of party %s or its requester", id, acc.PartyID)
		}
		if st := acc.At(now).State; st != party.AccessApproved {
			return failure.New(failure.Conflict, "break-glass request %s is %s, not open", id, st)
		}
		acc.State, acc.EndedAt, acc.EndedBy = party.AccessEnded, &now, a.PrincipalID
		if err := tx.Parties().UpdateAccess(acc, party.AccessApproved); err != nil {
			return err
		}
		_, err = tx.Audit().Append(Event(a, now, "party.access.end", "", "party:"+acc.PartyID, "access:"+acc.ID, map[string]any{"requested_by": acc.PrincipalID}))
		return err
	})
	return acc, err
}

func (s *Service) accessFor(tx store.Tx, a audit.Actor, id string) (party.Access, error) {
	acc, err := tx.Parties().GetAccess(id)
	if err != nil {
		return acc, err
	}
	if ok, err := mayReadAccess(tx, a, acc); err != nil {
		return acc, err
	} else if !ok {
		return acc, failure.New(failure.NotFound, "break-glass request %s not found", id)
	}
	return acc, nil
}

// approvesOwn refuses the approval of acc made with a hand-over token (RuleHandoverDecide):
// whoever was shown the token, the deployment administrator that minted it included, could
// otherwise open a break-glass window for itself and mint a fresh hand-over in it. The party
// approves signed in through its identity provider or with a token of its own; denying stays
// open to every administrator of the party.
func approvesOwn(tx store.Tx, a audit.Actor, acc party.Access) error {
	ho, err := handoverIn(tx, a, acc.PartyID)
	if err != nil || !ho.on {
		return err
	}
	return &HandoverDecideError{Msg: fmt.Sprintf("break-glass request %s is approved by an administrator of party %s signed in through the party's identity provider or with a token of the party's own, not with a hand-over token (the deployment administrator that minted it was shown it); complete the hand-over first (docs/governance.md, Roles; rule %s)", acc.ID, acc.PartyID, RuleHandoverDecide)}
}
