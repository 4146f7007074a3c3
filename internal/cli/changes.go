package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

// Governance changes under approval (issue 17; docs/governance.md): a party's change rules
// and approver groups, environment updates, a policy's dry run, waivers, and how any governed
// change that waits for approval is shown.

// emitPending shows a change that waits for approval: the request (-o json), its ID (-o id),
// or a note naming who must approve it. The command succeeded: nothing is wrong, the change
// applies when approved.
func (e *env) emitPending(q api.Approval) int {
	err := e.emit(q, []string{q.ID}, func(w io.Writer) {
		fmt.Fprintf(w, "Pending: the %s of %s waits for approval; nothing changed yet.\n\n", q.Kind, q.Subject)
		pendingApprovalNote(w, q)
	})
	if err != nil {
		return e.report(nil, err)
	}
	return ExitOK
}

// quorumText says what a governance change needs: "2 of security-leads, 1 of ops".
func quorumText(q api.Approval) string {
	parts := make([]string, len(q.Quorum))
	for i, s := range q.Quorum {
		got := 0
		for _, d := range q.Decisions {
			if d.Approve && d.Group == s.Group {
				got++
			}
		}
		name := s.Group
		if name == "*" {
			name = "any other principal of " + q.ApproverParty
		}
		parts[i] = fmt.Sprintf("%d of %d from %s", got, s.Approvals, name)
	}
	return strings.Join(parts, ", ")
}

func (e *env) partyRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rules PARTY",
		Short: "Show a party's rule for every kind of governance change",
		Long: `Show, per kind of governance change (policy-change, ownership-change, sod-change,
approval-rule-change, duty-change, environment-change, waiver), the approvals the party's changes
need: n of m named approver groups ("*" is any other principal of the party), or none (applied at
once). Built-in defaults: one other principal for policy changes and waivers; none for the rest.`,
		Example: `  hallmark party rules contoso`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			rs, err := c.ChangeRules(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ids := make([]string, len(rs))
			for i, r := range rs {
				ids[i] = r.Kind
			}
			return e.emit(rs, ids, func(w io.Writer) {
				row(w, "KIND", "NEEDS", "EXPIRY", "STORED")
				for _, r := range rs {
					row(w, r.Kind, needsText(r.Quorum), r.Expiry, r.Stored)
				}
			})
		},
	}
}

func needsText(q []api.ChangeNeed) string {
	if len(q) == 0 {
		return "none (applied at once)"
	}
	parts := make([]string, len(q))
	for i, n := range q {
		parts[i] = fmt.Sprintf("%d of %s", n.Approvals, n.Group)
	}
	return strings.Join(parts, " and ")
}

func (e *env) partySetRuleCmd() *cobra.Command {
	var needs []string
	var req api.SetChangeRuleRequest
	cmd := &cobra.Command{
		Use:   "set-rule PARTY KIND",
		Short: "Set a party's rule for one kind of governance change (administrators of the party)",
		Long: `Set the approvals the party's changes of KIND need, as --need GROUP=N once per approver group
("*" for any other principal of the party); no --need applies changes at once. The rule is checked
strictly: each group exists, N is at least 1 and at most the group's size, no group twice. The
change is itself governed: under the party's approval-rule-change rule when it has one, else under
the rule it replaces, so it may wait for approval.`,
		Example: `  hallmark party set-rule contoso policy-change --need security-leads=2 --need ops=1 --expiry 72h
  hallmark party set-rule contoso environment-change --need '*=1'`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Quorum = []api.ChangeNeed{}
			for _, n := range needs {
				g, v, ok := strings.Cut(n, "=")
				k, err := strconv.Atoi(v)
				if !ok || g == "" || err != nil {
					return usagef("--need %q: want GROUP=N, such as security-leads=2", n)
				}
				req.Quorum = append(req.Quorum, api.ChangeNeed{Group: g, Approvals: k})
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			r, err := c.SetChangeRule(cmd.Context(), args[0], args[1], req)
			if err != nil {
				return err
			}
			return e.emit(r, []string{r.Kind}, func(w io.Writer) {
				kv(w, "Party", r.PartyID)
				kv(w, "Kind", r.Kind)
				kv(w, "Needs", needsText(r.Quorum))
				kv(w, "Expiry", r.Expiry)
			})
		},
	}
	cmd.Flags().StringArrayVar(&needs, "need", nil, "GROUP=N: N approvals from the approver group (repeat; * is any other principal)")
	cmd.Flags().StringVar(&req.Expiry, "expiry", "", "how long a proposal stays open (Go duration; default 72h)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why, for the approvers and the audit log")
	return cmd
}

func (e *env) partyGroupsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "groups PARTY",
		Short:   "List a party's approver groups",
		Example: `  hallmark party groups contoso`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			gs, err := c.ApproverGroups(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ids := make([]string, len(gs))
			for i, g := range gs {
				ids[i] = g.Name
			}
			return e.emit(gs, ids, func(w io.Writer) {
				row(w, "GROUP", "MEMBERS")
				for _, g := range gs {
					row(w, g.Name, strings.Join(g.Members, ","))
				}
			})
		},
	}
}

func (e *env) partySetGroupCmd() *cobra.Command {
	var req api.SetApproverGroupRequest
	cmd := &cobra.Command{
		Use:   "set-group PARTY NAME",
		Short: "Create or replace an approver group (administrators of the party)",
		Long: `Make NAME the group of the principals given with --member (principal IDs of the party). A group a
rule uses cannot shrink below what the rule asks of it. The change is governed as an
approval-rule-change, so it may wait for approval.`,
		Example: `  hallmark party set-group contoso security-leads --member prn_a --member prn_b --member prn_c`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			g, err := c.SetApproverGroup(cmd.Context(), args[0], args[1], req)
			if err != nil {
				return err
			}
			return e.emit(g, []string{g.Name}, func(w io.Writer) {
				kv(w, "Group", g.Name)
				kv(w, "Members", strings.Join(g.Members, ","))
			})
		},
	}
	cmd.Flags().StringArrayVar(&req.Members, "member", nil, "a principal ID of the party (repeat)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why, for the approvers and the audit log")
	required(cmd, "member")
	return cmd
}

func (e *env) envUpdateCmd() *cobra.Command {
	var u api.EnvironmentUpdate
	var services []string
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change an environment's lifetime, max age, services or issuing CA",
		Long: `Change the settings given; the others keep their value. The lifetime stays within the
deployment's maximum and the max age; the issuing CA must be an operational issuing CA of the
operator. Certificates already issued keep theirs: the next issuance uses the new settings. The
change is audited (environment.update, before and after) and governed under the operator's
environment-change rule, so it may wait for approval.`,
		Example: `  hallmark env update env_123 --lifetime 12h --services telemetry,scada
  hallmark env update env_123 --issuing-ca ca_456 --reason "move to the 2027 CA"`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("services") {
				s := append([]string{}, services...)
				u.Services = &s
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.UpdateEnvironment(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) {
				kv(w, "Environment", v.ID)
				kv(w, "Issuing CA", v.IssuingCAID)
				kv(w, "Lifetime", time.Duration(v.Lifetime).String())
				kv(w, "Max age", time.Duration(v.MaxAge).String())
				kv(w, "Services", strings.Join(v.Services, ","))
			})
		},
	}
	cmd.Flags().StringVar(&u.Lifetime, "lifetime", "", "operational certificate lifetime (Go duration)")
	cmd.Flags().StringVar(&u.MaxAge, "max-age", "", "maximum age before rotation (Go duration)")
	cmd.Flags().StringSliceVar(&services, "services", nil, "the environment's services, comma-separated (empty: none)")
	cmd.Flags().StringVar(&u.IssuingCAID, "issuing-ca", "", "a new operational issuing CA of the operator")
	cmd.Flags().StringVar(&u.Reason, "reason", "", "why, for the approvers and the audit log")
	return cmd
}

func (e *env) envPolicyDryRunCmd() *cobra.Command {
	var file, after string
	var limit int
	var all bool
	cmd := &cobra.Command{
		Use:   "dry-run ID",
		Short: "Show which devices a proposed renewal policy would refuse at their next renewal",
		Long: `Evaluate the renewal policy in --file, without storing it, on the environment's active devices, as
their next renewal would be decided now (the facts each last reported, its current certificate,
its active waivers): list each device it would refuse and the rules that would. One page of
--limit devices (default 500, at most 1000) after --after; --all walks every page.`,
		Example: `  hallmark env policy dry-run env_123 --file strict-renewal.json
  hallmark env policy dry-run env_123 --file strict-renewal.json --all -o json`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := readPolicy("file", file)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			out := api.DryRunResult{EnvironmentID: args[0], Kind: api.PolicyRenewal, Refused: []api.DryRunRefusal{}}
			for {
				page, err := c.DryRunPolicy(cmd.Context(), args[0], api.PolicyRenewal, api.DryRunRequest{Policy: spec, After: after, Limit: limit})
				if err != nil {
					return err
				}
				out.Evaluated += page.Evaluated
				out.Refused = append(out.Refused, page.Refused...)
				out.Next = page.Next
				if !all || page.Next == "" {
					break
				}
				after = page.Next
			}
			ids := make([]string, len(out.Refused))
			for i, r := range out.Refused {
				ids[i] = r.DeviceID
			}
			return e.emit(out, ids, func(w io.Writer) {
				fmt.Fprintf(w, "%d active devices evaluated, %d would be refused at their next renewal.\n\n", out.Evaluated, len(out.Refused))
				row(w, "DEVICE", "CERTIFICATE", "REFUSED BY", "WAIVED")
				for _, r := range out.Refused {
					rules := make([]string, len(r.Failed))
					for i, f := range r.Failed {
						rules[i] = f.Rule
					}
					row(w, r.DeviceID, r.Serial, strings.Join(rules, ","), orDash(strings.Join(r.Waived, ",")))
				}
				if out.Next != "" {
					fmt.Fprintf(w, "\nMore devices: --after %s (or --all).\n", out.Next)
				}
			})
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "the proposed renewal policy (JSON file)")
	cmd.Flags().StringVar(&after, "after", "", "start after this device ID (the previous page's next)")
	cmd.Flags().IntVar(&limit, "limit", 0, "devices per page (default 500, at most 1000)")
	cmd.Flags().BoolVar(&all, "all", false, "walk every page")
	required(cmd, "file")
	return cmd
}

func (e *env) waiverCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "waiver",
		Short: "Ask for and list waivers: time-bound exceptions to one renewal policy rule for one device",
		Long: `A waiver lets one device renew although one rule of its environment's renewal policy denies it,
until it expires by itself. It is requested by the operator (operational/issue over the
environment) and approved under the operator's waiver rule, by default by one other principal of
the same party. Renewal audits each use (waiver.honour). See docs/governance.md.`,
		Example: `  hallmark waiver request --device dev_123 --rule firmware-allowed --for 72h --reason "field update scheduled"
  hallmark waiver list --active`,
	}
	cmd.AddCommand(e.waiverRequestCmd(), e.waiverListCmd())
	return cmd
}

func (e *env) waiverRequestCmd() *cobra.Command {
	var req api.WaiverRequest
	cmd := &cobra.Command{
		Use:     "request",
		Short:   "Ask for a waiver (it waits for approval under the operator's rule)",
		Example: `  hallmark waiver request --device dev_123 --rule firmware-allowed --for 72h --reason "field update scheduled"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			w, err := c.RequestWaiver(cmd.Context(), req)
			if err != nil {
				return err
			}
			return e.emit(w, []string{w.ID}, func(tw io.Writer) { waiverTable(tw, []api.Waiver{w}) })
		},
	}
	cmd.Flags().StringVar(&req.DeviceID, "device", "", "the device")
	cmd.Flags().StringVar(&req.Rule, "rule", "", "the name of a rule of its environment's renewal policy")
	cmd.Flags().StringVar(&req.For, "for", "", "how long, from approval (Go duration, at most 2160h)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why")
	required(cmd, "device", "rule", "for", "reason")
	return cmd
}

func (e *env) waiverListCmd() *cobra.Command {
	var device string
	var active bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "The waivers report: waivers of your party's environments (auditors: all)",
		Example: `  hallmark waiver list --active
  hallmark waiver list --device dev_123 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ws, err := c.Waivers(cmd.Context(), device, active)
			if err != nil {
				return err
			}
			ids := make([]string, len(ws))
			for i, w := range ws {
				ids[i] = w.ID
			}
			return e.emit(ws, ids, func(w io.Writer) {
				if len(ws) == 0 {
					fmt.Fprintln(w, "No waivers.")
					return
				}
				waiverTable(w, ws)
			})
		},
	}
	cmd.Flags().StringVar(&device, "device", "", "one device's waivers")
	cmd.Flags().BoolVar(&active, "active", false, "only waivers that still hold")
	return cmd
}

func waiverTable(w io.Writer, ws []api.Waiver) {
	row(w, "ID", "DEVICE", "RULE", "UNTIL", "ACTIVE", "APPROVAL", "REASON")
	for _, v := range ws {
		row(w, v.ID, v.DeviceID, v.Rule, ts(v.NotAfter), v.Active, v.ApprovalID, v.Reason)
	}
}

// pendingOf reports whether err is a governed change waiting for approval.
func pendingOf(err error) (*client.Pending, bool) {
	p, ok := err.(*client.Pending)
	return p, ok
}
