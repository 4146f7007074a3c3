package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/internal/app"
	"github.com/hallmark-id/hallmark/internal/party"
)

func (e *env) serve(cmd *cobra.Command, o serveOptions) error {
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile() // on a clean stop (SIGINT/SIGTERM)
	}
	err := app.Serve(cmd.Context(), app.Options{Dev: o.Dev, DataDir: o.DataDir, DevPostgresEnv: o.DevPostgresEnv, Listen: o.Listen, ConfigFile: o.ConfigFile}, e.stdout, e.stderr)
	if o.MemProfile != "" {
		if perr := writeHeapProfile(o.MemProfile); perr != nil {
			fmt.Fprintf(e.stderr, "hallmark: writing the heap profile: %v\n", perr)
		}
	}
	return err
}

// writeHeapProfile writes what is live on the heap now (after a collection), for finding
// what a server holds on to.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// adminCommand holds the operations that work on the database directly, before any
// principal exists to call the API.
func (e *env) adminCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operations on a deployment's database that run before the API can be used",
	}
	var r app.BootstrapRequest
	var kind string
	boot := &cobra.Command{
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
	f := boot.Flags()
	f.StringVar(&r.ConfigFile, "config", "", "configuration file (JSON)")
	f.StringVar(&r.Party.ID, "party-id", "", "id of the first party (lowercase letters, digits, hyphens)")
	f.StringVar(&r.Party.Name, "party-name", "", "display name of the first party")
	f.StringVar(&kind, "party-kind", "operator", "kind of the first party")
	f.StringVar(&r.Principal, "principal", "admin", "name of the administrator principal")
	required(boot, "config", "party-id", "party-name")
	cmd.AddCommand(boot)
	return cmd
}
