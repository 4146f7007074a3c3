package app

import (
	"context"
	"sort"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// devCredential is a demo service principal whose tokens have a history, so that the
// credential reports of a fresh dev server (report standards, report rotation) show what a
// deployment that has run for a while shows: idle, long-lived, rotated, expired and revoked
// tokens beside the fresh ones of the demo principals.
type devCredential struct {
	party, name string
	why         string
	duties      []string // a service is limited to what it does
	tokens      []devToken
}

// devToken is one token, its times relative to the seed.
type devToken struct {
	age, expiresIn, lastUsedAgo time.Duration // lastUsedAgo 0: never used
	revokedAgo                  time.Duration // 0: not revoked
	superseded                  bool          // superseded by the token after it
}

const day = 24 * time.Hour

var devCredentials = []devCredential{
	{"fabrikam", "station-0", "a retired station nobody offboarded: unused for 60 days, its token expires in 5", []string{"manufacturing/issue"},
		[]devToken{{age: 85 * day, expiresIn: 5 * day, lastUsedAgo: 60 * day}}},
	{"acme", "ci-legacy", "a CI job's token from before tokens expired: 420 days from creation to expiry", []string{"manufacturing/issue"},
		[]devToken{{age: 400 * day, expiresIn: 20 * day, lastUsedAgo: 2 * time.Hour}}},
	{"contoso", "gateway", "rotated an hour ago with a day's overlap: the old token still works", []string{"operational/renew"},
		[]devToken{{age: 80 * day, expiresIn: 23 * time.Hour, lastUsedAgo: 90 * time.Minute, superseded: true}, {age: time.Hour, expiresIn: 90*day - time.Hour, lastUsedAgo: 5 * time.Minute}}},
	{"northwind", "scanner", "its only token expired three days ago and was never rotated", []string{"custody/transfer"},
		[]devToken{{age: 93 * day, expiresIn: -3 * day, lastUsedAgo: 4 * day}}},
	{"globex", "ticket-bot", "a leaked token revoked ten days ago, and its replacement", []string{"support/issue"},
		[]devToken{{age: 40 * day, expiresIn: 50 * day, lastUsedAgo: 10 * day, revokedAgo: 10 * day}, {age: 10 * day, expiresIn: 80 * day, lastUsedAgo: time.Hour}}},
}

// devCredentialMix stores the principals of devCredentials with their token histories, in
// one audited transaction (dev.seed.credentials), and marks their last use. Their secrets are
// thrown away: nobody acts as them.
func (a *App) devCredentialMix(ctx context.Context) error {
	now := a.Now()
	type use struct {
		principal, token string
		at               time.Time
	}
	var uses []use
	err := a.Store.Update(ctx, func(tx store.Tx) error {
		uses = uses[:0] // Update may run this function again: an earlier run's tokens were rolled back
		var names []string
		for _, c := range devCredentials {
			var creator string
			admins, err := tx.Parties().ListPrincipals(c.party)
			if err != nil {
				return err
			}
			for _, p := range admins {
				if p.Admin {
					creator = p.ID
				}
			}
			first := now.Add(-c.tokens[0].age)
			p := party.Principal{ID: party.NewID("prn"), PartyID: c.party, Name: c.name, Kind: party.Service, CreatedAt: first, CreatedBy: creator}
			if err := tx.Parties().CreatePrincipal(p); err != nil {
				return err
			}
			var limits []ownership.Pair
			for _, d := range c.duties {
				pair, err := governance.ParseDutyLimit(d)
				if err != nil {
					return err
				}
				limits = append(limits, pair)
			}
			if err := tx.Duties().SetPrincipalDuties(p.ID, limits); err != nil {
				return err
			}
			ids := make([]string, len(c.tokens))
			for i := range c.tokens {
				ids[i] = party.NewID("tok")
			}
			for i, t := range c.tokens {
				exp := now.Add(t.expiresIn)
				tok := party.Token{ID: ids[i], PrincipalID: p.ID, CreatedAt: now.Add(-t.age), CreatedBy: creator, ExpiresAt: &exp}
				if t.superseded && i+1 < len(ids) {
					tok.SupersededBy = ids[i+1]
				}
				_, hash := party.NewToken()
				if err := tx.Parties().CreateToken(tok, hash[:]); err != nil {
					return err
				}
				if t.revokedAgo > 0 {
					if err := tx.Parties().RevokeToken(tok.ID, now.Add(-t.revokedAgo)); err != nil {
						return err
					}
				}
				if t.lastUsedAgo > 0 {
					uses = append(uses, use{p.ID, tok.ID, now.Add(-t.lastUsedAgo)})
				}
			}
			names = append(names, c.party+"/"+c.name+": "+c.why)
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: party.Deployment, PrincipalID: "hallmark:dev", Action: "dev.seed.credentials",
			Detail: audit.Detail(map[string]any{"principals": names})})
		return err
	})
	if err != nil {
		return err
	}
	// Oldest first, so that each principal's last use is its newest token's.
	sort.Slice(uses, func(i, j int) bool { return uses[i].at.Before(uses[j].at) })
	for _, u := range uses {
		if err := a.Store.TouchToken(ctx, u.principal, u.token, u.at); err != nil {
			return err
		}
	}
	return nil
}
