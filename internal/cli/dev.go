package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// devInfo is the part of DIR/dev.json (written by "hallmark serve --dev") that dev env reads.
type devInfo struct {
	APIURL    string `json:"api_url"`
	TLSCAFile string `json:"tls_ca_file"`
	TokenFile string `json:"token_file"`
	ESTURL    string `json:"est_url"`
	PID       int    `json:"pid"` // the server process, for simulate's CPU figures
}

func (e *env) devCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dev",
		Short:   "Helpers for a local dev server",
		Long:    `Helpers for the demo server that "hallmark serve --dev" runs.`,
		Example: `  eval "$(hallmark dev env --as acme/alice)"`,
	}
	cmd.AddCommand(e.devEnvCmd())
	return cmd
}

func (e *env) devEnvCmd() *cobra.Command {
	var dir, as string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print shell exports to act as a dev principal",
		Long: `Read DIR/dev.json and the token file a dev server wrote, and print export lines for
HALLMARK_SERVER, HALLMARK_TOKEN and HALLMARK_CACERT (and HALLMARK_EST, the EST base URL, for
commands acting as devices), to be evaluated by the shell. The token is
a secret: this prints it because you asked for it with --as. Without --as, list the principals
that have tokens.`,
		Example: `  eval "$(hallmark dev env --data ./hallmark-data --as acme/alice)"
  hallmark dev env`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info, tokens, err := readDev(dir)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(tokens))
			for n := range tokens {
				names = append(names, n)
			}
			slices.Sort(names)
			if as == "" {
				return e.emit(names, names, func(w io.Writer) {
					fmt.Fprintf(w, "principals of the dev server at %s (use one with --as):\n", info.APIURL)
					for _, n := range names {
						fmt.Fprintf(w, "  %s\n", n)
					}
				})
			}
			tok, ok := tokens[as]
			if !ok {
				return failureNotFound("no token for %q in %s; the dev principals are: %s", as, dir, strings.Join(names, ", "))
			}
			vars := map[string]string{EnvServer: info.APIURL, EnvToken: tok, EnvCACert: info.TLSCAFile}
			keys := []string{EnvServer, EnvToken, EnvCACert}
			if info.ESTURL != "" {
				// For scripts acting as devices (hallmark agent, curl); the CLI does not read it.
				vars["HALLMARK_EST"] = info.ESTURL
				keys = append(keys, "HALLMARK_EST")
			}
			return e.emit(vars, []string{as}, func(w io.Writer) {
				for _, k := range keys {
					fmt.Fprintf(w, "export %s=%s\n", k, shellQuote(vars[k]))
				}
			})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "hallmark-data", "the dev server's data folder")
	cmd.Flags().StringVar(&as, "as", "", "the principal to act as, PARTY/PRINCIPAL (e.g. acme/alice), or admin for the deployment administrator")
	return cmd
}

func readDev(dir string) (devInfo, map[string]string, error) {
	var info devInfo
	b, err := os.ReadFile(filepath.Join(dir, "dev.json"))
	if err != nil {
		return info, nil, failureNotFound("reading the dev server's dev.json (is --data right, and was \"hallmark serve --dev\" started?): %v", err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, nil, invalidf("%s: %v", filepath.Join(dir, "dev.json"), err)
	}
	if info.APIURL == "" {
		return info, nil, invalidf("%s names no api_url", filepath.Join(dir, "dev.json"))
	}
	tf := info.TokenFile
	if tf == "" {
		tf = filepath.Join(dir, "tokens.json")
	} else if !filepath.IsAbs(tf) {
		tf = filepath.Join(dir, tf)
	}
	if info.TLSCAFile != "" && !filepath.IsAbs(info.TLSCAFile) {
		info.TLSCAFile = filepath.Join(dir, info.TLSCAFile)
	}
	tb, err := os.ReadFile(tf)
	if err != nil {
		return info, nil, failureNotFound("reading the dev token file: %v", err)
	}
	var tokens map[string]string
	if err := json.Unmarshal(tb, &tokens); err != nil {
		return info, nil, invalidf("%s: %v", tf, err)
	}
	return info, tokens, nil
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
