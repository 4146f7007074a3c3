package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/revocation"
)

func (e *env) revocationCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revocation",
		Short: "Revoke factory identities after a manufacturing compromise",
		Long: `The manufacturing revocation path: a manufacturer revokes factory identities selected by device,
lot, line, issuing CA or issue time. Every operational identity issued on an affected factory
identity is suspended (certificateHold) in the same transaction; an operator re-admits its
devices after checking them. A revocation is never undone.`,
		Example: `  hallmark revocation create --manufacturer acme --lot lot_123 --reason keyCompromise
  hallmark revocation create --manufacturer acme --lot lot_123 --reason keyCompromise --execute
  hallmark revocation show rvk_123`,
	}
	cmd.AddCommand(e.revocationCreateCmd(), e.revocationShowCmd())
	return cmd
}

func (e *env) revocationCreateCmd() *cobra.Command {
	var o factoryRevokeFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Revoke factory identities (a dry run unless --execute)",
		Long: `Select factory identities of --manufacturer with at least one of --device, --lot, --line,
--issuing-ca, --issued-from and --issued-to (RFC 3339 times; the selectors combine), and revoke
them for --reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded or
cessationOfOperation.

Without --execute this is a dry run: it lists the factory identities that would be revoked and
the operational identities that would be suspended, and changes nothing; --limit N lists only the
first N factory identities and the first N suspensions of each environment, with whole counts
(cheaper for a large lot). With --execute it
revokes them, suspends the operational identities issued on them, and prints the revocation
run's ID (-o id prints it alone); "hallmark revocation show" lists what the run did.

Revoking every factory identity of an issuing CA (--issuing-ca and no narrower selector) with
--execute needs an approval (kind revoke-ca; by default two principals of the manufacturer other
than you): the command then revokes nothing yet, prints the pending approval's ID (-o id prints
it alone), and the revocation runs as soon as the last approver runs "hallmark approval approve".
--why is the justification the approvers see.`,
		Example: `  hallmark revocation create --manufacturer acme --lot lot_123 --reason keyCompromise
  RUN=$(hallmark revocation create --manufacturer acme --lot lot_123 --reason keyCompromise --execute -o id)
  hallmark revocation create --manufacturer acme --line line-a \
      --issued-from 2026-03-01T00:00:00Z --issued-to 2026-03-08T00:00:00Z --reason keyCompromise
  APPROVAL=$(hallmark revocation create --manufacturer acme --issuing-ca ca_123 --reason cACompromise \
      --why "HSM audit found the key exported" --execute -o id)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.revokeFactory(cmd.Context(), o)
		},
	}
	o.add(cmd)
	return cmd
}

// factoryRevokeFlags are the flags of "revocation create".
type factoryRevokeFlags struct {
	sel                   api.FactorySelector
	from, to, reason, why string
	execute               bool
	limit                 int
}

func (o *factoryRevokeFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.sel.ManufacturerID, "manufacturer", "", "manufacturer party ID")
	f.StringVar(&o.sel.DeviceID, "device", "", "only this device's factory identity")
	f.StringVar(&o.sel.LotID, "lot", "", "only factory identities of this lot")
	f.StringVar(&o.sel.Line, "line", "", "only factory identities made on this production line")
	f.StringVar(&o.sel.IssuingCAID, "issuing-ca", "", "only factory identities signed by this issuing CA")
	f.StringVar(&o.from, "issued-from", "", "only factory identities issued at or after this time (RFC 3339)")
	f.StringVar(&o.to, "issued-to", "", "only factory identities issued before this time (RFC 3339)")
	f.StringVar(&o.reason, "reason", "", "RFC 5280 revocation reason, e.g. keyCompromise")
	f.BoolVar(&o.execute, "execute", false, "revoke for real (default: a dry run that changes nothing)")
	f.StringVar(&o.why, "why", "", "justification shown to the approvers of a whole-CA revocation")
	f.IntVar(&o.limit, "limit", 0, "in a dry run, list only the first N factory identities and N suspensions per environment, with whole counts (0: every one; at most 10000)")
	required(cmd, "manufacturer", "reason")
	cmd.MarkFlagsOneRequired("device", "lot", "line", "issuing-ca", "issued-from", "issued-to")
}

// revokeFactory runs "revocation create" (a dry run unless --execute) and prints what it
// revoked, would revoke, or waits for.
func (e *env) revokeFactory(ctx context.Context, o factoryRevokeFlags) error {
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"issued-from", o.from, &o.sel.IssuedFrom}, {"issued-to", o.to, &o.sel.IssuedTo}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			return usagef("--%s must be an RFC 3339 time such as 2026-03-01T00:00:00Z, not %q", t.flag, t.v)
		}
		*t.dst = v
	}
	dry := !o.execute
	if o.limit != 0 && o.execute {
		return usagef("--limit applies to a dry run only: drop it or --execute")
	}
	if o.limit < 0 || o.limit > 10000 {
		return usagef("--limit must be between 1 and 10000, not %d", o.limit)
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	res, err := c.RevokeFactory(ctx, api.FactoryRevokeRequest{Selector: o.sel, Reason: o.reason, DryRun: &dry, Why: o.why, Limit: o.limit})
	if err != nil {
		return err
	}
	var ids []string
	switch {
	case res.RunID != "":
		ids = []string{res.RunID}
	case res.Approval != nil:
		ids = []string{res.Approval.ID}
	}
	err = e.emit(res, ids, func(w io.Writer) { revokeResultTable(w, res) })
	if err == nil && res.DryRun && e.output != "table" {
		fmt.Fprintln(e.stderr, dryRunNote)
	}
	return err
}

func (e *env) revocationShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show RUN",
		Short: "Show a revocation run and what it revoked and suspended",
		Long: `Show a manufacturing revocation run: its selector, reason and who requested it, and its cascade
items, each factory certificate it revoked and each operational certificate it suspended.`,
		Example: `  hallmark revocation show rvk_123
  hallmark revocation show rvk_123 -o json | jq '.items[] | select(.action == "operational-suspended")'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			rc, err := c.GetRevocation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(rc, []string{rc.Run.ID}, func(w io.Writer) { cascadeDetail(w, rc, newPrincipalNames(cmd.Context(), c)) })
		},
	}
}

const dryRunNote = "dry run: nothing changed; add --execute to revoke"

func revokeResultTable(w io.Writer, res api.FactoryRevokeResult) {
	if res.Approval != nil {
		fmt.Fprintln(w, "Nothing revoked yet: revoking every factory identity of an issuing CA needs an approval.")
		kv(w, "Reason", res.Reason)
		pendingApprovalNote(w, *res.Approval)
		return
	}
	verb, susp := "Revoked", "Suspended"
	if res.DryRun {
		verb, susp = "Would revoke", "Would suspend"
	} else {
		kv(w, "Revocation run", res.RunID)
	}
	kv(w, "Reason", res.Reason)
	kv(w, "Already revoked", res.Skipped)
	fmt.Fprintf(w, "\n%s %d factory identities%s\n", verb, max(res.Counts.Factory, len(res.Factory)), firstOf(len(res.Factory), res.Counts.Factory))
	if len(res.Factory) > 0 {
		row(w, "  SERIAL", "DEVICE", "LOT")
		for _, f := range res.Factory {
			row(w, "  "+certSerial(f.Serial), f.DeviceID, f.LotID)
		}
	}
	fmt.Fprintf(w, "\n%s %d operational identities%s\n", susp, max(res.Counts.Suspended, len(res.Suspended)), firstOf(len(res.Suspended), res.Counts.Suspended))
	for _, c := range res.Counts.Environments {
		fmt.Fprintf(w, "  %s: %d\n", c.EnvironmentID, c.Suspended)
	}
	if len(res.Suspended) > 0 {
		row(w, "  SERIAL", "DEVICE", "ENVIRONMENT")
		for _, s := range res.Suspended {
			row(w, "  "+certSerial(s.Serial), s.DeviceID, s.Environment)
		}
	}
	if res.DryRun {
		fmt.Fprintf(w, "\n%s\n", dryRunNote)
	}
}

// firstOf notes a list that --limit shortened (whole is the server's count; a server older
// than the counts sends none, and then the list is whole).
func firstOf(listed, whole int) string {
	if listed >= whole {
		return ""
	}
	return fmt.Sprintf(" (the first %d listed)", listed)
}

// cascadeDetail prints a revocation run; names turns principal IDs into names (nil: IDs).
func cascadeDetail(w io.Writer, rc api.RevocationCascade, names *principalNames) {
	r := rc.Run
	kv(w, "ID", r.ID)
	kv(w, "Manufacturer", r.ManufacturerID)
	kv(w, "Selector", selectorText(r.Selector))
	kv(w, "Reason", revocation.Reason(r.Reason))
	kv(w, "Requested", ts(r.CreatedAt)+" by "+orDash(names.name(r.RequestedBy)))
	if r.FinishedAt != nil {
		kv(w, "Finished", tsp(r.FinishedAt))
	} else {
		kv(w, "Finished", "no (interrupted or running; re-run the same revocation to finish it)")
	}
	fmt.Fprintf(w, "\nItems (%d)\n", len(rc.Items))
	if len(rc.Items) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	row(w, "  ACTION", "SERIAL", "DEVICE", "AT")
	for _, it := range rc.Items {
		row(w, "  "+it.Action, certSerial(it.Serial), it.DeviceID, ts(it.At))
	}
}

func selectorText(s api.FactorySelector) string {
	var parts []string
	for _, p := range []struct{ k, v string }{
		{"device", s.DeviceID}, {"lot", s.LotID}, {"line", s.Line}, {"issuing CA", s.IssuingCAID},
	} {
		if p.v != "" {
			parts = append(parts, p.k+" "+p.v)
		}
	}
	if !s.IssuedFrom.IsZero() {
		parts = append(parts, "issued from "+ts(s.IssuedFrom))
	}
	if !s.IssuedTo.IsZero() {
		parts = append(parts, "issued before "+ts(s.IssuedTo))
	}
	return strings.Join(parts, ", ")
}
