package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/grant"
)

// grantStates are the states grants can be listed by.
var grantStates = []grant.State{grant.Requested, grant.Active, grant.Denied, grant.Revoked}

// notAllowedError is a support check that answered "not allowed": exit code ExitNotAllowed.
type notAllowedError struct{ reason string }

func (n *notAllowedError) Error() string { return "not allowed: " + n.reason }

func (e *env) supportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "support",
		Short: "Time-bound vendor support access to devices: grants, their certificates and checks",
		Long: `A support grant gives a vendor engineer time-bound access to named devices, or to the devices of
one lot, in one operator environment. A support vendor (or the devices' manufacturer) asks with
"support request", sending a CSR for a key the engineer keeps; the operator approves through an
approval ("hallmark approval approve"); Hallmark then issues a support certificate from the
operator's support CA, valid exactly for the approved window. Gateways ask "support check"
whether a certificate may reach a device now; the operator or the vendor can end a grant early
with "support revoke". See docs/governance.md.`,
		Example: `  GRANT=$(hallmark support request --environment env_123 --device dev_123 --reason "ticket 4711" \
      --until 4h --csr eve.csr -o id)
  hallmark support show "$GRANT" --cert-out eve.pem
  hallmark support check --cert eve.pem --device dev_123`,
	}
	cmd.AddCommand(e.supportCreateHierarchyCmd(), e.supportRequestCmd(), e.supportListCmd(), e.supportShowCmd(), e.supportRevokeCmd(), e.supportCheckCmd())
	return cmd
}

func (e *env) supportCreateHierarchyCmd() *cobra.Command {
	var h api.CreateSupportHierarchyRequest
	cmd := &cobra.Command{
		Use:   "create-hierarchy",
		Short: "Create an operator's support root CA and an issuing CA under it",
		Long: `Create the support CAs of an operator; their keys are generated and kept by the server, and the
newest support issuing CA signs the certificates of approved grants. The caller's party must own
support/approve over the operator. -o id prints the root CA's ID, then the issuing CA's ID.`,
		Example: `  hallmark support create-hierarchy --operator contoso --name contoso-support`,
		Args:    cobra.NoArgs,
		RunE: e.createHierarchy(&h.Algorithm, func(ctx context.Context, c *client.Client) (api.Hierarchy, error) {
			return c.CreateSupportHierarchy(ctx, h)
		}),
	}
	cmd.Flags().StringVar(&h.OperatorID, "operator", "", "operator party ID")
	cmd.Flags().StringVar(&h.Name, "name", "", "CA name (a slug)")
	algorithmFlag(cmd, &h.Algorithm)
	required(cmd, "operator", "name")
	return cmd
}

func (e *env) supportRequestCmd() *cobra.Command {
	var req api.SupportRequest
	var from, until, csrFile string
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Ask for a support grant (it waits for the operator's approval)",
		Long: `Ask for time-bound support access to the devices named with --device (repeatable), or to the
devices of --lot, in the operator environment --environment. The caller's party must be a support
vendor or the devices' manufacturer.

--until ends the window: an RFC 3339 time, or a Go duration counted from the start (4h: four
hours from --from, or from now). --from (RFC 3339) starts it; the default is now. The window is
at most the environment's maximum (8h unless the environment sets another).

--csr is a PKCS#10 request (PEM or DER) for a key the engineer keeps; it never leaves the
engineer. --engineer names who holds it (a slug; default: your principal's name). The grant
waits for the operator's approval: the summary shows the approval's ID, and once it is approved
"hallmark support show --cert-out" fetches the certificate. -o id prints the grant's ID.`,
		Example: `  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout eve.key -subj /CN=eve -out eve.csr
  GRANT=$(hallmark support request --environment env_123 --device dev_123 --reason "ticket 4711: sensor drift" \
      --until 4h --csr eve.csr -o id)
  hallmark support request --environment env_123 --lot lot_123 --reason "field recall" \
      --from 2026-12-01T08:00:00Z --until 2026-12-01T16:00:00Z --csr eve.csr --engineer eve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r := req
			var err error
			if r.NotBefore, r.NotAfter, err = grantWindow(from, until, time.Now().UTC()); err != nil {
				return err
			}
			b, err := readInput("csr", csrFile)
			if err != nil {
				return err
			}
			r.CSR = csrText(b)
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.RequestSupportGrant(cmd.Context(), r)
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { grantDetail(w, v, newPrincipalNames(cmd.Context(), c)) })
		},
	}
	rf := cmd.Flags()
	rf.StringVar(&req.EnvironmentID, "environment", "", "the operator environment the devices are in")
	rf.StringArrayVar(&req.Devices, "device", nil, "a device the engineer may reach (repeatable)")
	rf.StringVar(&req.LotID, "lot", "", "the engineer may reach the devices of this lot in the environment")
	rf.StringVar(&req.Reason, "reason", "", "why access is needed (shown to the approvers)")
	rf.StringVar(&from, "from", "", "start of the window, RFC 3339 (default: now)")
	rf.StringVar(&until, "until", "", "end of the window: RFC 3339, or a duration from the start such as 4h")
	rf.StringVar(&csrFile, "csr", "", "CSR for the engineer's key (PEM or DER file)")
	rf.StringVar(&req.Engineer, "engineer", "", "who holds the key (a slug; default: your principal's name)")
	required(cmd, "environment", "reason", "until", "csr")
	cmd.MarkFlagsOneRequired("device", "lot")
	cmd.MarkFlagsMutuallyExclusive("device", "lot")
	return cmd
}

func (e *env) supportListCmd() *cobra.Command {
	var f client.GrantFilter
	var state string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List support grants",
		Long: `List the support grants your party asked for or approves (auditors see all), newest first,
optionally only those of one --environment, --device, --lot or --state (requested, active,
denied, revoked). STATUS is the state as of now: an active grant past its window shows as
expired. -o id prints the grant IDs.`,
		Example: `  hallmark support list --environment env_123 --state active
  hallmark support list --device dev_123 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if state != "" {
				if !slices.Contains(grantStates, grant.State(state)) {
					return usagef("--state must be requested, active, denied or revoked, not %q", state)
				}
				f.State = state
			}
			if err := checkLimit(f.Limit); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			vs, err := c.ListSupportGrants(cmd.Context(), f)
			if err != nil {
				return err
			}
			ids := make([]string, len(vs))
			for i, v := range vs {
				ids[i] = v.ID
			}
			return e.emit(vs, ids, func(w io.Writer) { grantTable(w, vs) })
		},
	}
	lf := cmd.Flags()
	lf.StringVar(&f.Environment, "environment", "", "only grants in this environment")
	lf.StringVar(&f.Device, "device", "", "only grants naming this device")
	lf.StringVar(&f.Lot, "lot", "", "only grants over this lot")
	lf.StringVar(&state, "state", "", "only grants in this state: requested, active, denied or revoked")
	lf.IntVar(&f.Limit, "limit", 0, "at most this many grants (1-1000; default: the server's)")
	return cmd
}

func (e *env) supportShowCmd() *cobra.Command {
	var certOut, chainOut string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a support grant; write its certificate and chain",
		Long: `Show a support grant: its scope, window, state and approval. Once approved, the grant has a
certificate: --cert-out writes it (PEM) and --chain-out the chain (PEM: the support issuing CA,
then its root). Asking for files of a grant that has no certificate (not yet approved, or
denied) fails with exit code 5 (conflict) and writes nothing.`,
		Example: `  hallmark support show sup_123
  hallmark support show sup_123 --cert-out eve.pem --chain-out eve-chain.pem`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.GetSupportGrant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if (certOut != "" || chainOut != "") && v.CertificatePEM == "" {
				why := "it is " + v.Status
				if v.Status == string(grant.Requested) && v.Approval != nil {
					why += ", waiting for approval " + v.Approval.ID
				}
				return failure.New(failure.Conflict, "support grant %s has no certificate: %s", v.ID, why)
			}
			if err := e.writeFiles(outFile{certOut, "certificate", v.CertificatePEM}, outFile{chainOut, "chain", v.ChainPEM}); err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { grantDetail(w, v, newPrincipalNames(cmd.Context(), c)) })
		},
	}
	cmd.Flags().StringVar(&certOut, "cert-out", "", "write the support certificate (PEM) to this file")
	cmd.Flags().StringVar(&chainOut, "chain-out", "", "write the chain (PEM: support issuing CA, then root) to this file")
	return cmd
}

func (e *env) supportRevokeCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "End an active support grant early and revoke its certificate",
		Long: `End an active grant before its window ends: its certificate is revoked (OCSP and CRL say so) and
"support check" answers not allowed from now on. The operator (support/approve over the
environment) or the requesting party may. --reason is an RFC 5280 reason the support path
allows: unspecified, keyCompromise, affiliationChanged, cessationOfOperation or
privilegeWithdrawn (the default). A grant still waiting for approval is withdrawn with "hallmark approval
cancel" or "deny" instead.`,
		Example: `  hallmark support revoke sup_123
  hallmark support revoke sup_123 --reason keyCompromise`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.RevokeSupportGrant(cmd.Context(), args[0], api.RevokeGrantRequest{Reason: reason})
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) { grantDetail(w, v, newPrincipalNames(cmd.Context(), c)) })
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "RFC 5280 revocation reason (default privilegeWithdrawn)")
	return cmd
}

func (e *env) supportCheckCmd() *cobra.Command {
	var checkCert, checkDevice string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Ask whether a support certificate may reach a device now",
		Long: fmt.Sprintf(`Ask the server whether the support certificate in --cert (PEM) may reach --device now: its
grant is active and inside its window, its certificate is not revoked, and the device is one
the grant names (or of its lot) and still held by the operator in the grant's environment. This
is the question a gateway asks before it lets an engineer through (POST /v1/support/check).

The caller must be of the environment's operator, the requesting party, or an auditor. Exit
code 0 means allowed; %d means not allowed, with the reason on stderr (and in the output);
other codes are errors as usual.`, ExitNotAllowed),
		Example: `  hallmark support check --cert eve.pem --device dev_123
  hallmark support check --cert eve.pem --device dev_123 -o json || echo "refused"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readInput("cert", checkCert)
			if err != nil {
				return err
			}
			if _, err := certpem.Parse(b, certpem.Options{What: "--cert " + checkCert, SkipOther: true}); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			r, err := c.CheckSupport(cmd.Context(), api.SupportCheckRequest{Certificate: string(b), DeviceID: checkDevice})
			if err != nil {
				return err
			}
			var ids []string
			if r.GrantID != "" {
				ids = []string{r.GrantID}
			}
			err = e.emit(r, ids, func(w io.Writer) { supportCheckTable(w, r) })
			if err != nil {
				return err
			}
			if !r.Allowed {
				return &notAllowedError{reason: r.Reason}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&checkCert, "cert", "", "the support certificate (PEM file)")
	cmd.Flags().StringVar(&checkDevice, "device", "", "the device the engineer wants to reach")
	required(cmd, "cert", "device")
	return cmd
}

// grantWindow reads --from and --until: the window starts at from (RFC 3339; notBefore is zero
// when from is empty, for the server to take now) and ends at until (RFC 3339 or a duration
// after the start), after the start.
func grantWindow(from, until string, now time.Time) (notBefore, notAfter time.Time, err error) {
	start := now
	if from != "" {
		t, err := time.Parse(time.RFC3339, from)
		if err != nil {
			return notBefore, notAfter, usagef("--from must be an RFC 3339 time such as 2026-12-01T08:00:00Z, not %q", from)
		}
		notBefore, start = t, t
	}
	if notAfter, err = parseUntil(until, start); err != nil {
		return notBefore, notAfter, err
	}
	if !notAfter.After(start) {
		return notBefore, notAfter, usagef("--until %s is not after the window's start %s", ts(notAfter), ts(start))
	}
	return notBefore, notAfter, nil
}

// parseUntil reads the end of a window: an RFC 3339 time, or a positive duration after start.
func parseUntil(s string, start time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, usagef("--until must be an RFC 3339 time such as 2026-12-01T16:00:00Z or a duration such as 4h, not %q", s)
	}
	return start.Add(d).Truncate(time.Second), nil
}

func isNotAllowed(err error) bool {
	var n *notAllowedError
	return errors.As(err, &n)
}

func supportCheckTable(w io.Writer, r api.Reach) {
	allowed := "no"
	if r.Allowed {
		allowed = "yes"
	}
	kv(w, "Allowed", allowed)
	kv(w, "Reason", r.Reason)
	kv(w, "Grant", r.GrantID)
	kv(w, "Engineer", r.Engineer)
	kv(w, "Until", tsp(r.NotAfter))
}

func grantScope(g api.Grant) string {
	if g.LotID != "" {
		return "lot " + g.LotID
	}
	return strings.Join(g.Devices, ", ")
}

func grantTable(w io.Writer, vs []api.SupportGrant) {
	row(w, "ID", "STATUS", "ENGINEER", "REQUESTED BY", "ENVIRONMENT", "SCOPE", "NOT BEFORE", "NOT AFTER")
	for _, v := range vs {
		row(w, v.ID, v.Status, v.Engineer, v.RequesterParty, v.EnvironmentID, grantScope(v.Grant), ts(v.NotBefore), ts(v.NotAfter))
	}
}

// grantDetail prints a grant; names turns principal IDs into names (nil: IDs).
func grantDetail(w io.Writer, v api.SupportGrant, names *principalNames) {
	kv(w, "Grant", v.ID)
	kv(w, "Status", v.Status)
	kv(w, "Engineer", v.Engineer)
	kv(w, "Requested", ts(v.CreatedAt)+" by "+orDash(names.name(v.RequesterPrincipal))+" of "+orDash(v.RequesterParty))
	kv(w, "Operator", v.OperatorID)
	kv(w, "Environment", v.EnvironmentID)
	if v.LotID != "" {
		kv(w, "Lot", v.LotID)
	} else {
		kv(w, "Devices", strings.Join(v.Devices, ", "))
	}
	kv(w, "Reason", v.Reason)
	kv(w, "Window", ts(v.NotBefore)+" to "+ts(v.NotAfter))
	kv(w, "Certificate", certSerial(v.CertSerial))
	if v.RevokedAt != nil {
		kv(w, "Revoked", tsp(v.RevokedAt)+" by "+orDash(v.RevokedBy))
	}
	if v.Approval != nil {
		pendingApprovalNote(w, *v.Approval)
	} else if v.ApprovalID != "" {
		kv(w, "Approval", v.ApprovalID)
	}
}
