package cli

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/reports"
)

// reportCommand is "hallmark report": the security reports of /v1/reports.
func (e *env) reportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Security reports: summary, inventory, rotation, expiring, drift, standards",
		Long: `Security reports computed live from this deployment. Auditors see the whole deployment; a
deployment administrator sees no device, only Hallmark's own credentials (report rotation
--credentials, report ca-expiry) and the standards counts; any other party sees the devices it made or holds, and their operational stage
(rotation, expiring, drift, the inventory's operational columns) only in environments it
operates. A share with nothing to count prints as "no data". Every report prints as a table, as
JSON (-o json) or as CSV (--csv); -o id prints the first column. With --signed a report prints
as evidence: a DSSE envelope signed with the audit checkpoint key that names the audit
checkpoint the report was computed at; "hallmark report verify" checks it offline (the
inventory signs its first page of 1000 devices).`,
		Example: `  hallmark report summary
  hallmark report inventory --csv > inventory.csv
  hallmark report rotation
  hallmark report rotation --since 30d --every 1d --csv
  hallmark report expiring --within 24h -o json
  hallmark report drift --policy
  hallmark report standards
  hallmark report summary --signed > summary.dsse.json && hallmark report verify --file summary.dsse.json --key audit.vkey`,
	}
	cmd.AddCommand(e.reportSummary(), e.reportInventory(), e.reportRotation(), e.reportExpiring(), e.reportDrift(), e.reportStandards(), e.reportGaps())
	cmd.AddCommand(e.reportCAExpiry()) // rotation.go
	cmd.AddCommand(e.reportRefusals())
	cmd.AddCommand(e.reportVerify()) // signed_reports.go
	return cmd
}

// emitRows prints a report: JSON of v, CSV or a table of header and rows, or the first column.
func (e *env) emitRows(v any, asCSV bool, header []string, rows [][]string) error {
	if asCSV {
		w := csv.NewWriter(e.stdout)
		_ = w.Write(header)
		_ = w.WriteAll(rows) // WriteAll flushes
		return w.Error()
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r[0]
	}
	return e.emit(v, ids, func(w io.Writer) {
		cells := make([]any, len(header))
		for i, h := range header {
			cells[i] = h
		}
		row(w, cells...)
		for _, r := range rows {
			for i, c := range r {
				cells[i] = c
			}
			row(w, cells...)
		}
	})
}

func certCells(c *api.CertSummary) []string {
	if c == nil {
		return []string{"", "", ""}
	}
	return []string{certSerial(c.Serial), string(c.State), ts(c.NotAfter)}
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

// shareOf is a compliance share as a percentage, or "no data" when nothing was counted: a
// share of no active identities is not 100% compliance.
func shareOf(active int, share float64) string {
	if active == 0 {
		return "no data"
	}
	return pct(share)
}

func dur(d api.Duration) string { return time.Duration(d).String() }

func (e *env) reportInventory() *cobra.Command {
	var asCSV, signed bool
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Every device with its factory and operational identity",
		Long: `List every device you may see with both identity stages: the factory certificate's serial,
state and end, the operational certificate's serial, state and end, its environment, custodian
and device state. Follows the server's pages to the end.`,
		Example: `  hallmark report inventory --csv > inventory.csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if signed {
				return e.printSigned(cmd.Context(), c, "inventory")
			}
			items, err := c.ReportInventoryAll(cmd.Context())
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(items))
			for _, it := range items {
				r := []string{it.DeviceID, it.Serial, string(it.State), it.CustodianID, it.EnvironmentID}
				r = append(r, certCells(it.Factory)...)
				rows = append(rows, append(r, certCells(it.Operational)...))
			}
			return e.emitRows(items, asCSV, []string{"DEVICE", "SERIAL", "STATE", "CUSTODIAN", "ENVIRONMENT",
				"FACTORY_SERIAL", "FACTORY_STATE", "FACTORY_NOT_AFTER", "OPERATIONAL_SERIAL", "OPERATIONAL_STATE", "OPERATIONAL_NOT_AFTER"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	signedFlag(cmd, &signed)
	return cmd
}

func (e *env) reportSummary() *cobra.Command {
	var asCSV, signed bool
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Device counts by state, rotation compliance and certificates expiring within a day",
		Long: `Count the devices you may see by state, the active operational identities renewed within
their environment's max_age, and the operational certificates that end within 24 hours.`,
		Example: `  hallmark report summary -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if signed {
				return e.printSigned(cmd.Context(), c, "summary")
			}
			r, err := c.ReportSummary(cmd.Context())
			if err != nil {
				return err
			}
			rows := [][]string{{"devices", strconv.Itoa(r.Devices)}}
			states := make([]string, 0, len(r.ByState))
			for st := range r.ByState {
				states = append(states, st)
			}
			sort.Strings(states)
			for _, st := range states {
				rows = append(rows, []string{"state:" + st, strconv.Itoa(r.ByState[st])})
			}
			rows = append(rows, []string{"active", strconv.Itoa(r.Active)}, []string{"compliant", strconv.Itoa(r.Compliant)},
				[]string{"share", shareOf(r.Active, r.Share)}, []string{"expiring_24h", strconv.Itoa(r.Expiring24h)})
			return e.emitRows(r, asCSV, []string{"METRIC", "VALUE"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	signedFlag(cmd, &signed)
	return cmd
}

func (e *env) reportRotation() *cobra.Command {
	var asCSV, signed, overdue, creds bool
	var since, every string
	cmd := &cobra.Command{
		Use:   "rotation",
		Short: "Rotation compliance per environment, the overdue identities, and the trend",
		Long: `Show the share of active operational identities issued less than their environment's max_age
ago, per environment; --overdue lists the identities that are not (device, environment, age,
max_age; at most 1000, oldest first) instead.

--credentials lists Hallmark's own credentials instead: the principal tokens with an issue
(long-lived: valid and longer-lived than the deployment maximum; idle: valid and unused for 30
days; lapsed: an enabled principal whose tokens all expired unrotated) and the CA certificates
with the time they have left. A party sees its own; auditors and deployment administrators all.

--since and --every show the trend instead: the share at every --every over the last --since
(spans such as 30d, 2w or 12h), computed from certificate history. At each instant a device
counts when its operational certificate current then was not revoked by then, and is compliant
when that certificate was issued less than max_age before the instant. One row per instant for
all environments (ENVIRONMENT "all"), followed by one per environment with devices then.`,
		Example: `  hallmark report rotation
  hallmark report rotation --overdue --csv
  hallmark report rotation --since 30d --every 1d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			trend, err := trendOptions(since, every, overdue)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			if signed {
				return e.printSigned(cmd.Context(), c, "rotation", "since", since, "every", every)
			}
			r, err := c.ReportRotation(cmd.Context(), trend)
			if err != nil {
				return err
			}
			switch {
			case since != "":
				return e.emitRows(r.Trend, asCSV, []string{"AT", "ENVIRONMENT", "ACTIVE", "COMPLIANT", "SHARE"}, trendRows(r.Trend))
			case creds:
				if !asCSV && e.output == "table" {
					defer fmt.Fprintf(e.stdout, "tokens: %d valid, %d compliant; %d token issues, %d CA issues\n", r.Credentials.Tokens, r.Credentials.Compliant,
						r.Credentials.OffenderCount, r.Credentials.CAIssues)
				}
				return e.emitRows(r.Credentials, asCSV, []string{"KIND", "ID", "WHO", "ISSUE", "CREATED", "EXPIRES", "LAST USED"}, credentialRows(r.Credentials))
			case overdue:
				return e.emitRows(r, asCSV, []string{"DEVICE", "ENVIRONMENT", "SERIAL", "ISSUED", "AGE", "MAX_AGE"}, overdueRows(r.Overdue))
			}
			if !asCSV && e.output == "table" {
				defer fmt.Fprint(e.stdout, rotationFooter(r))
			}
			return e.emitRows(r, asCSV, []string{"ENVIRONMENT", "NAME", "OPERATOR", "MAX_AGE", "ACTIVE", "COMPLIANT", "SHARE"}, rotationRows(r.Environments))
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	signedFlag(cmd, &signed)
	cmd.Flags().BoolVar(&overdue, "overdue", false, "list the overdue identities")
	cmd.Flags().BoolVar(&creds, "credentials", false, "list Hallmark's own credentials with an issue: principal tokens and CA certificates")
	cmd.Flags().StringVar(&since, "since", "", "trend: how far back, such as 30d, 2w or 12h")
	cmd.Flags().StringVar(&every, "every", "", "trend: the step between instants, such as 1d")
	return cmd
}

// trendOptions reads --since and --every, given together or not at all, and not with --overdue.
func trendOptions(since, every string, overdue bool) (client.TrendOptions, error) {
	var trend client.TrendOptions
	if (since == "") != (every == "") {
		return trend, usagef("give both --since and --every, such as --since 30d --every 1d")
	}
	if since == "" {
		return trend, nil
	}
	var err error
	if trend.Since, err = reports.ParseSpan(since); err != nil {
		return trend, usagef("--since: %v", err)
	}
	if trend.Every, err = reports.ParseSpan(every); err != nil {
		return trend, usagef("--every: %v", err)
	}
	if overdue {
		return trend, usagef("--overdue and --since are separate views; give one")
	}
	return trend, nil
}

// trendRows are one row per instant for all environments, then one per environment.
func trendRows(points []api.TrendPoint) [][]string {
	rows := [][]string{}
	for _, p := range points {
		rows = append(rows, []string{ts(p.At), "all", strconv.Itoa(p.Active), strconv.Itoa(p.Compliant), shareOf(p.Active, p.Share)})
		for _, en := range p.Environments {
			rows = append(rows, []string{ts(p.At), en.EnvironmentID, strconv.Itoa(en.Active), strconv.Itoa(en.Compliant), shareOf(en.Active, en.Share)})
		}
	}
	return rows
}

// rotationFooter is the table's last lines: the overall share (or no data) and Hallmark's own
// credentials.
func rotationFooter(r api.Rotation) string {
	overall := "overall: no data: no active operational identity in the environments you may see\n"
	if r.Active > 0 {
		overall = fmt.Sprintf("overall: %d of %d compliant (%s); %d overdue\n", r.Compliant, r.Active, pct(r.Share), max(r.OverdueCount, len(r.Overdue)))
	}
	return overall + fmt.Sprintf("principal tokens: %d valid, %d compliant; %d token issues, %d CA issues (--credentials lists them)\n",
		r.Credentials.Tokens, r.Credentials.Compliant, r.Credentials.OffenderCount, r.Credentials.CAIssues)
}

// credentialRows are the principal tokens with an issue, then the CA certificates.
func credentialRows(c api.Credentials) [][]string {
	rows := [][]string{}
	for _, o := range c.Offenders {
		rows = append(rows, []string{"token", o.TokenID, o.PartyID + "/" + o.Name, o.Issue, ts(o.CreatedAt), tsp(o.ExpiresAt), tsp(o.LastUsedAt)})
	}
	for _, ca := range c.CAs {
		rows = append(rows, []string{"ca", ca.CAID, ca.PartyID + "/" + ca.Name, ca.Issue, "-", ts(ca.NotAfter), "-"})
	}
	return rows
}

func overdueRows(items []api.Overdue) [][]string {
	rows := [][]string{}
	for _, o := range items {
		rows = append(rows, []string{o.DeviceID, o.EnvironmentID, certSerial(o.Serial), ts(o.IssuedAt), dur(o.Age), dur(o.MaxAge)})
	}
	return rows
}

func rotationRows(envs []api.RotationEnv) [][]string {
	rows := [][]string{}
	for _, en := range envs {
		rows = append(rows, []string{en.EnvironmentID, en.Name, en.OperatorID, dur(en.MaxAge), strconv.Itoa(en.Active), strconv.Itoa(en.Compliant), shareOf(en.Active, en.Share)})
	}
	return rows
}

func (e *env) reportExpiring() *cobra.Command {
	var asCSV, signed bool
	var within time.Duration
	cmd := &cobra.Command{
		Use:   "expiring",
		Short: "Operational certificates expiring soon, by environment and owner",
		Long: `List the current operational certificates that end within --within (default 72h), grouped by
environment and its operator; a negative REMAINING means already expired.`,
		Example: `  hallmark report expiring --within 24h`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if within <= 0 {
				return usagef("--within must be a positive duration such as 72h")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			if signed {
				return e.printSigned(cmd.Context(), c, "expiring", "within", within.String())
			}
			r, err := c.ReportExpiring(cmd.Context(), within)
			if err != nil {
				return err
			}
			rows := [][]string{}
			for _, g := range r.Groups {
				for _, it := range g.Items {
					rows = append(rows, []string{it.DeviceID, g.OperatorID, g.EnvironmentID, certSerial(it.Serial), ts(it.NotAfter), dur(it.Remaining), it.DeviceState})
				}
			}
			return e.emitRows(r, asCSV, []string{"DEVICE", "OPERATOR", "ENVIRONMENT", "SERIAL", "NOT_AFTER", "REMAINING", "STATE"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	signedFlag(cmd, &signed)
	cmd.Flags().DurationVar(&within, "within", 72*time.Hour, "window from now")
	return cmd
}

func (e *env) reportDrift() *cobra.Command {
	var asCSV, signed, policyDrift bool
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Devices whose reported facts differ from their build record, or that their policy would no longer admit",
		Long: `List devices whose facts reported at their newest issuance (firmware digest, hardware revision)
differ from their verified build record, and devices whose build record no longer verifies.

--policy lists instead the active devices that their environment's current policy would no
longer admit: the decision that issued each current operational certificate is evaluated again,
with the same facts, device situation and time, under the current version of the same policy
(onboarding or renewal); FAILED names the rules that deny.`,
		Example: `  hallmark report drift --csv
  hallmark report drift --policy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if signed {
				return e.printSigned(cmd.Context(), c, "drift")
			}
			r, err := c.ReportDrift(cmd.Context())
			if err != nil {
				return err
			}
			if policyDrift {
				return e.emitRows(r, asCSV, []string{"DEVICE", "ENVIRONMENT", "POLICY", "ADMITTED_VERSION", "CURRENT_VERSION", "FAILED", "ADMITTED_AT"}, policyDriftRows(r.Policy))
			}
			rows := [][]string{}
			for _, d := range r.Items {
				rows = append(rows, []string{d.DeviceID, d.EnvironmentID, d.Field, d.Recorded, d.Reported, ts(d.ReportedAt)})
			}
			if !asCSV && e.output == "table" && r.PolicyChecked && r.PolicyEvaluated == 0 {
				defer fmt.Fprintln(e.stdout, "policy: no data: no active device to evaluate under its environment's current policy")
			} else if !asCSV && e.output == "table" && r.PolicyChecked {
				defer fmt.Fprintf(e.stdout, "%d of %d active devices would not be admitted by their environment's current policy (--policy lists them)\n", len(r.Policy), r.PolicyEvaluated)
			}
			return e.emitRows(r, asCSV, []string{"DEVICE", "ENVIRONMENT", "FIELD", "RECORDED", "REPORTED", "REPORTED_AT"}, rows)
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	signedFlag(cmd, &signed)
	cmd.Flags().BoolVar(&policyDrift, "policy", false, "list devices the current policy would no longer admit")
	return cmd
}

// policyDriftRows name, per device, the rules of its environment's current policy that deny it.
func policyDriftRows(items []api.PolicyDrift) [][]string {
	rows := [][]string{}
	for _, d := range items {
		failed := make([]string, 0, len(d.Failed))
		for _, f := range d.Failed {
			failed = append(failed, f.Rule)
		}
		if d.ApprovalRequired {
			failed = append(failed, "(approval required)")
		}
		rows = append(rows, []string{d.DeviceID, d.EnvironmentID, string(d.PolicyKind), strconv.Itoa(d.AdmittedVersion), strconv.Itoa(d.CurrentVersion),
			strings.Join(failed, " "), ts(d.AdmittedAt)})
	}
	return rows
}

func (e *env) reportStandards() *cobra.Command {
	var asCSV, signed bool
	cmd := &cobra.Command{
		Use:   "standards",
		Short: "OWASP NHI Top 10 and NIST CSF 2.0 mapping with live evidence",
		Long: `For each OWASP Non-Human Identity Top 10 (2025) risk and the NIST CSF 2.0 subcategories Hallmark
bears on, show the Hallmark control, how far it goes, and live evidence from this deployment:
offender count of the population checked, the oldest offender and when it was checked, and up
to 20 offenders by name (under the table; in the CSV's last column). Hallmark's own credentials
count: principal tokens in NHI1, NHI7 and PR.AA-01, CA certificates in PR.AA-01. Needs an audit
cell or a deployment administrator (to whom devices are not named).`,
		Example: `  hallmark report standards --csv > standards.csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if signed {
				return e.printSigned(cmd.Context(), c, "standards")
			}
			r, err := c.ReportStandards(cmd.Context())
			if err != nil {
				return err
			}
			rows := [][]string{}
			for _, s := range r.Rows {
				ev := s.Evidence
				r := []string{s.ID, s.Title, string(s.Coverage), ev.Status, strconv.Itoa(ev.Count), strconv.Itoa(ev.Total), ev.Oldest, ev.Note, ts(ev.CheckedAt)}
				if asCSV {
					r = append([]string{s.Framework}, append(r, s.Control, strings.Join(ev.Offenders, "; "))...)
				}
				rows = append(rows, r)
			}
			header := []string{"ID", "TITLE", "COVERAGE", "STATUS", "COUNT", "TOTAL", "OLDEST", "EVIDENCE", "CHECKED"}
			if asCSV {
				header = append([]string{"FRAMEWORK"}, append(header, "CONTROL", "OFFENDERS")...)
			}
			if !asCSV && e.output == "table" {
				defer standardsOffenders(e.stdout, r.Rows)
			}
			return e.emitRows(r, asCSV, header, rows)
		},
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV")
	signedFlag(cmd, &signed)
	return cmd
}

// standardsOffenders prints, under the standards table, the offenders each row names.
func standardsOffenders(w io.Writer, rows []api.StandardsRow) {
	for _, s := range rows {
		if len(s.Evidence.Offenders) > 0 {
			fmt.Fprintf(w, "\n%s offenders:\n", s.ID)
			for _, o := range s.Evidence.Offenders {
				fmt.Fprintf(w, "  %s\n", o)
			}
		}
	}
}
