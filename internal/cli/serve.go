package cli

import (
	"github.com/spf13/cobra"
)

// serveOptions are app.Options; serve_app.go passes them on.
type serveOptions struct {
	Dev                         bool
	DataDir, Listen, ConfigFile string
	CPUProfile                  string
}

func (e *env) serveCommand() *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Hallmark server",
		Long: `Run the REST API (/v1) and the protocol endpoints until interrupted.

With --dev, start a local demo on an embedded database in --data (default ./hallmark-data):
demo parties with their CAs, one token per principal in DATA/tokens.json, an HTTPS listener
with its own CA (DATA/tls/ca.pem), and DATA/dev.json naming what scripts need. Port 0 picks
a free port. A second start on the same folder reuses what is there.

Without --dev, --config names the strict JSON configuration.`,
		Example: `  hallmark serve --dev
  hallmark serve --dev --data /tmp/hm --listen 127.0.0.1:0
  hallmark serve --config /etc/hallmark/config.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !opts.Dev && opts.ConfigFile == "" {
				return usagef("give --config FILE, or --dev for a local demo")
			}
			return e.serve(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Dev, "dev", false, "run the local demo on an embedded database")
	f.StringVar(&opts.DataDir, "data", "", "dev data folder (default ./hallmark-data)")
	f.StringVar(&opts.Listen, "listen", "", "API listen address HOST:PORT (port 0 picks a free port)")
	f.StringVar(&opts.ConfigFile, "config", "", "configuration file (JSON)")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for BENCHMARKS.md)")
	cmd.MarkFlagsMutuallyExclusive("dev", "config")
	return cmd
}
