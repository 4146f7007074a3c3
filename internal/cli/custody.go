package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
)

func (e *env) transferCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "transfer",
		Short: "Hand devices over to another party (custody transfers)",
		Long: `Custody moves by offer and acceptance: the holder offers devices (or every device of a lot it
holds) to another party, which accepts or refuses; the sender may cancel an offer not yet decided.`,
		Example: `  hallmark transfer offer --to distrib --lot lot_123 --note "PO 4711"
  hallmark transfer list
  hallmark transfer devices tr_123
  hallmark transfer accept tr_123`,
	}
	var req api.OfferRequest
	offer := &cobra.Command{
		Use:   "offer",
		Short: "Offer custody of devices or of a lot to another party",
		Long:  "Offer devices you hold to another party: name them with --device (repeatable, or comma-separated) or take every device of a lot you hold with --lot.",
		Example: `  hallmark transfer offer --to distrib --device dev_1 --device dev_2
  TR=$(hallmark transfer offer --to distrib --lot "$LOT" -o id)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			t, err := c.OfferTransfer(cmd.Context(), req)
			if err != nil {
				return err
			}
			return e.emit(t, []string{t.ID}, func(w io.Writer) { transferTable(w, []api.Transfer{t}) })
		},
	}
	offer.Flags().StringVar(&req.To, "to", "", "the receiving party")
	offer.Flags().StringSliceVar(&req.DeviceIDs, "device", nil, "device ID to offer (repeatable)")
	offer.Flags().StringVar(&req.LotID, "lot", "", "offer every device of this lot that you hold")
	offer.Flags().StringVar(&req.Note, "note", "", "a note for the receiver (at most 1000 characters)")
	required(offer, "to")
	offer.MarkFlagsMutuallyExclusive("device", "lot")
	offer.MarkFlagsOneRequired("device", "lot")

	listCmd := &cobra.Command{
		Use:     "list",
		Short:   "List the transfers your party sent or received",
		Long:    "List the transfers your party sent or received, in any state.",
		Example: `  hallmark transfer list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			trs, err := c.ListTransfers(cmd.Context())
			if err != nil {
				return err
			}
			ids := make([]string, len(trs))
			for i, t := range trs {
				ids[i] = t.ID
			}
			return e.emit(trs, ids, func(w io.Writer) { transferTable(w, trs) })
		},
	}
	show := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one transfer",
		Long:    "Show one transfer and how many devices it moves; `hallmark transfer devices` lists them.",
		Example: `  hallmark transfer show tr_123`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			t, err := c.GetTransfer(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(t, []string{t.ID}, func(w io.Writer) { transferDetail(w, t) })
		},
	}
	var after string
	var limit int
	var all bool
	devs := &cobra.Command{
		Use:   "devices ID",
		Short: "List the devices a transfer moves",
		Long: `List the IDs of the devices a transfer moves, in order. The server returns pages of up to
--limit devices (default and most 1000); --all follows the pages to the end, and --after starts
after a device ID. When more devices remain, a note on stderr says how to fetch them.`,
		Example: `  hallmark transfer devices tr_123
  hallmark transfer devices tr_123 --all -o id > devices.txt`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 || limit > 1000 {
				return usagef("--limit must be 1-1000")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			var ids []string
			if all {
				if ids, err = c.AllTransferDevices(cmd.Context(), args[0], after, limit); err != nil {
					return err
				}
			} else {
				p, err := c.TransferDevices(cmd.Context(), args[0], after, limit)
				if err != nil {
					return err
				}
				ids = p.Items
				if p.NextAfter != "" {
					fmt.Fprintf(e.stderr, "more devices: add --after %s, or --all\n", p.NextAfter)
				}
			}
			return e.emit(ids, ids, func(w io.Writer) {
				row(w, "DEVICE")
				for _, id := range ids {
					row(w, id)
				}
			})
		},
	}
	devs.Flags().StringVar(&after, "after", "", "start after this device ID")
	devs.Flags().IntVar(&limit, "limit", 0, "devices per page, 1-1000 (default 1000)")
	devs.Flags().BoolVar(&all, "all", false, "follow the pages to the last device")
	cmd.AddCommand(offer, listCmd, show, devs,
		e.decideCommand(api.TransferAccept, "Accept a transfer offered to your party", "Accept a transfer offered to your party: its devices pass into your custody."),
		e.decideCommand(api.TransferRefuse, "Refuse a transfer offered to your party", "Refuse a transfer offered to your party: its devices stay with the sender."),
		e.decideCommand(api.TransferCancel, "Cancel a transfer your party offered", "Cancel a transfer your party offered and the receiver has not decided yet."),
	)
	return cmd
}

func (e *env) decideCommand(d string, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:     d + " ID",
		Short:   short,
		Long:    long,
		Example: fmt.Sprintf("  hallmark transfer %s tr_123", d),
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			t, err := c.DecideTransfer(cmd.Context(), args[0], d)
			if err != nil {
				return err
			}
			return e.emit(t, []string{t.ID}, func(w io.Writer) { transferTable(w, []api.Transfer{t}) })
		},
	}
}

func transferTable(w io.Writer, trs []api.Transfer) {
	row(w, "ID", "FROM", "TO", "STATE", "DEVICES", "OFFERED", "DECIDED")
	for _, t := range trs {
		row(w, t.ID, t.FromID, t.ToID, t.State, t.DeviceCount, ts(t.OfferedAt), tsp(t.DecidedAt))
	}
}

func transferDetail(w io.Writer, t api.Transfer) {
	kv(w, "ID", t.ID)
	kv(w, "From", t.FromID)
	kv(w, "To", t.ToID)
	kv(w, "State", t.State)
	kv(w, "Note", t.Note)
	kv(w, "Offered", ts(t.OfferedAt)+" by "+orDash(t.OfferedBy))
	if t.DecidedAt != nil {
		kv(w, "Decided", tsp(t.DecidedAt)+" by "+orDash(t.DecidedBy))
	}
	kv(w, "Devices", t.DeviceCount)
}

func (e *env) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "audit",
		Short:   "Read the audit log",
		Long:    "Every change Hallmark makes is recorded as an audit event in the same transaction.",
		Example: `  hallmark audit events --after 100`,
	}
	var after int64
	events := &cobra.Command{
		Use:   "events",
		Short: "List audit events",
		Long: `List up to 1000 audit events with a sequence number above --after, oldest first. Reading the
audit log needs an audit cell or a deployment administrator. -o id prints sequence numbers.`,
		Example: `  hallmark audit events
  hallmark audit events --after "$(hallmark audit events -o id | tail -n 1)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if after < 0 {
				return usagef("--after must not be negative")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			evs, err := c.AuditEvents(cmd.Context(), after)
			if err != nil {
				return err
			}
			ids := make([]string, len(evs))
			for i, ev := range evs {
				ids[i] = strconv.FormatInt(ev.Seq, 10)
			}
			return e.emit(evs, ids, func(w io.Writer) { eventTable(w, evs) })
		},
	}
	events.Flags().Int64Var(&after, "after", 0, "only events with a sequence number above this")
	cmd.AddCommand(events)
	cmd.AddCommand(e.auditLogCommands()...) // audit.go
	return cmd
}

func eventTable(w io.Writer, evs []api.AuditEvent) {
	row(w, "SEQ", "AT", "PARTY", "PRINCIPAL", "ACTION", "STAGE", "SCOPE", "SUBJECT")
	for _, ev := range evs {
		row(w, ev.Seq, ts(ev.At), ev.PartyID, ev.PrincipalID, ev.Action, ev.Stage, ev.Scope, strings.TrimSpace(ev.Subject))
	}
}
