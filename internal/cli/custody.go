package cli

import (
	"fmt"
	"io"

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
	cmd.AddCommand(e.transferOfferCmd(), e.transferListCmd(), e.transferShowCmd(), e.transferDevicesCmd(),
		e.decideCommand(api.TransferAccept, "Accept a transfer offered to your party", "Accept a transfer offered to your party: its devices pass into your custody."),
		e.decideCommand(api.TransferRefuse, "Refuse a transfer offered to your party", "Refuse a transfer offered to your party: its devices stay with the sender."),
		e.decideCommand(api.TransferCancel, "Cancel a transfer your party offered", "Cancel a transfer your party offered and the receiver has not decided yet."),
	)
	return cmd
}

func (e *env) transferOfferCmd() *cobra.Command {
	var req api.OfferRequest
	cmd := &cobra.Command{
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
	cmd.Flags().StringVar(&req.To, "to", "", "the receiving party")
	cmd.Flags().StringSliceVar(&req.DeviceIDs, "device", nil, "device ID to offer (repeatable)")
	cmd.Flags().StringVar(&req.LotID, "lot", "", "offer every device of this lot that you hold")
	cmd.Flags().StringVar(&req.Note, "note", "", "a note for the receiver (at most 1000 characters)")
	required(cmd, "to")
	cmd.MarkFlagsMutuallyExclusive("device", "lot")
	cmd.MarkFlagsOneRequired("device", "lot")
	return cmd
}

func (e *env) transferListCmd() *cobra.Command {
	return &cobra.Command{
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
}

func (e *env) transferShowCmd() *cobra.Command {
	return &cobra.Command{
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
}

func (e *env) transferDevicesCmd() *cobra.Command {
	var pages devicePages
	cmd := &cobra.Command{
		Use:   "devices ID",
		Short: "List the devices a transfer moves",
		Long: `List the IDs of the devices a transfer moves, in order. The server returns pages of up to
--limit devices (default and most 1000); --all follows the pages to the end, and --after starts
after a device ID. When more devices remain, a note on stderr says how to fetch them.`,
		Example: `  hallmark transfer devices tr_123
  hallmark transfer devices tr_123 --all -o id > devices.txt`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := pages.check(); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			id := args[0]
			ids, err := fetchPages(e, pages, func() ([]string, error) { return c.AllTransferDevices(cmd.Context(), id, pages.after, pages.limit) },
				func() ([]string, string, error) {
					p, err := c.TransferDevices(cmd.Context(), id, pages.after, pages.limit)
					return p.Items, p.NextAfter, err
				})
			if err != nil {
				return err
			}
			return e.emit(ids, ids, func(w io.Writer) {
				row(w, "DEVICE")
				for _, id := range ids {
					row(w, id)
				}
			})
		},
	}
	pages.add(cmd)
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
