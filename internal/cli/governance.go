package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
)

func (e *env) whoamiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the principal the token belongs to",
		Long:  "Whoami asks the server which principal (and party) the bearer token authenticates.",
		Example: `  hallmark whoami
  hallmark whoami -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			p, err := c.Whoami(cmd.Context())
			if err != nil {
				return err
			}
			return e.emit(p, []string{p.ID}, func(w io.Writer) {
				kv(w, "Principal", p.ID)
				kv(w, "Name", p.Name)
				kv(w, "Party", p.PartyID)
				kv(w, "Kind", p.Kind)
				kv(w, "Admin", p.Admin)
			})
		},
	}
}

func (e *env) partyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "party",
		Short: "Create and list parties (the organisations sharing a deployment)",
		Long:  "A party is an organisation: a manufacturer, contract manufacturer, distributor, integrator, operator, support vendor or auditor.",
		Example: `  hallmark party create --id acme --name "Acme Devices" --kind manufacturer
  hallmark party list`,
	}
	cmd.AddCommand(e.partyCreateCmd(), e.partyListCmd(), e.partyAccessCommand())                     // partyAccessCommand: principals.go
	cmd.AddCommand(e.partyRulesCmd(), e.partySetRuleCmd(), e.partyGroupsCmd(), e.partySetGroupCmd()) // changes.go
	return cmd
}

func (e *env) partyCreateCmd() *cobra.Command {
	var req api.CreatePartyRequest
	var kind string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a party (administrators only)",
		Long: "Create a party with the default ownership cells of its kind. --id is a slug chosen by you: " +
			"lowercase letters, digits and hyphens. --kind is one of " + kindList() + ".",
		Example: `  hallmark party create --id acme --name "Acme Devices" --kind manufacturer`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			req.Kind = kind
			p, err := c.CreateParty(cmd.Context(), req)
			if err != nil {
				return err
			}
			return e.emit(p, []string{p.ID}, func(w io.Writer) { partyTable(w, []api.Party{p}) })
		},
	}
	cmd.Flags().StringVar(&req.ID, "id", "", "party ID (a slug, e.g. acme)")
	cmd.Flags().StringVar(&req.Name, "name", "", "display name")
	cmd.Flags().StringVar(&kind, "kind", "", "party kind: "+kindList())
	required(cmd, "id", "name", "kind")
	return cmd
}

func (e *env) partyListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List parties",
		Long:    "List every party of the deployment.",
		Example: `  hallmark party list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ps, err := c.ListParties(cmd.Context())
			if err != nil {
				return err
			}
			ids := make([]string, len(ps))
			for i, p := range ps {
				ids[i] = p.ID
			}
			return e.emit(ps, ids, func(w io.Writer) { partyTable(w, ps) })
		},
	}
}

func kindList() string {
	s := make([]string, len(party.Kinds))
	for i, k := range party.Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func partyTable(w io.Writer, ps []api.Party) {
	row(w, "ID", "NAME", "KIND", "CREATED")
	for _, p := range ps {
		row(w, p.ID, p.Name, p.Kind, ts(p.CreatedAt))
	}
}

func (e *env) principalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "principal",
		Short: "Create and list principals (people and service accounts of a party); limit their duties",
		Long: `A principal acts for exactly one party and authenticates with a bearer token that expires. It
may do every duty its party owns, unless it is limited to some of them (for separation of
duties). A party's administrators create its principals, rotate and revoke their tokens, disable,
enable and delete them; a principal may rotate and revoke its own tokens. Deployment
administrators (party '*') belong to no party. See docs/governance.md.`,
		Example: `  hallmark principal create --party acme --name station-1 --kind service
  hallmark principal list --party acme
  hallmark principal set-duties prn_123 --duty operational/issue`,
	}
	cmd.AddCommand(e.principalCreateCmd(), e.principalListCmd())
	cmd.AddCommand(e.principalDutyCommands()...)
	cmd.AddCommand(e.principalLifeCommands()...) // principals.go
	return cmd
}

func (e *env) principalCreateCmd() *cobra.Command {
	var req api.CreatePrincipalRequest
	var kind string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a principal and print its token once (a party's administrators)",
		Long: `Create a principal of a party. The server returns its first bearer token this once and stores
only a hash of it: the token is printed here and can never be shown again, so store it now.
Every token expires (--token-lifetime, at most the deployment's maximum); rotate it with
"hallmark principal token rotate".

An administrator of the party creates its principals. A deployment administrator creates
deployment administrators (--party '*'), the first administrator (--admin) of a party that has
none that can sign in, and others only under an approved break-glass request ("hallmark party
access"). A token a deployment administrator mints for a party's principal is a hand-over
token, and so is one minted with a hand-over token (by this command or a rotation): it lives
at most 72h (--token-lifetime may shorten it), and "hallmark report gaps" lists it until the
party rotates it signed in ("hallmark login"), or as another administrator that holds no
hand-over token ("hallmark principal token rotate PARTY/NAME").

With -o id the principal's ID goes to stdout and the token to stderr; -o json includes it
in the "token" member.`,
		Example: `  hallmark principal create --party acme --name alice
  hallmark principal create --party acme --name station-1 --kind service -o json | jq -r .token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			req.Kind = kind
			p, err := c.CreatePrincipal(cmd.Context(), req)
			if err != nil {
				return err
			}
			if e.output == "id" {
				fmt.Fprintf(e.stderr, "token of %s (shown only this once; store it now): %s\n", p.ID, p.Token)
			}
			return e.emit(p, []string{p.ID}, func(w io.Writer) {
				principalTable(w, []api.Principal{p.Principal})
				fmt.Fprintf(w, "\ntoken (shown only this once; store it now): %s\n", p.Token)
			})
		},
	}
	cmd.Flags().StringVar(&req.PartyID, "party", "", "the party the principal acts for")
	cmd.Flags().StringVar(&req.Name, "name", "", "principal name (a slug, unique within the party)")
	cmd.Flags().StringVar(&kind, "kind", "person", "person or service")
	cmd.Flags().BoolVar(&req.Admin, "admin", false, "make the principal an administrator of its party (with --party '*': a deployment administrator)")
	cmd.Flags().StringVar(&req.TokenLifetime, "token-lifetime", "", "the first token's lifetime, e.g. 720h (default: the deployment's maximum, 90 days unless configured)")
	required(cmd, "party", "name")
	return cmd
}

func (e *env) principalListCmd() *cobra.Command {
	var partyID string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List a party's principals",
		Long:    "List the principals of a party. Tokens are never shown.",
		Example: `  hallmark principal list --party acme`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			ps, err := c.ListPrincipals(cmd.Context(), partyID)
			if err != nil {
				return err
			}
			ids := make([]string, len(ps))
			for i, p := range ps {
				ids[i] = p.ID
			}
			return e.emit(ps, ids, func(w io.Writer) { principalTable(w, ps) })
		},
	}
	cmd.Flags().StringVar(&partyID, "party", "", "party ID")
	required(cmd, "party")
	return cmd
}

func principalTable(w io.Writer, ps []api.Principal) {
	row(w, "ID", "PARTY", "NAME", "KIND", "ADMIN", "CREATED", "LAST USED")
	for _, p := range ps {
		row(w, p.ID, p.PartyID, p.Name, p.Kind, p.Admin, ts(p.CreatedAt), tsp(p.LastUsedAt))
	}
}

func (e *env) ownershipCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ownership",
		Short: "Show and edit the ownership matrix",
		Long: `The ownership matrix names, for every stage, duty and scope, the one party that owns it.
A scope without a cell of its own inherits from its parent (lot → model → manufacturer;
environment → operator).`,
		Example: `  hallmark ownership list
  hallmark ownership set --stage manufacturing --duty issue --scope lot:lot_123 --party cm-one`,
	}
	cmd.AddCommand(e.ownershipListCmd(), e.ownershipSetCmd())
	return cmd
}

func (e *env) ownershipListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the cells of the ownership matrix",
		Long:  "List every cell: stage, duty, scope and owning party. -o id prints STAGE/DUTY/SCOPE keys.",
		Example: `  hallmark ownership list
  hallmark ownership list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			cells, err := c.ListOwnership(cmd.Context())
			if err != nil {
				return err
			}
			ids := make([]string, len(cells))
			for i, cl := range cells {
				ids[i] = cellKey(cl)
			}
			return e.emit(cells, ids, func(w io.Writer) { cellTable(w, cells) })
		},
	}
}

func (e *env) ownershipSetCmd() *cobra.Command {
	var stage, duty, scope, owner string
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set the owner of one cell",
		Long: `Set the party that owns a duty in a stage over a scope. --scope is KIND:ID where KIND is
deployment, manufacturer, model, lot, operator or environment (deployment:* for the whole
deployment). The caller must be an administrator or own the cell being changed.`,
		Example: `  hallmark ownership set --stage manufacturing --duty issue --scope lot:lot_123 --party cm-one
  hallmark ownership set --stage manufacturing --duty audit --scope deployment:* --party auditco`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cell, err := parseCell(stage, duty, scope, owner)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			out, err := c.SetOwnership(cmd.Context(), cell)
			if err != nil {
				return err
			}
			return e.emit(out, []string{cellKey(out)}, func(w io.Writer) { cellTable(w, []api.Cell{out}) })
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "manufacturing, operational or support")
	cmd.Flags().StringVar(&duty, "duty", "", "issue, renew, revoke, audit or approve")
	cmd.Flags().StringVar(&scope, "scope", "", "KIND:ID, e.g. lot:lot_123 or deployment:*")
	cmd.Flags().StringVar(&owner, "party", "", "the party that will own the cell")
	required(cmd, "stage", "duty", "scope", "party")
	return cmd
}

func parseCell(stage, duty, scope, owner string) (api.Cell, error) {
	st, err := ownership.ParseStage(stage)
	if err != nil {
		return api.Cell{}, usagef("--stage: %v", err)
	}
	du, err := ownership.ParseDuty(duty)
	if err != nil {
		return api.Cell{}, usagef("--duty: %v", err)
	}
	kind, id, ok := strings.Cut(scope, ":")
	if !ok || id == "" {
		return api.Cell{}, usagef("--scope %q must be KIND:ID, e.g. lot:lot_123 or deployment:*", scope)
	}
	sk, err := ownership.ParseScopeKind(kind)
	if err != nil {
		return api.Cell{}, usagef("--scope: %v", err)
	}
	return api.Cell{Stage: string(st), Duty: string(du), Scope: api.Scope{Kind: string(sk), ID: id}, PartyID: owner}, nil
}

func cellKey(c api.Cell) string {
	return c.Stage + "/" + c.Duty + "/" + scopeText(c.Scope)
}

// scopeText writes a scope as KIND:ID, as --scope takes it.
func scopeText(s api.Scope) string { return s.Kind + ":" + s.ID }

// pairText writes a pair as stage/duty, as --duty takes it.
func pairText(p api.Pair) string { return p.Stage + "/" + p.Duty }

func cellTable(w io.Writer, cells []api.Cell) {
	row(w, "STAGE", "DUTY", "SCOPE", "OWNER")
	for _, c := range cells {
		row(w, c.Stage, c.Duty, scopeText(c.Scope), c.PartyID)
	}
}
