package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/failure"
)

func (e *env) auditReconcileCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "reconcile",
		Short: "Compare every certificate's, device's and maker origin's state with the audit log",
		Long: `Recompute every certificate's state (issued, revoked with its reason, held) from the audit
events and compare it with the certificate rows; check each device's operational certificate
against it; compare the origin of each device of a maker that does not run Hallmark (its
maker, the factory certificate it holds, by serial and SHA-256, and whether the maker revoked
it) with the events that wrote it. Each row that disagrees is listed: which row, what it says, what the log says and
the last event that named it. The OCSP responder answers tryLater for the certificates that
disagree until a reconciliation finds them in agreement again. Certificates of CA profiles
(issuing-ca, cross-ca) are not covered. Needs an audit cell. Exits 5 when a row disagrees.`,
		Example: `  hallmark audit reconcile
  hallmark audit reconcile -o json | jq '.disagreements[]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			r, err := c.AuditReconcile(cmd.Context())
			if err != nil {
				return err
			}
			ids := make([]string, len(r.Disagreements))
			for i, d := range r.Disagreements {
				ids[i] = d.ID
			}
			if err := e.emit(r, ids, func(w io.Writer) { reconcileTable(w, r) }); err != nil {
				return err
			}
			if len(r.Disagreements) > 0 {
				return failure.New(failure.Conflict, "%d rows disagree with the audit log", len(r.Disagreements))
			}
			return nil
		},
	}
}

func reconcileTable(w io.Writer, r api.Reconciliation) {
	row(w, "EVENTS", "LAST SEQ", "CERTIFICATES", "DEVICES", "ORIGINS", "NOT COVERED", "DISAGREE")
	n := len(r.Disagreements)
	more := ""
	if r.Truncated {
		more = "+"
	}
	row(w, r.Events, r.LastSeq, r.Certificates, r.Devices, r.Origins, r.Uncovered, fmt.Sprint(n)+more)
	if n == 0 {
		return
	}
	fmt.Fprintln(w)
	row(w, "KIND", "ID", "ROW SAYS", "LOG SAYS", "LAST EVENT")
	for _, d := range r.Disagreements {
		seq := ""
		if d.Seq > 0 {
			seq = fmt.Sprint(d.Seq)
		}
		row(w, d.Kind, d.ID, d.Row, d.Log, seq)
	}
}
