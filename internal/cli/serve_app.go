package cli

import (
	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/internal/app"
)

func (e *env) serve(cmd *cobra.Command, o serveOptions) error {
	return app.Serve(cmd.Context(), app.Options{Dev: o.Dev, DataDir: o.DataDir, Listen: o.Listen, ConfigFile: o.ConfigFile}, e.stdout, e.stderr)
}
