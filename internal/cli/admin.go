package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/internal/app"
	"github.com/hallmark-id/hallmark/internal/party"
)

// adminCommand holds the operations that work on the database directly, before any
// principal exists to call the API.
func (e *env) adminCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operations on a deployment's database that run before the API can be used",
	}
	cmd.AddCommand(e.adminBootstrapCmd())
	return cmd
}

func (e *env) adminBootstrapCmd() *cobra.Command {
	var r app.BootstrapRequest
	var kind string
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create a deployment administrator (and the first party)",
		Long: `Create a deployment administrator, and, with --party-id, the first party (with no principals:
the deployment administrator then creates its first administrator with "hallmark principal
create --party ID --name admin --admin"), and print the administrator's bearer token once
(only its SHA-256 is stored; it expires after principals.token_lifetime). A deployment
administrator belongs to no party: it creates parties and their first administrators and sets
deployment-wide settings, and never acts as a party (docs/governance.md).

It reads the same configuration file as 'hallmark serve --config' and opens the database
directly, so run it before the first start or with the server stopped. It refuses while a
deployment administrator holds a valid token, so it also recovers a deployment whose deployment
administrators all lost their tokens.`,
		Example: `  hallmark admin bootstrap --config /etc/hallmark/config.json \
    --party-id ops --party-name "Example Ops" --party-kind operator --principal root`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if r.Party.ID != "" {
				k, err := party.ParseKind(kind)
				if err != nil {
					return err
				}
				r.Party.Kind = k
			}
			token, err := app.Bootstrap(cmd.Context(), r)
			if err != nil {
				return err
			}
			if r.Party.ID != "" {
				fmt.Fprintf(e.stderr, "party %s exists; ", r.Party.ID)
			}
			fmt.Fprintf(e.stderr, "created deployment administrator %s; the token below is shown once\n", r.Principal)
			fmt.Fprintln(e.stdout, token)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.ConfigFile, "config", "", "configuration file (JSON)")
	f.StringVar(&r.Party.ID, "party-id", "", "id of the first party, created unless it exists (lowercase letters, digits, hyphens)")
	f.StringVar(&r.Party.Name, "party-name", "", "display name of the first party")
	f.StringVar(&kind, "party-kind", "operator", "kind of the first party")
	f.StringVar(&r.Principal, "principal", "admin", "name of the deployment administrator")
	required(cmd, "config")
	return cmd
}
