package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

// Rotation commands (docs/rotation.md): "hallmark ca rotate|rollover|chain", "hallmark
// buildrecord rotate-key|keys", "hallmark audit keys|rotate-key" and "hallmark report
// ca-expiry".

// caRotationCommands are the rotation subcommands of "hallmark ca".
func (e *env) caRotationCommands() []*cobra.Command {
	var r api.RotateCARequest
	rotate := &cobra.Command{
		Use:   "rotate ID",
		Short: "Rotate an issuing CA: a successor takes its lots and environments",
		Long: `Create the successor of an issuing CA: a new key on the server, certified by the CA's root (or by
the newest root of its line after a rollover), as long-lived as the old CA within its root. In
the same transaction every lot and environment that named the old CA moves to the successor.
The old CA goes on signing for --overlap (default 1h) so that requests under way finish, then
signs nothing more but keeps serving its CRLs and OCSP answers until it expires. Needs the duty
that creates the CA: manufacturing/issue, operational/issue or support/approve over its party.
-o id prints the successor's ID.`,
		Example: `  hallmark ca rotate ca-0123456789abcdef
  NEXT=$(hallmark ca rotate ca-0123456789abcdef --overlap 30m -o id)`,
		Args: exactArgs(1),
		RunE: e.replaceCA(&r, (*client.Client).RotateCA),
	}
	rotate.Flags().StringVar(&r.Name, "name", "", "the successor's name (a slug; default <name>-<n>)")
	rotate.Flags().StringVar(&r.Overlap, "overlap", "", "how long the old CA goes on signing, 0s to 168h (default 1h)")

	var ro api.RotateCARequest
	rollover := &cobra.Command{
		Use:   "rollover ID",
		Short: "Roll a root over: a new root and both cross-certificates",
		Long: `Create a new root of the old root's name and key type, and the two cross-certificates that let
relying parties trusting either root verify both hierarchies: the new root's key certified by
the old root, and the old root's key certified by the new one. Issuing CAs under the old root
move to the new one when they are rotated ("hallmark ca rotate"); "hallmark ca chain" and EST
/cacerts serve the cross-certificates. -o id prints the new root's ID.`,
		Example: `  hallmark ca rollover ca-root0123456789ab
  ROOT2=$(hallmark ca rollover ca-root0123456789ab -o id)`,
		Args: exactArgs(1),
		RunE: e.replaceCA(&ro, (*client.Client).RolloverCA),
	}
	rollover.Flags().StringVar(&ro.Name, "name", "", "the new root's name (a slug; default <name>-<n>)")
	rollover.Flags().StringVar(&ro.Overlap, "overlap", "", "how long the old root goes on signing, 0s to 168h (default 1h)")

	var out string
	chain := &cobra.Command{
		Use:   "chain ID",
		Short: "Print a CA's chain and its root line's cross-certificates (PEM)",
		Long: `Print the CA's certificate, the CAs above it and the cross-certificates of its root's rollovers,
as PEM, on stdout or to --out: what a relying party that trusts any root of the line needs
beside it ("openssl verify -CAfile <root> -untrusted <chain> <cert>"). This route is public.`,
		Example: `  hallmark ca chain ca-0123456789abcdef --out chain.pem`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			b, err := c.CAChain(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.writeOut(out, b, "chain")
		},
	}
	chain.Flags().StringVar(&out, "out", "", "write the PEM to this file instead of stdout")
	return []*cobra.Command{rotate, rollover, chain}
}

func (e *env) replaceCA(r *api.RotateCARequest, do func(*client.Client, context.Context, string, api.RotateCARequest) (api.Succession, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := e.client()
		if err != nil {
			return err
		}
		s, err := do(c, cmd.Context(), args[0], *r)
		if err != nil {
			return err
		}
		return e.emit(s, []string{s.Successor.ID}, func(w io.Writer) {
			caTable(w, []api.CA{s.Predecessor, s.Successor})
			until := "-"
			if s.Predecessor.IssuesUntil != nil {
				until = ts(*s.Predecessor.IssuesUntil)
			}
			fmt.Fprintf(w, "\n%s succeeds %s, which signs until %s.\n", s.Successor.ID, s.Predecessor.ID, until)
			if s.Successor.Role == "issuing" {
				fmt.Fprintf(w, "Moved %d lot(s) and %d environment(s) to %s.\n", s.LotsMoved, s.EnvironmentsMoved, s.Successor.ID)
			}
			for _, x := range s.CrossCertificates {
				fmt.Fprintf(w, "Cross-certificate %s: %s certified by %s.\n", certSerial(x.Serial), x.SubjectCAID, x.IssuerCAID)
			}
		})
	}
}

// buildRecordKeyCommands are the key history subcommands of "hallmark buildrecord".
func (e *env) buildRecordKeyCommands() []*cobra.Command {
	rotate := &cobra.Command{
		Use:   "rotate-key MANUFACTURER",
		Short: "Rotate a manufacturer's build-record key",
		Long: `Replace a manufacturer's build-record signing key by a new one on the server. New build records
are signed by the new key; the old key signs nothing more and stays in the key history, so that
records it signed still verify ("hallmark buildrecord keys"). Needs manufacturing/issue over the
manufacturer. -o id prints the new key's DSSE keyid.`,
		Example: `  hallmark buildrecord rotate-key acme`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			k, err := c.RotateBuildRecordKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(k, []string{k.DSSEKeyID}, func(w io.Writer) {
				fmt.Fprintf(w, "new build-record key of %s: keyid %s (%s)\n", k.PartyID, k.DSSEKeyID, k.ID)
			})
		},
	}
	var out string
	keys := &cobra.Command{
		Use:   "keys MANUFACTURER",
		Short: "Fetch a manufacturer's build-record key history (PEM key set)",
		Long: `Fetch every build-record key of a manufacturer, the current one first, as PEM blocks on stdout
or to --out. "hallmark buildrecord verify --key" takes this file and verifies records signed
before and after key rotations. This route is public.`,
		Example: `  hallmark buildrecord keys acme --out acme-build-record-keys.pem`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			b, err := c.BuildRecordKeys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.writeOut(out, b, "build-record keys")
		},
	}
	keys.Flags().StringVar(&out, "out", "", "write the PEM to this file instead of stdout")
	return []*cobra.Command{rotate, keys}
}

// auditKeyCommands are the key history subcommands of "hallmark audit".
func (e *env) auditKeyCommands() []*cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Print the checkpoint key history",
		Long: `Print every key that has signed the audit log's checkpoints, one note verifier key a line, the
current key first. "hallmark audit verify --key" takes this file and verifies exports signed
before and after key rotations.`,
		Example: `  hallmark audit keys > audit.vkeys`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ks, err := c.AuditKeys(cmd.Context())
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(e.stdout, strings.Join(ks, "\n")+"\n")
			return err
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate-key",
		Short: "Rotate the audit log's checkpoint key (administrators)",
		Long: `Replace the checkpoint signing key by a new Ed25519 key on the server. The first checkpoint after
the rotation is signed by both keys, later ones by the new key; the old key stays in the key
history ("hallmark audit keys"). Needs a deployment administrator. Prints the new verifier key.`,
		Example: `  hallmark audit rotate-key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			k, err := c.RotateAuditKey(cmd.Context())
			if err != nil {
				return err
			}
			return e.emit(k, []string{k.KeyID}, func(w io.Writer) { fmt.Fprintln(w, k.VerifierKey) })
		},
	}
	return []*cobra.Command{keys, rotate}
}

// reportCAExpiry is "hallmark report ca-expiry".
func (e *env) reportCAExpiry() *cobra.Command {
	var asCSV, signed bool
	cmd := &cobra.Command{
		Use:   "ca-expiry",
		Short: "CA certificates' ends, with warnings at 90, 30 and 7 days",
		Long: `List the CAs you may see, soonest end first: their status (active, overlap, succeeded, retired,
expired, anchor), the time left and the warning level (90d, 30d, 7d, expired). A CA in service
with a warning needs a rotation (issuing CA) or a rollover (root); "hallmark gaps" lists those.`,
		Example: `  hallmark report ca-expiry
  hallmark report ca-expiry --csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if signed {
				return e.printSigned(cmd.Context(), c, "ca-expiry")
			}
			r, err := c.ReportCAExpiry(cmd.Context())
			if err != nil {
				return err
			}
			rows := [][]string{}
			for _, it := range r.Items {
				rows = append(rows, []string{it.CAID, it.PartyID, it.Name, it.Role, it.Status, ts(it.NotAfter), dur(it.Remaining), it.Warning, it.SuccessorID})
			}
			return e.emitRows(r, asCSV, []string{"CA", "PARTY", "NAME", "ROLE", "STATUS", "NOT_AFTER", "REMAINING", "WARNING", "SUCCESSOR"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	signedFlag(cmd, &signed)
	return cmd
}
