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

// bootstrapAdmin creates a deployment administrator (party.Deployment) and, when p names
// one that does not exist yet, the first party (with no principals: the administrator creates
// its first administrator through the API). Nobody can authorise this act, so it is written
// directly, with its audit event, and refused while any deployment administrator holds a valid
// token: it starts a deployment, or recovers one whose deployment administrators all lost
// their tokens.
func bootstrapAdmin(ctx context.Context, st store.Store, now time.Time, p party.Party, principal, mode string, lifetime time.Duration) (party.Principal, string, error) {
	if p.ID != "" {
		if err := party.ValidSlug("party id", p.ID); err != nil {
			return party.Principal{}, "", err
		}
		if err := party.ValidName("party name", p.Name); err != nil {
			return party.Principal{}, "", err
		}
		if _, err := party.ParseKind(string(p.Kind)); err != nil {
			return party.Principal{}, "", err
		}
	}
	if err := party.ValidSlug("principal name", principal); err != nil {
		return party.Principal{}, "", err
	}
	if lifetime == 0 {
		lifetime = party.DefaultTokenLifetime
	}
	p.CreatedAt = now
	admin := party.Principal{ID: party.NewID("prn"), PartyID: party.Deployment, Name: principal, Kind: party.Person, Admin: true, CreatedAt: now}
	token, hash := party.NewToken()
	exp := now.Add(lifetime)
	tok := party.Token{ID: party.NewID("tok"), PrincipalID: admin.ID, CreatedAt: now, CreatedBy: "bootstrap", ExpiresAt: &exp}
	err := st.Update(ctx, func(tx store.Tx) error {
		live, err := tx.Parties().LiveAdmins(party.Deployment, now)
		if err != nil {
			return err
		}
		if live > 0 {
			return failure.New(failure.Conflict, "the deployment already has a deployment administrator with a valid token: it creates further principals through the API")
		}
		created := false
		if p.ID != "" {
			if _, err := tx.Parties().GetParty(p.ID); failure.Is(err, failure.NotFound) {
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
				created = true
			} else if err != nil {
				return err
			}
		}
		if err := tx.Parties().CreatePrincipal(admin); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "a deployment administrator named %q exists: choose another --principal", principal)
			}
			return err
		}
		if err := tx.Parties().CreateToken(tok, hash[:]); err != nil {
			return err
		}
		detail := map[string]any{"admin": admin.Name, "mode": mode, "token": tok.ID, "expires_at": exp}
		if created {
			detail["party"] = p
		}
		_, err = tx.Audit().Append(audit.Event{At: now, PartyID: party.Deployment, PrincipalID: "bootstrap", Action: "deployment.bootstrap", Subject: "principal:" + admin.ID,
			Detail: audit.Detail(detail)})
		return err
	})
	if err != nil {
		return party.Principal{}, "", err
	}
	return admin, token, nil
}

// BootstrapRequest names the deployment administrator and, optionally, the first party.
type BootstrapRequest struct {
	ConfigFile string
	Party      party.Party
	Principal  string
}

// Bootstrap creates a deployment administrator (and the first party, when named) of the
// deployment a configuration file describes, and returns the administrator's token (shown
// once).
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
	_, token, err := bootstrapAdmin(ctx, st, time.Now().UTC(), r.Party, r.Principal, "config", cfg.Principals.TokenLifetime.Duration)
	return token, err
}
