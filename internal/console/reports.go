package console

import (
	"context"
	"encoding/csv"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/client"
)

// report is one report as the page and its CSV show it: the same header and rows feed the
// table (the first maxRows) and the CSV download (all of them).
type report struct {
	Name, Title string
	Summary     string
	Chart       any // template.HTML
	Head        []string
	Rows        [][]string
	More        int // rows the page leaves to the CSV
}

// maxRows bounds the table on the page; the CSV has every row.
const maxRows = 100

// reportNames are the reports, in the tab order.
var reportNames = []struct{ Name, Title string }{
	{"rotation", "Rotation trend"}, {"expiring", "Expiring"}, {"drift", "Drift"}, {"standards", "Standards"}, {"gaps", "Gaps"},
}

type reportsData struct {
	Tabs   []struct{ Name, Title string }
	Report report
	AsOf   asOf
}

// reportsPage shows one report (rotation by default) with its chart, drawn on the server as
// SVG, and its figures as a table, and links its CSV.
func (k *Console) reportsPage(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	if name == "" {
		name = "rotation"
	}
	src, of := k.source(r, s, name)
	rep, err := k.build(r.Context(), s, src, name)
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	if rep.Name == "" {
		k.fail(w, r, s, http.StatusNotFound, "There is no report "+name+".")
		return
	}
	if len(rep.Rows) > maxRows {
		rep.More = len(rep.Rows) - maxRows
		rep.Rows = rep.Rows[:maxRows]
	}
	k.render(w, r, s, http.StatusOK, "reports", rep.Title, reportsData{Tabs: reportNames, Report: rep, AsOf: of})
}

// reportsPageOrCSV serves /ui/reports/NAME and /ui/reports/NAME.csv (one pattern: the mux
// matches whole segments).
func (k *Console) reportsPageOrCSV(w http.ResponseWriter, r *http.Request, s *session) {
	if name, ok := strings.CutSuffix(r.PathValue("name"), ".csv"); ok {
		r.SetPathValue("name", name)
		k.reportCSV(w, r, s)
		return
	}
	k.reportsPage(w, r, s)
}

// reportCSV sends a report's rows as CSV (RFC 4180), as a download.
func (k *Console) reportCSV(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	src, _ := k.source(r, s, name)
	rep, err := k.build(r.Context(), s, src, name)
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	if rep.Name == "" {
		k.fail(w, r, s, http.StatusNotFound, "There is no report "+name+".")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="hallmark-`+rep.Name+`-`+time.Now().UTC().Format("20060102T150405Z")+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(rep.Head)
	for _, row := range rep.Rows {
		_ = cw.Write(csvSafe(row))
	}
	cw.Flush()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (CSV injection): a cell that
// starts with = + - @ or a tab gets a leading apostrophe. Numbers such as "-3" stay as they are.
func csvSafe(row []string) []string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = c
		if c != "" && (c[0] == '=' || c[0] == '+' || c[0] == '@' || c[0] == '\t' || c[0] == '\r' || (c[0] == '-' && !numeric(c))) {
			out[i] = "'" + c
		}
	}
	return out
}

func numeric(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// build asks src (the API, or the party's snapshot) for one report; an unknown name is a zero
// report and no error.
func (k *Console) build(ctx context.Context, s *session, src reportSource, name string) (report, error) {
	n := s.names(ctx)
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	itoa := strconv.Itoa
	pc := func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) }
	switch name {
	case "rotation":
		rot, err := src.ReportRotation(ctx, client.TrendOptions{Since: 30 * 24 * time.Hour, Every: 24 * time.Hour})
		if err != nil {
			return report{}, err
		}
		rep := report{Name: name, Title: "Rotation trend",
			Summary: pc(rot.Share) + "% of " + itoa(rot.Active) + " active devices are compliant now; " + itoa(rot.OverdueCount) + " overdue.",
			Head:    []string{"at", "active", "compliant", "share_percent"}}
		var pts []point
		for _, p := range rot.Trend {
			pts = append(pts, point{p.At.UTC().Format("Jan 2"), p.Share})
			rep.Rows = append(rep.Rows, []string{ts(p.At), itoa(p.Active), itoa(p.Compliant), pc(p.Share)})
		}
		rep.Chart = lineChart("Rotation compliance, daily over 30 days", pts)
		return rep, nil
	case "expiring":
		ex, err := src.ReportExpiring(ctx, 30*24*time.Hour)
		if err != nil {
			return report{}, err
		}
		rep := report{Name: name, Title: "Expiring certificates",
			Summary: itoa(ex.Count) + " current operational certificates end within 30 days.",
			Head:    []string{"environment", "operator", "device_id", "serial", "not_after", "device_state"}}
		var bars []bar
		for _, g := range ex.Groups {
			bars = append(bars, bar{g.Name, g.Count})
			for _, e := range g.Items {
				rep.Rows = append(rep.Rows, []string{g.Name, n.Party(g.OperatorID), e.DeviceID, e.Serial, ts(e.NotAfter), e.DeviceState})
			}
		}
		rep.Chart = barChart("Certificates ending within 30 days, per environment", bars)
		return rep, nil
	case "drift":
		dr, err := src.ReportDrift(ctx)
		if err != nil {
			return report{}, err
		}
		rep := report{Name: name, Title: "Drift",
			Summary: itoa(len(dr.Items)) + " differences from build records among " + itoa(dr.Checked) + " devices checked; " + itoa(len(dr.Policy)) + " active devices the current policy would no longer admit.",
			Head:    []string{"kind", "device_id", "environment", "field_or_policy", "recorded_or_admitted", "reported_or_current", "at"}}
		count := map[string]int{}
		for _, x := range dr.Items {
			count[x.Field]++
			rep.Rows = append(rep.Rows, []string{"build-record", x.DeviceID, x.EnvironmentID, x.Field, x.Recorded, x.Reported, ts(x.ReportedAt)})
		}
		for _, x := range dr.Policy {
			count["policy "+x.PolicyKind]++
			rep.Rows = append(rep.Rows, []string{"policy", x.DeviceID, x.EnvironmentID, x.PolicyKind, "v" + itoa(x.AdmittedVersion), "v" + itoa(x.CurrentVersion), ts(x.AdmittedAt)})
		}
		rep.Chart = barChart("Drift by field", sortedBars(count))
		return rep, nil
	case "standards":
		st, err := src.ReportStandards(ctx)
		if err != nil {
			return report{}, err
		}
		rep := report{Name: name, Title: "Standards mapping and gaps",
			Head: []string{"framework", "id", "title", "coverage", "control", "status", "count", "total", "note"}}
		count := map[string]int{}
		for _, x := range st.Rows {
			count[x.Coverage+" / "+x.Evidence.Status]++
			rep.Rows = append(rep.Rows, []string{x.Framework, x.ID, x.Title, x.Coverage, x.Control, x.Evidence.Status, itoa(x.Evidence.Count), itoa(x.Evidence.Total), x.Evidence.Note})
		}
		rep.Summary = itoa(len(st.Rows)) + " risks and outcomes of OWASP NHI Top 10 and NIST CSF 2.0, with what this deployment shows."
		rep.Chart = barChart("Standards rows by coverage and status", sortedBars(count))
		return rep, nil
	case "gaps":
		g, err := src.ReportGaps(ctx, "")
		if err != nil {
			return report{}, err
		}
		rep := report{Name: name, Title: "Governance gaps", Summary: itoa(g.Total) + " gaps.",
			Head: []string{"kind", "subject", "detail"}}
		for _, x := range g.Unowned {
			rep.Rows = append(rep.Rows, []string{"unowned duty", x.Scope, x.Stage + " " + x.Duty})
		}
		for _, x := range g.Devices {
			rep.Rows = append(rep.Rows, []string{"devices without owner", x.Scope, itoa(x.Devices) + " devices, " + x.Stage + " " + x.Duty})
		}
		for _, x := range g.Lifetimes {
			rep.Rows = append(rep.Rows, []string{"lifetime over maximum", x.Name, x.Lifetime})
		}
		for _, x := range g.Grants {
			rep.Rows = append(rep.Rows, []string{"unbounded support grant", x.GrantID, x.Window + " over " + x.Limit})
		}
		for _, x := range g.Idle {
			rep.Rows = append(rep.Rows, []string{"idle principal", x.Name + " (" + n.Party(x.PartyID) + ")", "created " + ts(x.CreatedAt)})
		}
		for _, x := range g.SelfApproval {
			rep.Rows = append(rep.Rows, []string{"self-approval", x.Scope, x.Kind + " decided by " + n.Party(x.PartyID)})
		}
		for _, x := range g.CAExpiry {
			rep.Rows = append(rep.Rows, []string{"CA expiry", x.Name, x.Why})
		}
		for _, x := range g.MakerSources {
			detail := x.Kind + " " + x.URL + ": " + x.Outcome + " since " + ts(x.Since)
			if x.Error != "" {
				detail += " (" + x.Error + ")"
			}
			rep.Rows = append(rep.Rows, []string{"maker revocation source", x.MakerName, detail})
		}
		for _, x := range g.ChangeRules {
			rep.Rows = append(rep.Rows, []string{"change rule no change can meet", n.Party(x.PartyID) + " " + x.Kind, x.Quorum + ": " + x.Why})
		}
		for _, x := range g.Handover {
			rep.Rows = append(rep.Rows, []string{"hand-over token not rotated by the party", x.Name + " (" + n.Party(x.PartyID) + ")",
				"minted " + ts(x.MintedAt) + ", works until " + ts(x.ExpiresAt) + ": " + x.Why})
		}
		for _, x := range g.TrustDomains {
			subject := x.TrustDomain
			if x.Name != "" {
				subject = x.Name + " (" + x.TrustDomain + ")"
			}
			rep.Rows = append(rep.Rows, []string{"trust domain held by another operator", subject, x.Why})
		}
		rep.Chart = barChart("Governance gaps by kind", sortedBars(map[string]int{
			"unowned duties": len(g.Unowned), "devices without owner": len(g.Devices), "lifetimes": len(g.Lifetimes),
			"support grants": len(g.Grants), "idle principals": len(g.Idle), "self-approval": len(g.SelfApproval), "CA expiry": len(g.CAExpiry),
			"maker sources": len(g.MakerSources), "change rules": len(g.ChangeRules), "hand-overs": len(g.Handover),
			"trust domains": len(g.TrustDomains)}))
		return rep, nil
	}
	return report{}, nil
}

// sortedBars is a bar per key, largest first, then by name.
func sortedBars(m map[string]int) []bar {
	out := make([]bar, 0, len(m))
	for k, v := range m {
		out = append(out, bar{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Label < out[j].Label
	})
	return out
}
