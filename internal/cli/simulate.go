package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/simulate"
)

func (e *env) simulateCommand() *cobra.Command {
	var dir string
	c := simulate.Config{}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Drive a fleet of virtual devices through a local dev server",
		Long: `Simulate a fleet against a running "hallmark serve --dev": the demo manufacturer defines a
lot delegated to its contract manufacturer, which issues every device a factory identity over
the REST API; the lot is handed to the operator in one custody transfer; every device onboards
over EST (simpleenroll, a new mTLS connection each) into the dev server's demo environment and
renews --renewals times (simplereenroll). A progress bar runs on stderr when stderr is a
terminal; into a file or a pipe it writes plain progress lines instead (one every 2 s and one
as each phase ends). The summary gives counts, rates, latency percentiles and refusals by
reason (-o json for scripts, with no progress output).

It only drives servers on loopback, and stops at --deadline.`,
		Example: `  hallmark simulate --devices 1000
  hallmark simulate --devices 5000 --concurrency 64 --renewals 2 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info, tokens, err := readDev(dir)
			if err != nil {
				return err
			}
			if info.ESTURL == "" {
				return failure.New(failure.Invalid, "%s/dev.json names no est_url: restart the dev server with this version", dir)
			}
			ca, err := os.ReadFile(info.TLSCAFile)
			if err != nil {
				return failure.Wrap(failure.NotFound, err, "the dev server's TLS CA")
			}
			c.APIURL, c.ESTURL, c.CAPEM, c.Tokens = info.APIURL, info.ESTURL, ca, tokens
			c.ServerPID = info.PID // server CPU per operation, when the server runs here
			if e.output == "table" {
				c.Progress, c.ProgressLines = e.stderr, !isTerminal(e.stderr)
			}
			sum, err := simulate.Run(cmd.Context(), c)
			if err != nil && len(sum.Phases) == 0 {
				return err
			}
			if werr := e.emit(sum, nil, func(w io.Writer) { printSummary(w, sum) }); werr != nil {
				return werr
			}
			if err != nil {
				return failure.Wrap(failure.Unavailable, err, "the simulation stopped early")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "data", "hallmark-data", "the dev server's data folder (for dev.json and tokens)")
	f.IntVar(&c.Devices, "devices", 100, "number of virtual devices")
	f.IntVar(&c.Concurrency, "concurrency", 16, "devices in flight at once")
	f.IntVar(&c.Renewals, "renewals", 1, "renewals per device after onboarding")
	f.IntVar(&c.RenewalConcurrency, "renewal-concurrency", 0, "devices renewing at once (a renewal storm); 0: --concurrency")
	f.DurationVar(&c.Deadline, "deadline", 30*time.Minute, "stop after this long")
	f.IntVar(&c.DatabasePID, "database-pid", 0, "PID of the database server's main process on this machine (PostgreSQL's postmaster): report its CPU per operation too, its backends included")
	return cmd
}

// isTerminal says whether w is a terminal: an *os.File that is a character device (a file or
// a pipe is not; /dev/null is, and a bar drawn there is lost harmlessly).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func printSummary(w io.Writer, s simulate.Summary) {
	fmt.Fprintf(w, "%d devices in %s\n\n", s.Devices, s.Elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tOK\tFAILED\tDEFERRED\tRATE/S\tP50\tP90\tP99\tMAX\tSERVER CPU-MS/OP\tDB CPU-MS/OP")
	msPerOp := func(d time.Duration, v float64) string {
		if d <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", v)
	}
	for _, p := range s.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.OK, p.Failed, p.Deferred, p.Rate(),
			p.Percentile(0.5).Round(10*time.Microsecond), p.Percentile(0.9).Round(10*time.Microsecond),
			p.Percentile(0.99).Round(10*time.Microsecond), p.Percentile(1).Round(10*time.Microsecond),
			msPerOp(p.ServerCPU, p.ServerCPUPerOp()), msPerOp(p.DatabaseCPU, p.DatabaseCPUPerOp()))
	}
	tw.Flush()
	if len(s.Refusals) == 0 {
		fmt.Fprintln(w, "\nno refusals")
		return
	}
	fmt.Fprintln(w, "\nrefusals by reason:")
	reasons := make([]string, 0, len(s.Refusals))
	for r := range s.Refusals {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return s.Refusals[reasons[i]] > s.Refusals[reasons[j]] })
	for _, r := range reasons {
		fmt.Fprintf(w, "  %6d  %s\n", s.Refusals[r], r)
	}
}
