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
		Short: "Create the first party and its deployment administrator",
		Long: `Create the first party of a new deployment and a deployment administrator in it, and
print the administrator's bearer token once (only its SHA-256 is stored). It reads the same
configuration file as 'hallmark serve --config' and opens the database directly, so run it
before the first start or with the server stopped. It refuses a deployment that already has
parties: from then on administrators create parties and principals through the API.`,
		Example: `  hallmark admin bootstrap --config /etc/hallmark/config.json \
    --party-id ops --party-name "Example Ops" --party-kind operator --principal admin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := party.ParseKind(kind)
			if err != nil {
				return err
			}
			r.Party.Kind = k
			token, err := app.Bootstrap(cmd.Context(), r)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "created party %s and administrator %s/%s; the token below is shown once\n", r.Party.ID, r.Party.ID, r.Principal)
			fmt.Fprintln(e.stdout, token)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.ConfigFile, "config", "", "configuration file (JSON)")
	f.StringVar(&r.Party.ID, "party-id", "", "id of the first party (lowercase letters, digits, hyphens)")
	f.StringVar(&r.Party.Name, "party-name", "", "display name of the first party")
	f.StringVar(&kind, "party-kind", "operator", "kind of the first party")
	f.StringVar(&r.Principal, "principal", "admin", "name of the administrator principal")
	required(cmd, "config", "party-id", "party-name")
	return cmd
}
