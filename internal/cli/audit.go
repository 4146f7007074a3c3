package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/failure"
)

func (e *env) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "audit",
		Short:   "Read the audit log",
		Long:    "Every change Hallmark makes is recorded as an audit event in the same transaction.",
		Example: `  hallmark audit events --after 100`,
	}
	cmd.AddCommand(e.auditEventsCmd())
	cmd.AddCommand(e.auditLogCommands()...)
	return cmd
}

func (e *env) auditEventsCmd() *cobra.Command {
	var after int64
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List audit events",
		Long: `List up to 1000 audit events with a sequence number above --after, oldest first. Reading the
audit log needs an audit cell (deployment administrators read no party's devices, which the
log names). The table shows principals by name where you may read them (their IDs otherwise);
-o json keeps the IDs. -o id prints sequence numbers.`,
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
			return e.emit(evs, ids, func(w io.Writer) { eventTable(w, evs, newPrincipalNames(cmd.Context(), c)) })
		},
	}
	cmd.Flags().Int64Var(&after, "after", 0, "only events with a sequence number above this")
	return cmd
}

// eventTable shows each principal by name where the caller may read it (see principalNames).
func eventTable(w io.Writer, evs []api.AuditEvent, names *principalNames) {
	row(w, "SEQ", "AT", "PARTY", "PRINCIPAL", "ACTION", "STAGE", "SCOPE", "SUBJECT")
	for _, ev := range evs {
		row(w, ev.Seq, ts(ev.At), ev.PartyID, names.name(ev.PrincipalID), ev.Action, ev.Stage, ev.Scope, strings.TrimSpace(ev.Subject))
	}
}

// auditLogCommands are the tamper-evident log's subcommands of "hallmark audit".
func (e *env) auditLogCommands() []*cobra.Command {
	return append([]*cobra.Command{e.auditCheckpointCommand(), e.auditKeyCommand(), e.auditExportCommand(), e.auditVerifyCommand(), e.auditReconcileCommand()}, e.auditKeyCommands()...)
}

func (e *env) auditCheckpointCommand() *cobra.Command {
	var fresh bool
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the latest signed checkpoint of the audit log",
		Long: `Print the latest signed checkpoint of the audit log's Merkle tree: a C2SP signed note with
the log's origin, the tree size and the base64 root hash. --new signs one of the current size
first. Needs an audit cell.`,
		Example: `  hallmark audit checkpoint --new > checkpoint.txt`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			b, err := c.AuditCheckpoint(cmd.Context(), fresh)
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		},
	}
	cmd.Flags().BoolVar(&fresh, "new", false, "sign a checkpoint of the current size first")
	return cmd
}

func (e *env) auditKeyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "key",
		Short: "Print the checkpoint verifier key",
		Long: `Print the public key that checks the audit log's checkpoints, as a note verifier key
(<origin>+<key hash>+<base64 Ed25519 key>). Keep it apart from the server: "hallmark audit
verify --key" trusts it.`,
		Example: `  hallmark audit key > audit.vkey`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			k, err := c.AuditKey(cmd.Context())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(e.stdout, k)
			return err
		},
	}
}

func (e *env) auditExportCommand() *cobra.Command {
	var out string
	var latest bool
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the audit log and a signed checkpoint to a file",
		Long: `Export the audit log to a JSON-lines file: a header line with a signed checkpoint, then
every event the checkpoint covers, oldest first, each with the leaf hash the server recorded
for it. By default the server signs a checkpoint of the current size first; --latest uses the
latest stored one. Check the file offline with "hallmark audit verify". Needs an audit cell.`,
		Example: `  hallmark audit export --out audit.jsonl`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			f, err := os.Create(out)
			if err != nil {
				return failure.Wrap(failure.Invalid, err, "creating "+out)
			}
			n, err := auditlog.Export(cmd.Context(), auditSource{c}, f, !latest)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(out)
				return err
			}
			fmt.Fprintf(e.stderr, "exported %d events to %s\n", n, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write (JSON lines)")
	cmd.Flags().BoolVar(&latest, "latest", false, "use the latest stored checkpoint instead of signing one now")
	return cmd
}

func (e *env) auditVerifyCommand() *cobra.Command {
	var file, keyFile string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify an audit export offline",
		Long: `Verify an export written by "hallmark audit export", without the server: check the
checkpoint's signature with the verifier key in --key (from "hallmark audit key", or the key
history from "hallmark audit keys", one key a line, for exports after a key rotation), recompute
every event's leaf from its canonical encoding, rebuild the Merkle root and compare it and the
size with the checkpoint. On failure it names the first bad entry (its leaf index and why) and
exits 3.`,
		Example: `  hallmark audit verify --file audit.jsonl --key audit.vkey`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" || keyFile == "" {
				return usagef("--file and --key are required")
			}
			kb, err := os.ReadFile(keyFile)
			if err != nil {
				return failure.Wrap(failure.Invalid, err, "reading the key file")
			}
			f, err := os.Open(file)
			if err != nil {
				return failure.Wrap(failure.Invalid, err, "opening the export")
			}
			defer f.Close()
			vs, err := auditlog.ParseVerifierKeys(kb)
			if err != nil {
				return fmt.Errorf("--key %s: %w", keyFile, err)
			}
			res, err := auditlog.VerifyKeys(bufio.NewReaderSize(f, 1<<20), vs)
			var bad *auditlog.BadEntryError
			if errors.As(err, &bad) {
				if e.output == "json" {
					_ = e.printJSON(map[string]any{"ok": false, "index": bad.Index, "seq": bad.Seq, "reason": bad.Reason})
				}
				return failure.New(failure.Invalid, "%s", bad.Error())
			}
			if err != nil {
				return failure.Wrap(failure.Invalid, err, "verifying "+file)
			}
			return e.emit(map[string]any{"ok": true, "origin": res.Origin, "size": res.Size, "root": res.Root}, nil, func(w io.Writer) {
				fmt.Fprintf(w, "OK: %d events match the checkpoint of %s signed by the given key\n", res.Size, res.Origin)
			})
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "export file to check")
	cmd.Flags().StringVar(&keyFile, "key", "", "file holding the checkpoint verifier key, or keys one a line")
	return cmd
}

// auditSource reads the audit log through the API, for auditlog.Export.
type auditSource struct{ c *client.Client }

func (s auditSource) Checkpoint(ctx context.Context, fresh bool) ([]byte, error) {
	return s.c.AuditCheckpoint(ctx, fresh)
}

func (s auditSource) Events(ctx context.Context, after int64) ([]audit.Event, error) {
	evs, err := s.c.AuditEvents(ctx, after)
	if err != nil {
		return nil, err
	}
	out := make([]audit.Event, len(evs))
	for i, ev := range evs {
		out[i] = audit.Event{Seq: ev.Seq, At: ev.At, PartyID: ev.PartyID, PrincipalID: ev.PrincipalID, Action: ev.Action,
			Stage: ev.Stage, Scope: ev.Scope, Subject: ev.Subject, Detail: ev.Detail}
	}
	return out, nil
}

// LeafHashes pages through the server's limit until it has n hashes or the tree ends.
func (s auditSource) LeafHashes(ctx context.Context, start uint64, n int) ([][]byte, error) {
	var out [][]byte
	for len(out) < n {
		got, err := s.c.AuditLeafHashes(ctx, start+uint64(len(out)), n-len(out))
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			break
		}
		out = append(out, got...)
	}
	return out, nil
}
