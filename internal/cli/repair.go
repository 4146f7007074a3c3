package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
)

func (e *env) deviceRepairCmd() *cobra.Command {
	var csrFile, recordFile, reason string
	cmd := &cobra.Command{
		Use:   "repair ID",
		Short: "Ask for a repaired device's new build record and factory identity (it waits for an approval)",
		Long: `Ask for a new factory identity for a device that came back repaired: --csr is its PKCS#10 request
(PEM or DER; the key may be new), --record its new build record (JSON, the device's serial),
--reason what was repaired. You need manufacturing/issue over the device's lot and must hold
the device; it must be registered, released or quarantined.

The repair waits for an approval (kind repair) by the party that owns manufacturing/approve
over the lot: "hallmark approval approve ID" then signs the new build record, issues the new
factory certificate on the same device record and revokes the old one as superseded, in one
transaction. "hallmark device show" lists the factory lineage. Asking again while a request is
pending returns that request; -o id prints the approval's ID.`,
		Example: `  APPROVAL=$(hallmark device repair dev_123 --csr device.csr --record build.json --reason "radio module replaced" -o id)
  eval "$(hallmark dev env --as acme/bob)"     # a principal of the approving party
  hallmark approval approve "$APPROVAL"
  hallmark device show dev_123`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			csr, err := readInput("csr", csrFile)
			if err != nil {
				return err
			}
			rec, err := readInput("record", recordFile)
			if err != nil {
				return err
			}
			if !json.Valid(rec) {
				return invalidf("--record %s is not JSON", recordFile)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			res, err := c.RepairDevice(cmd.Context(), args[0], api.RepairRequest{CSR: csrText(csr), BuildRecord: json.RawMessage(bytes.TrimSpace(rec)), Reason: reason})
			if err != nil {
				return err
			}
			return e.emitDeviceApproval(res, res.Device, res.Approval)
		},
	}
	cmd.Flags().StringVar(&csrFile, "csr", "", "the repaired device's CSR (PEM or DER file)")
	cmd.Flags().StringVar(&recordFile, "record", "", "the repaired device's build record (JSON file)")
	cmd.Flags().StringVar(&reason, "reason", "", "what was repaired (shown to the approvers, recorded in the audit log)")
	required(cmd, "csr", "record", "reason")
	return cmd
}

// factoryLineageTable prints a device's factory identities, oldest first.
func factoryLineageTable(w io.Writer, ls []api.FactoryLink) {
	fmt.Fprintln(w, "\nFactory lineage")
	if len(ls) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	row(w, "  SERIAL", "STATE", "REASON", "ISSUED", "REVOKED", "BUILD RECORD SHA-256", "SUPERSEDED BY", "CURRENT")
	for _, l := range ls {
		cur := ""
		if l.Current {
			cur = "yes"
		}
		row(w, "  "+l.Serial, l.State, l.Reason, tsp(l.IssuedAt), tsp(l.RevokedAt), l.BuildRecordSHA256, l.SupersededBy, cur)
	}
}
