// Package cli is the hallmark command: `hallmark serve` runs the server, and every other
// subcommand is a client of its REST API.
//
// Output: tables for people, -o json for scripts, -o id for the IDs alone (one a line, for
// shell variables). Errors go to stderr as "hallmark: <message>" and the exit code says what
// kind of failure it was (see the Exit constants). Secrets are printed only by the commands
// that create or are asked for them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitInternal    = 1 // an unexpected or unclassified failure
	ExitUsage       = 2 // bad command line: unknown command or flag, missing or malformed value
	ExitInvalid     = 3 // the input was refused as invalid (or too large)
	ExitNotFound    = 4
	ExitConflict    = 5
	ExitDenied      = 6 // denied, or not authenticated
	ExitUnavailable = 7 // the server could not be reached or is unavailable
	ExitNotAllowed  = 8 // a check answered "not allowed" (hallmark support check)
	ExitUntrusted   = 9 // the server's TLS certificate is not trusted (give its CA with --cacert)
)

// Environment variables read when the matching flag is not given.
const (
	EnvServer = "HALLMARK_SERVER"
	EnvToken  = "HALLMARK_TOKEN"
	EnvCACert = "HALLMARK_CACERT"
)

// Run runs the hallmark command with args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	root := e.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if p, ok := pendingOf(err); ok { // a governed change waits for approval: not a failure
		return e.emitPending(p.Approval)
	}
	if !e.started {
		err = &usageError{err: err}
	}
	return e.report(cmd, err)
}

// env is the state of one run: where output goes and the global flags.
type env struct {
	stdout, stderr io.Writer
	server, token  string
	cacert, output string
	timeout        time.Duration
	started        bool // a RunE started: cobra accepted the command line, so errors are not usage errors
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "hallmark",
		Short: "Hallmark is a device identity authority: a CA for device fleets",
		Long: `Hallmark issues and tracks device identities from the factory to the field.

"hallmark serve" runs the server. Every other command is a client of its REST API: give the
server with --server (or HALLMARK_SERVER), a bearer token with --token (or HALLMARK_TOKEN) and,
for a server whose certificate is not publicly trusted, its CA with --cacert (or HALLMARK_CACERT).
Against a dev server, "eval $(hallmark dev env --as acme/alice)" sets all three.

Output is a table by default; -o json prints JSON for scripts and -o id prints only the IDs of
what was created or listed, one a line.

Exit codes: 0 ok, 1 internal or unknown error, 2 usage (bad command line), 3 invalid input,
4 not found, 5 conflict, 6 denied or not authenticated, 7 server unavailable, 8 not allowed
(a check such as "hallmark support check" answered no), 9 the server's TLS certificate is not
trusted (give the CA that signed it with --cacert or HALLMARK_CACERT).`,
		Example: `  eval "$(hallmark dev env --as acme/alice)"
  hallmark whoami
  LOT=$(hallmark lot create --model mdl_123 --name lot-7 --issuing-ca ca_456 -o id)`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error { return e.checkGlobalFlags() },
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{err: err} })
	e.addGlobalFlags(root)

	root.AddCommand(
		e.serveCommand(),
		e.adminCommand(),
		e.agentCommand(),
		e.simulateCommand(),
		e.whoamiCommand(),
		e.loginCommand(), e.logoutCommand(),
		e.partyCommand(),
		e.principalCommand(),
		e.ownershipCommand(),
		e.caCommand(),
		e.ceremonyCommand(),
		e.anchorCommand(),
		e.makerCommand(),
		e.voucherCommand(),
		e.modelCommand(),
		e.lotCommand(),
		e.factoryCommand(),
		e.deviceCommand(),
		e.revocationCommand(),
		e.approvalCommand(),
		e.sodCommand(),
		e.supportCommand(),
		e.operationalCommand(),
		e.envCommand(),
		e.waiverCommand(), // changes.go
		e.buildRecordCommand(),
		e.transferCommand(),
		e.auditCommand(),
		e.reportCommand(),
		e.devCommand(),
		e.docsCommand(),
		e.versionCommand(),
	)
	e.markStart(root)
	return root
}

// addGlobalFlags adds the flags every command takes.
func (e *env) addGlobalFlags(root *cobra.Command) {
	pf := root.PersistentFlags()
	pf.StringVar(&e.server, "server", "", "server URL, e.g. https://127.0.0.1:8443 (default $"+EnvServer+")")
	pf.StringVar(&e.token, "token", "", "bearer token (default $"+EnvToken+")")
	pf.StringVar(&e.cacert, "cacert", "", "PEM file of the CA that signed the server's TLS certificate (default $"+EnvCACert+")")
	pf.StringVarP(&e.output, "output", "o", "table", "output format: table, json or id")
	pf.DurationVar(&e.timeout, "timeout", client.DefaultTimeout, "longest wait for one request to the server (whole-fleet reports on a large fleet can need minutes)")
}

// checkGlobalFlags refuses a malformed --output or --timeout before any command runs.
func (e *env) checkGlobalFlags() error {
	switch e.output {
	case "table", "json", "id":
	default:
		return usagef("--output must be table, json or id, not %q", e.output)
	}
	if e.timeout <= 0 {
		return usagef("--timeout must be positive, not %s", e.timeout)
	}
	return nil
}

// markStart wraps every RunE so that errors before it (cobra's checks of flags, arguments,
// required flags and flag groups, and PersistentPreRunE) count as usage errors.
//
// A command group (a command with subcommands only) prints its help, and refuses an unknown
// subcommand as a usage error, which cobra itself does only for the root.
func (e *env) markStart(c *cobra.Command) {
	if c.RunE == nil && c.Run == nil && c.HasSubCommands() {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	}
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			e.started = true
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		e.markStart(sub)
	}
}

// client builds an API client from the global flags and the environment.
func (e *env) client() (*client.Client, error) {
	server := firstNonEmpty(e.server, os.Getenv(EnvServer))
	if server == "" {
		return nil, usagef("no server: give --server or set %s (for a dev server: eval \"$(hallmark dev env --as PARTY/PRINCIPAL)\")", EnvServer)
	}
	var opts []client.Option
	if ca := firstNonEmpty(e.cacert, os.Getenv(EnvCACert)); ca != "" {
		opts = append(opts, client.WithCAFile(ca))
	}
	opts = append(opts, client.WithUserAgent("hallmark-cli"), client.WithTimeout(e.timeout))
	token := firstNonEmpty(e.token, os.Getenv(EnvToken))
	if s, ok := loadSession(server); ok && token == "" { // hallmark login (login.go)
		token = s.Token
	}
	c, err := client.New(server, token, opts...)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return c, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// usageError is a bad command line: exit code 2.
type usageError struct{ err error }

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitCode maps an error to the exit code of its kind.
func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	if isNotAllowed(err) {
		return ExitNotAllowed
	}
	if errors.Is(err, client.ErrUntrustedServer) {
		return ExitUntrusted
	}
	switch failure.KindOf(err) {
	case failure.Invalid, failure.TooLarge:
		return ExitInvalid
	case failure.NotFound:
		return ExitNotFound
	case failure.Conflict:
		return ExitConflict
	case failure.Denied, failure.Unauthenticated:
		return ExitDenied
	case failure.Unavailable:
		return ExitUnavailable
	}
	return ExitInternal
}

// report prints err on stderr and returns its exit code.
func (e *env) report(cmd *cobra.Command, err error) int {
	code := exitCode(err)
	fmt.Fprintf(e.stderr, "hallmark: %v\n", err)
	var p *api.Problem
	if errors.As(err, &p) && p.NotOwner() {
		fmt.Fprintf(e.stderr, "  refused by the ownership matrix: stage %s, duty %s, scope %s is owned by %s\n",
			orDash(p.Stage), orDash(p.Duty), orDash(p.Scope), orDash(p.Owner))
	}
	if code == ExitDenied && failure.KindOf(err) == failure.Unauthenticated {
		fmt.Fprintf(e.stderr, "  give a token with --token or %s\n", EnvToken)
	}
	if code == ExitUsage && cmd != nil {
		fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func invalidf(format string, args ...any) error {
	return failure.New(failure.Invalid, format, args...)
}

// required marks flags as required; cobra then refuses the command line without them.
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.MarkFlagRequired(n); err != nil {
			panic("cli: " + err.Error()) // a flag name typo is a programming error
		}
	}
}

// exactArgs is cobra.ExactArgs with a message that names the arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s) (%s), got %d", cmd.CommandPath(), n, strings.TrimPrefix(cmd.Use, cmd.Name()+" "), len(args))
		}
		return nil
	}
}

func failureNotFound(format string, args ...any) error {
	return failure.New(failure.NotFound, format, args...)
}
