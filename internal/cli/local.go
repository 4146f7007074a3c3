package cli

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func (e *env) docsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "docs",
		Short:   "Generate documentation",
		Long:    "Generate reference documentation from the commands themselves.",
		Example: `  hallmark docs cli --out docs/cli`,
	}
	cmd.AddCommand(e.docsCLICmd())
	return cmd
}

func (e *env) docsCLICmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "cli",
		Short: "Generate the Markdown reference of every command",
		Long: `Write one Markdown page per command into --out (docs/cli in the repository). The pages are
generated from the code; a test fails when the committed ones are stale.`,
		Example: `  hallmark docs cli --out docs/cli`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("docs: %w", err)
			}
			if err := doc.GenMarkdownTree(cmd.Root(), out); err != nil {
				return fmt.Errorf("docs: %w", err)
			}
			if e.output == "table" {
				fmt.Fprintf(e.stdout, "wrote the command reference to %s\n", out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "docs/cli", "folder to write the pages into")
	return cmd
}

func (e *env) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Long:    "Print hallmark's version, the source revision it was built from and the Go version.",
		Example: `  hallmark version -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			return e.emit(v, []string{v.Version}, func(w io.Writer) {
				fmt.Fprintf(w, "hallmark %s", v.Version)
				if v.Revision != "" {
					fmt.Fprintf(w, " (%s", v.Revision)
					if v.Modified {
						fmt.Fprint(w, ", modified")
					}
					fmt.Fprint(w, ")")
				}
				fmt.Fprintf(w, " %s %s\n", v.Go, v.Platform)
			})
		},
	}
}

type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}
