package app

import (
	"context"
	"errors"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// bootstrapAdmin creates the first party and its deployment administrator on an empty
// database. Nobody can authorise this act, so it is written directly, with its audit event,
// and refused once any party exists.
func bootstrapAdmin(ctx context.Context, st store.Store, now time.Time, p party.Party, principal, mode string) (party.Principal, string, error) {
	if err := party.ValidSlug("party id", p.ID); err != nil {
		return party.Principal{}, "", err
	}
	if err := party.ValidName("party name", p.Name); err != nil {
		return party.Principal{}, "", err
	}
	if _, err := party.ParseKind(string(p.Kind)); err != nil {
		return party.Principal{}, "", err
	}
	if err := party.ValidSlug("principal name", principal); err != nil {
		return party.Principal{}, "", err
	}
	p.CreatedAt = now
	admin := party.Principal{ID: party.NewID("prn"), PartyID: p.ID, Name: principal, Kind: party.Person, Admin: true, CreatedAt: now}
	token, hash := party.NewToken()
	err := st.Update(ctx, func(tx store.Tx) error {
		existing, err := tx.Parties().ListParties()
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return failure.New(failure.Conflict, "the deployment is already bootstrapped (%d parties exist); administrators create further principals", len(existing))
		}
		if err := tx.Parties().CreateParty(p); err != nil {
			return err
		}
		cells, err := governance.DefaultCells(tx, p)
		if err != nil {
			return err
		}
		for _, c := range cells {
			if err := tx.Ownership().SetCell(c, "bootstrap", now); err != nil {
				return err
			}
		}
		if err := tx.Parties().CreatePrincipal(admin, hash[:]); err != nil {
			return err
		}
		_, err = tx.Audit().Append(audit.Event{At: now, PartyID: p.ID, PrincipalID: "bootstrap", Action: "deployment.bootstrap", Subject: "principal:" + admin.ID,
			Detail: audit.Detail(map[string]any{"party": p, "admin": admin.Name, "mode": mode})})
		return err
	})
	if err != nil {
		return party.Principal{}, "", err
	}
	return admin, token, nil
}

// BootstrapRequest names the first party and administrator of a deployment.
type BootstrapRequest struct {
	ConfigFile string
	Party      party.Party
	Principal  string
}

// Bootstrap creates the first party and administrator of the deployment a configuration
// file describes, and returns the administrator's token (shown once).
func Bootstrap(ctx context.Context, r BootstrapRequest) (string, error) {
	if r.ConfigFile == "" {
		return "", errors.New("bootstrap: --config FILE is required")
	}
	cfg, err := config.Load(r.ConfigFile)
	if err != nil {
		return "", err
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return "", err
	}
	defer st.Close()
	_, token, err := bootstrapAdmin(ctx, st, time.Now().UTC(), r.Party, r.Principal, "config")
	return token, err
}
