package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

// The life of principals and their tokens (docs/governance.md, *Principals and tokens*) and
// break-glass access (*Break-glass*).

// resolvePrincipal turns PARTY/NAME (*/NAME for a deployment administrator) into an ID; any
// other reference is taken as an ID.
func resolvePrincipal(ctx context.Context, c *client.Client, ref string) (string, error) {
	partyID, name, ok := strings.Cut(ref, "/")
	if !ok {
		return ref, nil
	}
	ps, err := c.ListPrincipals(ctx, partyID)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.Name == name {
			return p.ID, nil
		}
	}
	return "", failureNotFound("party %s has no principal named %q", partyID, name)
}

const principalRef = `PRINCIPAL is a principal ID (prn_…) or PARTY/NAME, such as fabrikam/station-1 (*/NAME for a
deployment administrator).`

// principalLifeCommands are the principal subcommands of this file.
func (e *env) principalLifeCommands() []*cobra.Command {
	return []*cobra.Command{e.principalShowCmd(), e.principalTokensCmd(), e.principalTokenCmd(),
		e.principalDisableCmd(), e.principalEnableCmd(), e.principalDeleteCmd()}
}

// onPrincipal is a RunE that resolves the principal its first argument names and calls fn
// with the client and the principal's ID.
func (e *env) onPrincipal(fn func(cmd *cobra.Command, c *client.Client, id string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := e.client()
		if err != nil {
			return err
		}
		id, err := resolvePrincipal(cmd.Context(), c, args[0])
		if err != nil {
			return err
		}
		return fn(cmd, c, id)
	}
}

func (e *env) showPrincipal(p api.Principal) error {
	return e.emit(p, []string{p.ID}, func(w io.Writer) { principalView(w, p) })
}

func (e *env) principalShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show PRINCIPAL",
		Short:   "Show one principal",
		Long:    "Show a principal: its party, kind, whether it is an administrator, who created it, and whether it is disabled.\n\n" + principalRef,
		Example: `  hallmark principal show fabrikam/station-1`,
		Args:    cobra.ExactArgs(1),
		RunE: e.onPrincipal(func(cmd *cobra.Command, c *client.Client, id string) error {
			p, err := c.GetPrincipal(cmd.Context(), id)
			if err != nil {
				return err
			}
			return e.showPrincipal(p)
		}),
	}
}

func (e *env) principalTokensCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tokens PRINCIPAL",
		Short: "List a principal's tokens with their state, expiry and last use",
		Long: `List a principal's bearer tokens, newest first: their state (active; overlap: superseded by a
rotation and working until it expires; expired; revoked), when they expire and when they were
last used. The tokens themselves are never shown again after they are made.

` + principalRef,
		Example: `  hallmark principal tokens fabrikam/station-1`,
		Args:    cobra.ExactArgs(1),
		RunE: e.onPrincipal(func(cmd *cobra.Command, c *client.Client, id string) error {
			ts, err := c.ListTokens(cmd.Context(), id)
			if err != nil {
				return err
			}
			ids := make([]string, len(ts))
			for i, t := range ts {
				ids[i] = t.ID
			}
			return e.emit(ts, ids, func(w io.Writer) { tokenTable(w, ts) })
		}),
	}
}

func (e *env) principalTokenCmd() *cobra.Command {
	token := &cobra.Command{
		Use:   "token",
		Short: "Rotate or revoke a principal's tokens",
		Long:  "Rotate a principal's token (a new one, with an overlap for the old) or revoke one at once.",
		Example: `  hallmark principal token rotate fabrikam/station-1 --overlap 24h
  hallmark principal token revoke fabrikam/station-1 tok_abc`,
	}
	token.AddCommand(e.principalTokenRotateCmd(), e.principalTokenRevokeCmd())
	return token
}

func (e *env) principalTokenRotateCmd() *cobra.Command {
	var rot api.RotateTokenRequest
	var tokenOut string
	rotate := &cobra.Command{
		Use:   "rotate PRINCIPAL",
		Short: "Give a principal a new token; its current tokens stop when the overlap ends",
		Long: `Make a new bearer token for a principal and print it once (only its SHA-256 is stored). The
principal's current tokens keep working for --overlap (default 0s: they stop at once), so that a
factory station can switch to the new token without a gap; then they stop on every replica.
The principal itself may rotate its own tokens; an administrator of its party may rotate anyone's
in the party.

--token-out writes the token to a file (mode 0600) instead of printing it. With -o id the
token's ID goes to stdout and the token to stderr; -o json includes it in the "token" member.

` + principalRef,
		Example: `  hallmark principal token rotate fabrikam/station-1 --overlap 24h --token-out station-1.token
  hallmark principal token rotate prn_123 --lifetime 720h -o json`,
		Args: cobra.ExactArgs(1),
		RunE: e.onPrincipal(func(cmd *cobra.Command, c *client.Client, id string) error {
			t, err := c.RotateToken(cmd.Context(), id, rot)
			if err != nil {
				return err
			}
			return e.emitToken(t, tokenOut)
		}),
	}
	rotate.Flags().StringVar(&rot.Overlap, "overlap", "", "how long the current tokens keep working beside the new one, e.g. 24h (default: they stop now)")
	rotate.Flags().StringVar(&rot.Lifetime, "lifetime", "", "the new token's lifetime, e.g. 720h (default: the deployment's maximum, 90 days unless configured; a deployment administrator under break-glass: at most and by default 72h)")
	rotate.Flags().StringVar(&tokenOut, "token-out", "", "write the new token to this file (mode 0600) instead of printing it")
	return rotate
}

func (e *env) principalTokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke PRINCIPAL TOKEN_ID",
		Short: "Revoke one token of a principal at once",
		Long: `Revoke one token (tok_…, from "hallmark principal tokens") at once: the next request that uses it
is refused, on every replica. The principal itself or an administrator of its party may. It is
refused when it would leave the party without an administrator that can sign in.

` + principalRef,
		Example: `  hallmark principal token revoke fabrikam/station-1 tok_abc`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.onPrincipal(func(cmd *cobra.Command, c *client.Client, id string) error {
				t, err := c.RevokeToken(cmd.Context(), id, args[1])
				if err != nil {
					return err
				}
				return e.emit(t, []string{t.ID}, func(w io.Writer) { tokenTable(w, []api.PrincipalToken{t}) })
			})(cmd, args[:1])
		},
	}
}

// principalStateCmd is a command that changes a principal's state with call and shows it.
func (e *env) principalStateCmd(use, short, long string, call func(ctx context.Context, c *client.Client, id string) (api.Principal, error)) *cobra.Command {
	return &cobra.Command{
		Use: use + " PRINCIPAL", Short: short, Long: long + "\n\n" + principalRef,
		Example: "  hallmark principal " + use + " fabrikam/station-0",
		Args:    cobra.ExactArgs(1),
		RunE: e.onPrincipal(func(cmd *cobra.Command, c *client.Client, id string) error {
			p, err := call(cmd.Context(), c, id)
			if err != nil {
				return err
			}
			return e.showPrincipal(p)
		}),
	}
}

func (e *env) principalDisableCmd() *cobra.Command {
	return e.principalStateCmd("disable", "Disable a principal: its tokens stop working at once",
		`Disable a principal: every request with any of its tokens is refused from now on, and its tokens
stay stored, so enabling it again restores them. An administrator of its party may, never the
principal itself; the party's last administrator that can sign in cannot be disabled.`,
		func(ctx context.Context, c *client.Client, id string) (api.Principal, error) {
			return c.DisablePrincipal(ctx, id)
		})
}

func (e *env) principalEnableCmd() *cobra.Command {
	return e.principalStateCmd("enable", "Enable a disabled principal again", "Enable a disabled principal: its tokens that have not expired work again.",
		func(ctx context.Context, c *client.Client, id string) (api.Principal, error) {
			return c.EnablePrincipal(ctx, id)
		})
}

func (e *env) principalDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete PRINCIPAL",
		Short: "Delete a principal with its tokens and duty limits",
		Long: `Delete a principal, its tokens and its duty limits. The audit log keeps what it did under its ID.
An administrator of its party may, never the principal itself; the party's last administrator
that can sign in cannot be deleted.

` + principalRef,
		Example: `  hallmark principal delete fabrikam/station-0`,
		Args:    cobra.ExactArgs(1),
		RunE: e.onPrincipal(func(cmd *cobra.Command, c *client.Client, id string) error {
			if err := c.DeletePrincipal(cmd.Context(), id); err != nil {
				return err
			}
			return e.emit(map[string]string{"deleted": id}, []string{id}, func(w io.Writer) { fmt.Fprintf(w, "deleted principal %s\n", id) })
		}),
	}
}

// emitToken prints a new token once, or writes it to file.
func (e *env) emitToken(t api.IssuedToken, file string) error {
	secret := t.Token
	if file != "" {
		if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
			return fmt.Errorf("writing the token to %s: %w", file, err)
		}
		t.Token = ""
	}
	if e.output == "id" && file == "" {
		fmt.Fprintf(e.stderr, "token %s (shown only this once; store it now): %s\n", t.ID, secret)
	}
	return e.emit(t, []string{t.ID}, func(w io.Writer) {
		tokenTable(w, []api.PrincipalToken{t.PrincipalToken})
		if file != "" {
			fmt.Fprintf(w, "\ntoken written to %s\n", file)
		} else {
			fmt.Fprintf(w, "\ntoken (shown only this once; store it now): %s\n", secret)
		}
	})
}

func principalView(w io.Writer, p api.Principal) {
	kv(w, "Principal", p.ID)
	kv(w, "Party", p.PartyID)
	kv(w, "Name", p.Name)
	kv(w, "Kind", p.Kind)
	kv(w, "Admin", p.Admin)
	kv(w, "Created", ts(p.CreatedAt))
	kv(w, "Created by", p.CreatedBy)
	if p.AccessID != "" {
		kv(w, "Break-glass", p.AccessID)
	}
	kv(w, "Disabled", tsp(p.DisabledAt))
	kv(w, "Last used", tsp(p.LastUsedAt))
}

func tokenTable(w io.Writer, toks []api.PrincipalToken) {
	row(w, "TOKEN", "STATE", "CREATED", "EXPIRES", "LAST USED", "REVOKED", "SUPERSEDED BY")
	for _, t := range toks {
		row(w, t.ID, t.State, ts(t.CreatedAt), tsp(t.ExpiresAt), tsp(t.LastUsedAt), tsp(t.RevokedAt), t.SupersededBy)
	}
}

// partyAccessCommand is "hallmark party access".
func (e *env) partyAccessCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "access",
		Short: "Break-glass access of a deployment administrator to a party's principals",
		Long: `A deployment administrator belongs to no party: it cannot act as one, read its devices or manage
its principals. When a party needs it to (its administrators are away, say), the deployment
administrator asks for access for a bounded window; an administrator of the party approves or
denies it; while it is open the deployment administrator may create and manage the party's
principals, and nothing else. Every principal of the party sees the requests. See
docs/governance.md, *Break-glass*.`,
		Example: `  hallmark party access request acme --reason "ticket 42: restore acme's administrator" --for 1h
  hallmark party access list acme
  hallmark party access approve acc_123 --comment "ok, until noon"
  hallmark party access end acc_123`,
	}
	cmd.AddCommand(e.accessRequestCmd(), e.accessListCmd(), e.accessDecideCmd("approve", true), e.accessDecideCmd("deny", false), e.accessEndCmd())
	return cmd
}

// emitAccess prints one break-glass request; names shows the requester by name.
func (e *env) emitAccess(a api.Access, names *principalNames) error {
	return e.emit(a, []string{a.ID}, func(w io.Writer) { accessTable(w, []api.Access{a}, names) })
}

func (e *env) accessRequestCmd() *cobra.Command {
	var req api.AccessRequest
	request := &cobra.Command{
		Use:     "request PARTY",
		Short:   "Ask for break-glass access to a party's principals (deployment administrators)",
		Long:    "Ask an administrator of PARTY for access to its principals for --for (1m to 24h, default 1h), which starts at approval.",
		Example: `  hallmark party access request acme --reason "ticket 42" --for 30m`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			a, err := c.RequestAccess(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return e.emitAccess(a, newPrincipalNames(cmd.Context(), c))
		},
	}
	request.Flags().StringVar(&req.Reason, "reason", "", "why: the party's administrators read it")
	request.Flags().StringVar(&req.Duration, "for", "", "the window asked for, 1m to 24h (default 1h)")
	required(request, "reason")
	return request
}

func (e *env) accessListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list PARTY",
		Short:   "List a party's break-glass requests",
		Long:    "List the break-glass requests concerning PARTY, newest first, with their state and window. BY is the requester's\nname where you may read it (its ID otherwise); -o json keeps the IDs.",
		Example: `  hallmark party access list acme`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			as, err := c.ListAccess(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ids := make([]string, len(as))
			for i, a := range as {
				ids[i] = a.ID
			}
			return e.emit(as, ids, func(w io.Writer) { accessTable(w, as, newPrincipalNames(cmd.Context(), c)) })
		},
	}
}

// accessDecideCmd approves (approve) or denies a pending break-glass request.
func (e *env) accessDecideCmd(use string, approve bool) *cobra.Command {
	var comment string
	c := &cobra.Command{
		Use:     use + " ACCESS_ID",
		Short:   strings.ToUpper(use[:1]) + use[1:] + " a pending break-glass request (an administrator of its party)",
		Long:    "Decide a pending break-glass request as an administrator of the party it concerns. Approval opens the window at once.",
		Example: "  hallmark party access " + use + " acc_123 --comment \"ticket 42\"",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			a, err := c.DecideAccess(cmd.Context(), args[0], api.AccessDecision{Approve: approve, Comment: comment})
			if err != nil {
				return err
			}
			return e.emitAccess(a, newPrincipalNames(cmd.Context(), c))
		},
	}
	c.Flags().StringVar(&comment, "comment", "", "a comment the requester and the party read")
	return c
}

func (e *env) accessEndCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "end ACCESS_ID",
		Short:   "Close an open break-glass window early",
		Long:    "Close an open break-glass window before its end: an administrator of the party or the requester may.",
		Example: `  hallmark party access end acc_123`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			a, err := c.EndAccess(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emitAccess(a, newPrincipalNames(cmd.Context(), c))
		},
	}
}

// accessTable shows each requester by name where the caller may read it (see principalNames).
func accessTable(w io.Writer, as []api.Access, names *principalNames) {
	row(w, "ID", "PARTY", "BY", "STATE", "FOR", "REQUESTED", "UNTIL", "REASON")
	for _, a := range as {
		row(w, a.ID, a.PartyID, names.name(a.PrincipalID), a.State, a.Duration, ts(a.RequestedAt), tsp(a.Until), a.Reason)
	}
}
