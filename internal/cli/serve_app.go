package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/internal/app"
	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/failure"
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
	opts := app.Options{Dev: o.Dev, DataDir: o.DataDir, DevPostgresEnv: o.DevPostgresEnv, Listen: o.Listen, ConfigFile: o.ConfigFile, TuneGC: true}
	if o.DevBRSKI != "" {
		b, err := config.LoadDevBRSKI(o.DevBRSKI)
		if err != nil {
			return failure.Wrap(failure.Invalid, err, "--dev-brski")
		}
		opts.BRSKI = b
	}
	err := app.Serve(cmd.Context(), opts, e.stdout, e.stderr)
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
