package cli

import (
	"context"
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
	if o.MemProfile == "" {
		return app.Serve(cmd.Context(), opts, e.stdout, e.stderr)
	}
	// The heap profile is written when the stop is asked for and before the server tears
	// down, so that it shows what the running server held; written after, it showed an
	// emptied heap. Serve stops only once it is written.
	ctx, stop := context.WithCancel(context.WithoutCancel(cmd.Context()))
	defer stop()
	served, written := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(written)
		select {
		case <-cmd.Context().Done():
		case <-served:
		}
		if perr := writeHeapProfile(o.MemProfile); perr != nil {
			fmt.Fprintf(e.stderr, "hallmark: writing the heap profile: %v\n", perr)
		}
		stop()
	}()
	err := app.Serve(ctx, opts, e.stdout, e.stderr)
	close(served)
	<-written
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
