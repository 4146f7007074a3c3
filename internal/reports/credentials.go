package reports

import (
	"fmt"
	"sort"
	"time"

	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Hallmark's own credentials are non-human identities too: the bearer tokens of principals
// (people, factory stations, automation) and the certificates of the CAs Hallmark holds keys
// for. The rotation report lists them beside the devices' operational identities, and the
// standards report counts them in NHI1, NHI7 and PR.AA-01.

// TokenIdleAfter is how long a valid token may go unused before the reports call it idle (a
// credential nobody offboarded).
const TokenIdleAfter = 30 * 24 * time.Hour

// CAExpiringWithin is how close to its end a CA certificate that still issues is reported.
const CAExpiringWithin = 90 * 24 * time.Hour

// MaxCredentialOffenders bounds the offending tokens a report lists; the counts cover all.
const MaxCredentialOffenders = 1000

// Token issues.
const (
	IssueLongLived = "long-lived" // valid, and its lifetime exceeds the deployment maximum (or it has no expiry)
	IssueIdle      = "idle"       // valid, and unused for TokenIdleAfter
	IssueLapsed    = "lapsed"     // an enabled principal whose tokens have all expired: nobody rotated or offboarded it
)

// TokenOffender is a principal token with an issue.
type TokenOffender struct {
	TokenID     string     `json:"token_id"`
	PrincipalID string     `json:"principal_id"`
	PartyID     string     `json:"party_id"`
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	Issue       string     `json:"issue"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	Lifetime    Duration   `json:"lifetime"` // creation to expiry; 0 without an expiry
}

// CACredential is one CA certificate and how long it has left.
type CACredential struct {
	CAID      string    `json:"ca_id"`
	PartyID   string    `json:"party_id"`
	Name      string    `json:"name"`
	Stage     string    `json:"stage"`
	Role      string    `json:"role"`
	NotAfter  time.Time `json:"not_after"`
	Remaining Duration  `json:"remaining"` // negative: expired
	Retired   bool      `json:"retired"`
	// Issue is "expired" or "expiring" (within CAExpiringWithin) for a CA that still issues
	// (not retired, not an anchor); "" otherwise.
	Issue string `json:"issue,omitempty"`
}

// Credentials is the part of the rotation report on Hallmark's own credentials.
type Credentials struct {
	MaxLifetime Duration `json:"max_lifetime"` // the deployment's longest token lifetime
	IdleAfter   Duration `json:"idle_after"`
	Tokens      int      `json:"tokens"`    // tokens valid now
	Compliant   int      `json:"compliant"` // of them, neither long-lived nor idle
	// Offenders lists at most MaxCredentialOffenders token issues, long-lived first, then
	// idle, then lapsed, oldest first within each; OffenderCount counts them all.
	Offenders     []TokenOffender `json:"offenders"`
	OffenderCount int             `json:"offender_count"`
	CAs           []CACredential  `json:"cas"`
	CAIssues      int             `json:"ca_issues"`
}

func (c Credentials) count(issue string) int {
	n := 0
	for _, o := range c.Offenders {
		if o.Issue == issue {
			n++
		}
	}
	return n
}

// names lists the offenders of the given issues for standards evidence.
func (c Credentials) names(issues ...string) []string {
	var out []string
	for _, o := range c.Offenders {
		for _, i := range issues {
			if o.Issue == i {
				out = append(out, o.String())
			}
		}
	}
	return out
}

func (o TokenOffender) String() string {
	who := o.PartyID + "/" + o.Name
	switch o.Issue {
	case IssueLongLived:
		if o.ExpiresAt == nil {
			return fmt.Sprintf("token %s of %s: no expiry", o.TokenID, who)
		}
		return fmt.Sprintf("token %s of %s: valid for %s from creation", o.TokenID, who, time.Duration(o.Lifetime))
	case IssueIdle:
		if o.LastUsedAt == nil {
			return fmt.Sprintf("token %s of %s: never used since %s", o.TokenID, who, o.CreatedAt.Format(time.DateOnly))
		}
		return fmt.Sprintf("token %s of %s: unused since %s", o.TokenID, who, o.LastUsedAt.Format(time.DateOnly))
	}
	exp := ""
	if o.ExpiresAt != nil {
		exp = " at " + o.ExpiresAt.Format(time.DateOnly)
	}
	return fmt.Sprintf("principal %s (%s): its last token expired%s and was never rotated", o.PrincipalID, who, exp)
}

// credentials computes the credentials part over the tokens of partyID ("": all) and the CAs
// of caParty ("": all).
func credentials(tx store.Tx, partyID, caParty string, maxLifetime time.Duration, now time.Time) (Credentials, error) {
	out := Credentials{MaxLifetime: Duration(maxLifetime), IdleAfter: Duration(TokenIdleAfter), Offenders: []TokenOffender{}, CAs: []CACredential{}}
	rows, err := tx.Parties().ListTokens(store.TokenFilter{PartyID: partyID})
	if err != nil {
		return out, fmt.Errorf("reading the principals' tokens: %w", err)
	}
	type state struct {
		valid  bool
		newest *store.PrincipalToken
	}
	byPrincipal := map[string]*state{}
	var long, idle, lapsed []TokenOffender
	for i := range rows {
		r := &rows[i]
		st := byPrincipal[r.Principal.ID]
		if st == nil {
			st = &state{}
			byPrincipal[r.Principal.ID] = st
		}
		if st.newest == nil || r.Token.CreatedAt.After(st.newest.Token.CreatedAt) {
			st.newest = r
		}
		if !r.Token.Valid(now) {
			continue
		}
		st.valid = true
		if r.Principal.DisabledAt != nil {
			continue // a disabled principal's tokens do not work
		}
		out.Tokens++
		o := offender(*r)
		bad := false
		if r.Token.ExpiresAt == nil || time.Duration(o.Lifetime) > maxLifetime {
			o.Issue, bad = IssueLongLived, true
			long = append(long, o)
		}
		used := r.Token.CreatedAt
		if r.Token.LastUsedAt != nil {
			used = *r.Token.LastUsedAt
		}
		if now.Sub(used) > TokenIdleAfter {
			o.Issue, bad = IssueIdle, true
			idle = append(idle, o)
		}
		if !bad {
			out.Compliant++
		}
	}
	for _, st := range byPrincipal {
		n := st.newest
		if st.valid || n.Principal.DisabledAt != nil || n.Token.RevokedAt != nil || n.Token.State(now) != party.TokenExpired {
			continue
		}
		o := offender(*n)
		o.Issue = IssueLapsed
		lapsed = append(lapsed, o)
	}
	oldest := func(l []TokenOffender) {
		sort.Slice(l, func(i, j int) bool {
			if !l[i].CreatedAt.Equal(l[j].CreatedAt) {
				return l[i].CreatedAt.Before(l[j].CreatedAt)
			}
			return l[i].TokenID < l[j].TokenID
		})
	}
	for _, l := range [][]TokenOffender{long, idle, lapsed} {
		oldest(l)
		out.OffenderCount += len(l)
		for _, o := range l {
			if len(out.Offenders) < MaxCredentialOffenders {
				out.Offenders = append(out.Offenders, o)
			}
		}
	}
	cas, err := tx.CAs().ListCAs(caParty)
	if err != nil {
		return out, fmt.Errorf("reading the CAs: %w", err)
	}
	for _, c := range cas {
		if c.Cert == nil {
			continue
		}
		v := CACredential{CAID: c.ID, PartyID: c.PartyID, Name: c.Name, Stage: c.Stage, Role: string(c.Role), NotAfter: c.Cert.NotAfter,
			Remaining: Duration(c.Cert.NotAfter.Sub(now).Truncate(time.Second)), Retired: c.RetiredAt != nil}
		if !v.Retired && v.Role != "anchor" {
			switch left := c.Cert.NotAfter.Sub(now); {
			case left <= 0:
				v.Issue = "expired"
			case left <= CAExpiringWithin:
				v.Issue = "expiring"
			}
		}
		if v.Issue != "" {
			out.CAIssues++
		}
		out.CAs = append(out.CAs, v)
	}
	sort.Slice(out.CAs, func(i, j int) bool { return out.CAs[i].NotAfter.Before(out.CAs[j].NotAfter) })
	return out, nil
}

func offender(r store.PrincipalToken) TokenOffender {
	o := TokenOffender{TokenID: r.Token.ID, PrincipalID: r.Principal.ID, PartyID: r.Principal.PartyID, Name: r.Principal.Name, Kind: string(r.Principal.Kind),
		CreatedAt: r.Token.CreatedAt, ExpiresAt: r.Token.ExpiresAt, LastUsedAt: r.Token.LastUsedAt}
	if r.Token.ExpiresAt != nil {
		o.Lifetime = Duration(r.Token.ExpiresAt.Sub(r.Token.CreatedAt))
	}
	return o
}
