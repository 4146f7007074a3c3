package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
)

// parsePairFlag reads a stage/duty flag value; a malformed one is a usage error.
func parsePairFlag(flag, v string) (ownership.Pair, error) {
	p, err := ownership.ParsePair(v)
	if err != nil {
		return p, usagef("--%s: %v", flag, err)
	}
	return p, nil
}

func (e *env) sodCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sod",
		Short: "List, add and delete separation-of-duties rules",
		Long: `A separation-of-duties rule names two duties (stage/duty pairs, e.g. operational/issue and
operational/approve) that no one principal may hold over one scope. A principal holds a duty over
a scope when its party owns that duty there (the ownership matrix) and the principal is not
limited to other duties ("hallmark principal set-duties"). Rules are checked on every authorised
action and on every change of the matrix or of a principal's duties; a rule some principal would
already break is refused. Changing rules is for administrators. See docs/governance.md.`,
		Example: `  hallmark sod list
  hallmark sod add issue-vs-approve --a operational/issue --b operational/approve
  hallmark sod delete issue-vs-approve`,
	}
	cmd.AddCommand(e.sodListCmd(), e.sodAddCmd(), e.sodDeleteCmd())
	return cmd
}

func (e *env) sodListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the separation-of-duties rules",
		Long:    "List every separation-of-duties rule. -o id prints the rule IDs.",
		Example: `  hallmark sod list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			rs, err := c.SoDRules(cmd.Context())
			if err != nil {
				return err
			}
			ids := make([]string, len(rs))
			for i, r := range rs {
				ids[i] = r.ID
			}
			return e.emit(rs, ids, func(w io.Writer) { sodTable(w, rs) })
		},
	}
}

func (e *env) sodAddCmd() *cobra.Command {
	var a, b string
	cmd := &cobra.Command{
		Use:   "add ID",
		Short: "Add a separation-of-duties rule (administrators only)",
		Long: `Add a rule, named ID (a slug), that keeps the duties --a and --b (each stage/duty: stage is
manufacturing, operational or support; duty is issue, renew, revoke, audit or approve) apart:
no principal may hold both over one scope. The server refuses the rule when a principal already
holds both; limit that principal's duties first ("hallmark principal set-duties").`,
		Example: `  hallmark sod add issue-vs-approve --a operational/issue --b operational/approve`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pa, err := parsePairFlag("a", a)
			if err != nil {
				return err
			}
			pb, err := parsePairFlag("b", b)
			if err != nil {
				return err
			}
			if pa == pb {
				return usagef("--a and --b are both %s: a rule keeps two different duties apart", pa)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			r, err := c.AddSoDRule(cmd.Context(), api.SoDRuleRequest{ID: args[0], A: pa.String(), B: pb.String()})
			if err != nil {
				return err
			}
			return e.emit(r, []string{r.ID}, func(w io.Writer) { sodTable(w, []api.SoDRule{r}) })
		},
	}
	cmd.Flags().StringVar(&a, "a", "", "one duty, as stage/duty (e.g. operational/issue)")
	cmd.Flags().StringVar(&b, "b", "", "the duty kept apart from it, as stage/duty (e.g. operational/approve)")
	required(cmd, "a", "b")
	return cmd
}

func (e *env) sodDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a separation-of-duties rule (administrators only)",
		Long:    "Delete a rule. Nothing else changes; the deletion is recorded in the audit log.",
		Example: `  hallmark sod delete issue-vs-approve`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if err := c.DeleteSoDRule(cmd.Context(), args[0]); err != nil {
				return err
			}
			out := map[string]any{"id": args[0], "deleted": true}
			return e.emit(out, []string{args[0]}, func(w io.Writer) { fmt.Fprintf(w, "deleted rule %s\n", args[0]) })
		},
	}
}

func sodTable(w io.Writer, rs []api.SoDRule) {
	row(w, "ID", "DUTY A", "DUTY B", "CREATED", "BY")
	for _, r := range rs {
		row(w, r.ID, pairText(r.A), pairText(r.B), ts(r.At), r.By)
	}
}

// principalDutyCommands are the principal subcommands that show and limit a principal's duties.
func (e *env) principalDutyCommands() []*cobra.Command {
	return []*cobra.Command{e.principalDutiesCmd(), e.principalSetDutiesCmd()}
}

func (e *env) principalDutiesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "duties ID",
		Short: "Show the duties a principal is limited to",
		Long: `Show the duties (stage/duty) a principal is limited to. A principal with no limit may do every
duty its party owns. -o id prints the duties, one a line.`,
		Example: `  hallmark principal duties prn_123`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ps, err := c.PrincipalDuties(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emitDuties(args[0], ps)
		},
	}
}

func (e *env) principalSetDutiesCmd() *cobra.Command {
	var duties []string
	var clear bool
	cmd := &cobra.Command{
		Use:   "set-duties ID",
		Short: "Limit a principal to some of its party's duties (administrators only)",
		Long: `Limit a principal to the duties given with --duty (repeatable, stage/duty, e.g.
operational/issue, or custody/transfer for offering and accepting custody transfers); --clear
lifts the limit, so the principal may do every duty its party owns and transfer custody. The list
replaces the previous one. Only an administrator may, never over its own duties; an
administrator's duties are changed only by another administrator of its party. The server refuses
a change that would break a separation-of-duties rule, and audits every change.`,
		Example: `  hallmark principal set-duties prn_123 --duty operational/issue --duty operational/renew
  hallmark principal set-duties prn_123 --clear`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			list := []string{}
			for _, d := range duties {
				p, err := governance.ParseDutyLimit(d)
				if err != nil {
					return usagef("--duty: %v", err)
				}
				list = append(list, p.String())
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ps, err := c.SetPrincipalDuties(cmd.Context(), args[0], list)
			if err != nil {
				return err
			}
			return e.emitDuties(args[0], ps)
		},
	}
	cmd.Flags().StringArrayVar(&duties, "duty", nil, "a duty the principal keeps, as stage/duty or custody/transfer (repeatable)")
	cmd.Flags().BoolVar(&clear, "clear", false, "lift the limit: the principal may do every duty its party owns")
	cmd.MarkFlagsOneRequired("duty", "clear")
	cmd.MarkFlagsMutuallyExclusive("duty", "clear")
	return cmd
}

func (e *env) emitDuties(principalID string, ps []api.Pair) error {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = pairText(p)
	}
	return e.emit(ps, ids, func(w io.Writer) {
		if len(ps) == 0 {
			fmt.Fprintf(w, "%s is not limited: it may do every duty its party owns\n", principalID)
			return
		}
		row(w, "STAGE", "DUTY")
		for _, p := range ps {
			row(w, p.Stage, p.Duty)
		}
	})
}
