package cli

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/reports"
)

// reportRefusals is "hallmark report refusals": refusal audit events (issue 17).
func (e *env) reportRefusals() *cobra.Command {
	var asCSV, signed bool
	var device, since string
	var limit int
	cmd := &cobra.Command{
		Use:   "refusals",
		Short: "Refusals of authenticated callers: API denials and EST 4xx, coalesced per minute, by reason",
		Long: `List the refusals recorded in the audit log, newest first: every denial of an authenticated
API caller (ownership, separation of duties, policy, onboarding) and every 4xx answered to an EST
client that presented a certificate. Refusals of one caller, subject, reason and rule within a
minute are one event with a COUNT; the table ends with the totals by reason.

Auditors see every refusal; any other party, and a deployment administrator, its own
principals'. With
--device, the refusal history of one device, for whoever may see the device.`,
		Example: `  hallmark report refusals
  hallmark report refusals --since 24h --csv
  hallmark report refusals --device dev_abc -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := client.RefusalQuery{DeviceID: device, Limit: limit}
			if since != "" {
				d, err := reports.ParseSpan(since)
				if err != nil {
					return usagef("--since: %v", err)
				}
				q.Since = time.Now().Add(-d)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			if signed {
				return e.printSigned(cmd.Context(), c, "refusals", refusalArgs(q)...)
			}
			r, err := c.ReportRefusals(cmd.Context(), q)
			if err != nil {
				return err
			}
			return e.emitRefusals(r, asCSV)
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	signedFlag(cmd, &signed)
	cmd.Flags().StringVar(&device, "device", "", "one device's refusal history")
	cmd.Flags().StringVar(&since, "since", "", "how far back: 7d (the default), 24h, ...")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many events (1-1000; default 1000)")
	return cmd
}

// emitRefusals prints the events and, in a table, the totals by reason after them.
func (e *env) emitRefusals(r api.RefusalReport, asCSV bool) error {
	rows := [][]string{}
	for _, f := range r.Items {
		rows = append(rows, []string{strconv.FormatInt(f.Seq, 10), ts(f.LastAt), f.Reason, f.Rule, strconv.FormatInt(f.Count, 10),
			f.PrincipalID, f.Subject, f.Via, f.Operation})
	}
	if !asCSV && e.output == "table" {
		defer func() {
			for _, c := range r.ByReason {
				row(e.stdout, "total", c.Reason, c.Count)
			}
		}()
	}
	return e.emitRows(r, asCSV, []string{"SEQ", "LAST_AT", "REASON", "RULE", "COUNT", "PRINCIPAL", "SUBJECT", "VIA", "OPERATION"}, rows)
}
