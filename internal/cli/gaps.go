package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
)

func (e *env) reportGaps() *cobra.Command {
	var asCSV, signed bool
	var idle string
	cmd := &cobra.Command{
		Use:   "gaps",
		Short: "Governance gaps: duties nobody owns, ownerless devices, unbounded grants, idle principals, hand-overs",
		Long: `List every governance gap this caller may see (auditors: the deployment; others: their own
scopes and principals), one per line:

  unowned        a duty over a scope that resolves to no party in the ownership matrix
  devices        devices whose current stage has no renewal or revocation owner, by scope
  lifetime       an environment whose certificate lifetime exceeds its maximum age or the
                 deployment's maximum
  grant          an active support grant whose window is longer than its environment allows
  idle           a principal not used within --idle (or never)
  self-approval  a duty whose approvals are decided by the party that acts (only the person
                 differs); set the approval rule's other_party to close it
  ca-expiry      a CA in service (not succeeded or retired) that ends within 90 days or has
                 ended: rotate it, or roll the root over ("hallmark report ca-expiry")
  maker-source   a CRL or OCSP source of a registered maker whose last fetch failed, or whose
                 last good CRL is past its nextUpdate, with since when ("hallmark maker check")
  change-rule    a party's rule for a kind of governance change that no change can meet:
                 whoever proposes, too few other principals independent of the proposer may
                 approve (an operator with one principal cannot change its policies); add a
                 principal, or relax the rule ("hallmark party rules")
  handover       a principal of a party whose only working tokens are hand-over tokens (a
                 deployment administrator minted them, its first administrator's or under
                 break-glass, or they were minted with a hand-over token): the hand-over was
                 never completed; the party rotates the token signed in ("hallmark login") or
                 as another administrator holding none ("hallmark principal token rotate"). A
                 token minted with a hand-over token ends no later than it, and the party gets
                 a new first administrator at most 3 times in 30 days, which the row counts. A
                 party that audits the deployment is listed first, and to everyone
  trust-domain   an environment whose SPIFFE trust domain another operator holds: both named
                 it before trust domains were claimed, and the first to name it holds it; its
                 SPIFFE IDs are in the holder's domain. Shown to the environment's operator
                 (without the holder) and to the holder (without the environment); create an
                 environment in a trust domain of your own and onboard the devices there

Exit status is 0 whatever the report holds; use -o json and count in a script.`,
		Example: `  hallmark report gaps
  hallmark report gaps --idle 30d --csv > gaps.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if signed {
				return e.printSigned(cmd.Context(), c, "gaps", "idle", idle)
			}
			r, err := c.ReportGaps(cmd.Context(), idle)
			if err != nil {
				return err
			}
			rows := gapRows(r)
			if !asCSV && e.output == "table" {
				defer fmt.Fprintf(e.stdout, "%d gaps (principals idle after %s)\n", r.Total, r.IdleAfter)
			}
			return e.emitRows(r, asCSV, []string{"GAP", "SCOPE", "DETAIL", "PARTY"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	signedFlag(cmd, &signed)
	cmd.Flags().StringVar(&idle, "idle", "", "list principals unused for longer than this: 90d (default) or a Go duration")
	return cmd
}

// gapRows flattens the report into one row per gap, in the report's order.
func gapRows(r api.GapsReport) [][]string {
	rows := [][]string{}
	for _, u := range r.Unowned {
		rows = append(rows, []string{"unowned", u.Scope, string(u.Stage) + "/" + string(u.Duty) + " has no owner", "-"})
	}
	for _, d := range r.Devices {
		rows = append(rows, []string{"devices", d.Scope, strconv.Itoa(d.Devices) + " devices without a " + string(d.Stage) + "/" + string(d.Duty) + " owner", "-"})
	}
	for _, l := range r.Lifetimes {
		rows = append(rows, []string{"lifetime", "environment:" + l.EnvironmentID, l.Name + ": lifetime " + l.Lifetime + " over " + l.Limit + " (" + l.Why + ")", l.OperatorID})
	}
	for _, g := range r.Grants {
		rows = append(rows, []string{"grant", "environment:" + g.EnvironmentID, g.GrantID + ": window " + g.Window + " over " + g.Limit, g.Requester})
	}
	for _, p := range r.Idle {
		last := "never used"
		if p.LastUsedAt != nil {
			last = "last used " + p.LastUsedAt.UTC().Format(time.RFC3339)
		}
		rows = append(rows, []string{"idle", "principal:" + p.PrincipalID, p.Name + ": " + last, p.PartyID})
	}
	for _, s := range r.SelfApproval {
		rows = append(rows, []string{"self-approval", s.Scope, s.Duty + " approved inside the same party (" + string(s.Kind) + ")", s.PartyID})
	}
	for _, c := range r.CAExpiry {
		rows = append(rows, []string{"ca-expiry", "ca:" + c.CAID, c.Name + " (" + string(c.Role) + ") ends " + c.NotAfter.UTC().Format(time.RFC3339) + ": " + c.Why, c.PartyID})
	}
	for _, m := range r.MakerSources {
		rows = append(rows, []string{"maker-source", "maker:" + m.MakerID, m.MakerName + ": " + m.Kind + " " + m.URL + " " + m.Outcome + " since " +
			m.Since.UTC().Format(time.RFC3339) + ": " + m.Why, m.OperatorID})
	}
	for _, c := range r.ChangeRules {
		rows = append(rows, []string{"change-rule", "party:" + c.PartyID, c.Kind + " needs " + c.Quorum + ": " + c.Why, c.PartyID})
	}
	for _, h := range r.Handover {
		rows = append(rows, []string{"handover", "principal:" + h.PrincipalID, h.Name + ": minted " + h.MintedAt.UTC().Format(time.RFC3339) + " by " + h.MintedBy +
			", works until " + h.ExpiresAt.UTC().Format(time.RFC3339) + ": " + h.Why, h.PartyID})
	}
	for _, d := range r.TrustDomains {
		scope, party := "trust-domain:"+d.TrustDomain, d.HolderID
		if d.EnvironmentID != "" {
			scope, party = "environment:"+d.EnvironmentID, d.OperatorID
		}
		rows = append(rows, []string{"trust-domain", scope, d.Why, party})
	}
	return rows
}
