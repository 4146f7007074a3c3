package cli

import (
	"github.com/spf13/cobra"
)

// serveOptions are app.Options; serve_app.go passes them on.
type serveOptions struct {
	Dev                         bool
	DataDir, Listen, ConfigFile string
	DevPostgresEnv              string
	CPUProfile, MemProfile      string
	DevBRSKI                    string
}

func (e *env) serveCommand() *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Hallmark server",
		Long: `Run the REST API (/v1) and the protocol endpoints until interrupted.

With --dev, start a local demo on an embedded database in --data (default ./hallmark-data):
demo parties with their CAs, one token per principal in DATA/tokens.json, an HTTPS listener
with its own CA (DATA/tls/ca.pem), revocation status (OCSP, CRLs, CA certificates) over plain
HTTP on 127.0.0.1:8480, Prometheus metrics over plain HTTP on 127.0.0.1 (a free port), and
DATA/dev.json naming what scripts need. Port 0 picks a free port. A second start
on the same folder reuses what is there. With --dev-postgres-env NAME the demo keeps its
data in the PostgreSQL database whose URL is in the environment variable NAME instead (the
keys, tokens and TLS files stay in --data); the load generator uses it to measure the
PostgreSQL store over HTTPS. Once its API and EST listeners complete TLS handshakes it prints
one line starting "hallmark dev server ready:" that names the API, EST and console URLs. Its
console (stderr) leaves out the copy of each audit event that a deployment logs at INFO: under
--dev those records are DEBUG; read the audit log with "hallmark audit".

With --dev-brski FILE the demo also serves BRSKI (docs/brski.md): FILE holds what the "brski"
section of a configuration holds; a MASA without certificate_file and key gets a dev MASA
certificate in DATA/brski/masa.pem, and a MASA without url names the demo's API.

Without --dev, --config names the strict JSON configuration; its "metrics" section turns on
the metrics listener, its "status" section the plain-HTTP status listener.`,
		Example: `  hallmark serve --dev
  hallmark serve --dev --data /tmp/hm --listen 127.0.0.1:0
  HM_PG=postgres://hallmark@127.0.0.1/hallmark hallmark serve --dev --dev-postgres-env HM_PG
  hallmark serve --config /etc/hallmark/config.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !opts.Dev && opts.ConfigFile == "" {
				return usagef("give --config FILE, or --dev for a local demo")
			}
			if opts.DevBRSKI != "" && !opts.Dev {
				return usagef("--dev-brski is for --dev; a deployment has a \"brski\" section in --config")
			}
			if opts.DevPostgresEnv != "" && !opts.Dev {
				return usagef("--dev-postgres-env is for --dev; a deployment names its database in --config")
			}
			return e.serve(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Dev, "dev", false, "run the local demo on an embedded database")
	f.StringVar(&opts.DataDir, "data", "", "dev data folder (default ./hallmark-data)")
	f.StringVar(&opts.Listen, "listen", "", "API listen address HOST:PORT (port 0 picks a free port)")
	f.StringVar(&opts.ConfigFile, "config", "", "configuration file (JSON)")
	f.StringVar(&opts.DevPostgresEnv, "dev-postgres-env", "", "with --dev: keep the demo's data in the PostgreSQL database whose URL is in this environment variable")
	f.StringVar(&opts.DevBRSKI, "dev-brski", "", "with --dev: a JSON file holding a \"brski\" section (docs/brski.md): a MASA, a registrar, or both")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for BENCHMARKS.md)")
	f.StringVar(&opts.MemProfile, "memprofile", "", "on a clean stop, write a profile of what is live on the heap to this file")
	cmd.MarkFlagsMutuallyExclusive("dev", "config")
	return cmd
}
