package reports

import (
	"fmt"
	"sort"
	"time"

	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// HandoverGap is an enabled principal of a party whose only working tokens are hand-over
// tokens (party.Token.Handover: minted by a deployment administrator, or in a request
// authenticated by a hand-over token): the party never completed the hand-over by a rotation
// authenticated otherwise, so the deployment administrator that was shown the first token may
// still hold a working token of a party it does not belong to, until ExpiresAt.
type HandoverGap struct {
	PartyID     string `json:"party_id"`
	PrincipalID string `json:"principal_id"`
	Name        string `json:"name"`
	Admin       bool   `json:"admin"`
	// TokenID, MintedBy, MintedAt and ExpiresAt are of the hand-over token that works longest
	// (MintedBy is the principal itself when it rotated with a hand-over token).
	TokenID   string    `json:"token_id"`
	MintedBy  string    `json:"minted_by"`
	MintedAt  time.Time `json:"minted_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Auditor is set when the party owns an audit cell over the deployment scope: whoever
	// holds the token reads every device.
	Auditor bool   `json:"auditor"`
	Why     string `json:"why"`
}

// handovers lists the principals in hand-over, from the flag each token was minted with
// (migration 0033 set it on older tokens a deployment administrator minted for a party's
// principal, reading the minter's party from the lineage). A row shows to the party, to auditors and to
// deployment administrators (who list every party's token records anyway); a row of a party
// that audits the deployment shows to every caller, since that party reads every party's
// devices. Each row's Why also says how near the party is to the bound on new hand-overs
// (party.HandoverLimit in party.HandoverWindow, counted from the lineage as internal/governance
// counts it when it refuses one).
func (r *GapsReport) handovers(tx store.Tx, w world, mine func(string) bool, deployAdmin bool, now time.Time) error {
	toks, err := tx.Parties().ListTokens(store.TokenFilter{LiveAt: now})
	if err != nil {
		return fmt.Errorf("listing the working tokens: %w", err)
	}
	type state struct {
		p    party.Principal
		own  bool // holds a working token that is not a hand-over token
		best party.Token
	}
	by := map[string]*state{}
	var order []string
	for _, pt := range toks {
		p, t := pt.Principal, pt.Token
		if p.PartyID == party.Deployment || p.DisabledAt != nil || !t.Valid(now) {
			continue
		}
		s, ok := by[p.ID]
		if !ok {
			s = &state{p: p}
			by[p.ID] = s
			order = append(order, p.ID)
		}
		if !t.Handover {
			s.own = true
			continue
		}
		if s.best.ID == "" || t.ExpiresAt.After(*s.best.ExpiresAt) {
			s.best = t
		}
	}
	auditors := map[string]bool{}
	for _, st := range []ownership.Stage{ownership.Manufacturing, ownership.Operational, ownership.Support} {
		if p, ok := w.cells[ownership.Key{Stage: st, Duty: ownership.Audit, Scope: ownership.DeploymentScope}]; ok {
			auditors[p] = true
		}
	}
	made := map[string]int{} // principals a deployment administrator created, by party
	for _, id := range order {
		s := by[id]
		if s.own || s.best.ID == "" {
			continue
		}
		aud := auditors[s.p.PartyID]
		if !mine(s.p.PartyID) && !deployAdmin && !aud {
			continue
		}
		rotate := "hallmark principal token rotate " + s.p.PartyID + "/" + s.p.Name
		how := "; a rotation made with the hand-over token (or any token minted with it) is a hand-over token too, since whoever holds it is shown the new one: rotate it signed in through the party's identity provider (hallmark login), or as another administrator of the party that holds no hand-over token (" + rotate + ")"
		why := "hand-over token not rotated by the party: the deployment administrator that minted it was shown it, and it works until it expires unless the party rotates it" + how
		if aud {
			why = "hand-over token not rotated by the party, and the party audits the deployment (an audit cell over the deployment scope): whoever holds the token, the deployment administrator that minted it included, reads every device; rotate it at once" + how
		}
		if _, ok := made[s.p.PartyID]; !ok {
			at, err := tx.Parties().DeploymentCreations(s.p.PartyID, now.Add(-party.HandoverWindow))
			if err != nil {
				return fmt.Errorf("counting the hand-overs of party %s: %w", s.p.PartyID, err)
			}
			made[s.p.PartyID] = len(at)
		}
		why += fmt.Sprintf("; if it ends unrotated, the deployment administrator may give the party a new first administrator only while no principal of it holds a working hand-over token, and at most %d times in %d days: it created %d principals of the party in the last %d days (docs/governance.md, Roles)",
			party.HandoverLimit, days(party.HandoverWindow), made[s.p.PartyID], days(party.HandoverWindow))
		r.Handover = append(r.Handover, HandoverGap{PartyID: s.p.PartyID, PrincipalID: s.p.ID, Name: s.p.Name, Admin: s.p.Admin, TokenID: s.best.ID,
			MintedBy: s.best.CreatedBy, MintedAt: s.best.CreatedAt, ExpiresAt: *s.best.ExpiresAt, Auditor: aud, Why: why})
	}
	sort.SliceStable(r.Handover, func(i, j int) bool {
		a, b := r.Handover[i], r.Handover[j]
		if a.Auditor != b.Auditor {
			return a.Auditor
		}
		if a.PartyID != b.PartyID {
			return a.PartyID < b.PartyID
		}
		return a.Name < b.Name
	})
	return nil
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }
