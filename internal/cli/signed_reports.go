package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// signedFlag adds --signed to a report command.
func signedFlag(cmd *cobra.Command, v *bool) {
	cmd.Flags().BoolVar(v, "signed", false, "print the report as a DSSE envelope signed with the audit checkpoint key, naming the audit checkpoint it was computed at (check it with \"hallmark report verify\")")
}

// printSigned prints report name with the query kv as the server signs it (JSON, whatever -o
// says: the envelope is the evidence, byte for byte as signed).
func (e *env) printSigned(ctx context.Context, c *client.Client, name string, kv ...string) error {
	env, err := c.SignedReport(ctx, name, kv...)
	if err != nil {
		return err
	}
	return e.printJSON(env)
}

func (e *env) reportVerify() *cobra.Command {
	var file, keyFile string
	var body bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a signed report offline with the audit checkpoint key",
		Long: `Check a report printed with --signed, offline: the DSSE envelope must be signed by one of the
checkpoint keys in --key (the output of "hallmark audit key", or the key history of GET
/v1/audit/keys, one a line), and the audit checkpoint it names must be signed by one of them
too. Prints the report's name, the checkpoint (origin, size, root) and whether the report was
computed exactly at it (the log did not grow meanwhile); --body prints the report itself.
A report that was changed, or signed by another key, is refused with exit code 3.`,
		Example: `  hallmark report summary --signed > summary.dsse.json
  hallmark report verify --file summary.dsse.json --key audit.vkey
  hallmark report verify --file summary.dsse.json --key audit.vkey --body | jq .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" || keyFile == "" {
				return usagef("--file and --key are required")
			}
			kb, err := os.ReadFile(keyFile)
			if err != nil {
				return failure.Wrap(failure.Invalid, err, "reading the key file")
			}
			vs, err := auditlog.ParseVerifierKeys(kb)
			if err != nil {
				return fmt.Errorf("--key %s: %w", keyFile, err)
			}
			f, err := os.Open(file)
			if err != nil {
				return failure.Wrap(failure.Invalid, err, "opening the signed report")
			}
			defer f.Close()
			b, err := io.ReadAll(io.LimitReader(f, auditlog.MaxSignedReportSize+1))
			if err != nil {
				return failure.Wrap(failure.Invalid, err, "reading the signed report")
			}
			st, cp, err := auditlog.VerifyReport(b, vs)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if body {
				_, err := fmt.Fprintf(e.stdout, "%s\n", st.Body)
				return err
			}
			out := map[string]any{"ok": true, "report": st.Report, "query": st.Query, "signed_at": st.SignedAt,
				"checkpoint":      map[string]any{"origin": cp.Origin, "size": cp.Size, "root": base64.StdEncoding.EncodeToString(cp.Root)},
				"log_size_before": st.LogSizeBefore, "exact": st.Exact(cp), "body": json.RawMessage(st.Body)}
			return e.emit(out, nil, func(w io.Writer) {
				kv(w, "report", strings.TrimSpace(st.Report+" "+st.Query))
				kv(w, "signed_at", ts(st.SignedAt))
				kv(w, "checkpoint", fmt.Sprintf("%s size %d root %s", cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Root)))
				if st.Exact(cp) {
					kv(w, "computed", fmt.Sprintf("at the checkpoint (the log had %d events before and after)", cp.Size))
				} else {
					kv(w, "computed", fmt.Sprintf("while the log grew from %d to %d events", st.LogSizeBefore, cp.Size))
				}
				fmt.Fprintln(w, "OK: signed by the given checkpoint key")
			})
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "signed report (the output of report … --signed)")
	cmd.Flags().StringVar(&keyFile, "key", "", "file holding the checkpoint verifier key, or keys one a line")
	cmd.Flags().BoolVar(&body, "body", false, "print only the report (JSON) once it verifies")
	return cmd
}

// refusalArgs is the query of a refusals report.
func refusalArgs(q client.RefusalQuery) []string {
	since, limit := "", ""
	if !q.Since.IsZero() {
		since = q.Since.UTC().Format(time.RFC3339)
	}
	if q.Limit != 0 {
		limit = strconv.Itoa(q.Limit)
	}
	return []string{"device", q.DeviceID, "since", since, "limit", limit}
}
