package app

import (
	"strings"
	"testing"
)

type standardsRows struct {
	Rows []struct {
		ID       string `json:"id"`
		Evidence struct {
			Count     int      `json:"count"`
			Status    string   `json:"status"`
			Oldest    string   `json:"oldest"`
			Offenders []string `json:"offenders"`
		} `json:"evidence"`
	} `json:"rows"`
}

func (r standardsRows) row(t *testing.T, id string) (count int, status string, offenders string) {
	t.Helper()
	for _, x := range r.Rows {
		if x.ID == id {
			return x.Evidence.Count, x.Evidence.Status, strings.Join(x.Evidence.Offenders, "\n")
		}
	}
	t.Fatalf("no row %s", id)
	return 0, "", ""
}

type rotationCreds struct {
	Environments []struct{ EnvironmentID string } `json:"environments"`
	Credentials  struct {
		Tokens    int `json:"tokens"`
		Compliant int `json:"compliant"`
		Offenders []struct {
			PartyID string `json:"party_id"`
			Name    string `json:"name"`
			Issue   string `json:"issue"`
		} `json:"offenders"`
		OffenderCount int `json:"offender_count"`
		CAs           []struct {
			CAID  string `json:"ca_id"`
			Issue string `json:"issue"`
		} `json:"cas"`
	} `json:"credentials"`
}

func (r rotationCreds) issues() map[string]string {
	out := map[string]string{}
	for _, o := range r.Credentials.Offenders {
		out[o.PartyID+"/"+o.Name] += o.Issue + " "
	}
	return out
}

// TestCredentialsCountAsNHIs (point 4): the dev server's principal tokens (a realistic mix)
// and CA certificates are in report standards (NHI1, NHI7, PR.AA-01, offenders named) and
// report rotation; fixing an offender changes the evidence.
func TestCredentialsCountAsNHIs(t *testing.T) {
	s := startDev(t, "")
	var std standardsRows
	s.must(t, 200, audrey, "GET", "/v1/reports/standards", nil).json(t, &std)
	n7, st7, off7 := std.row(t, "NHI7")
	n1, st1, off1 := std.row(t, "NHI1")
	nPR, _, offPR := std.row(t, "PR.AA-01")
	if st7 != "attention" || n7 != 1 || !strings.Contains(off7, "acme/ci-legacy") {
		t.Fatalf("NHI7 with a 420-day token: %d %s\n%s", n7, st7, off7)
	}
	if st1 != "attention" || n1 != 2 || !strings.Contains(off1, "fabrikam/station-0") || !strings.Contains(off1, "northwind/scanner") {
		t.Fatalf("NHI1 with an idle station and a lapsed scanner: %d %s\n%s", n1, st1, off1)
	}
	if nPR != 3 || !strings.Contains(offPR, "ci-legacy") || strings.Contains(offPR, "contoso/gateway") || strings.Contains(offPR, "globex/ticket-bot") {
		t.Fatalf("PR.AA-01: %d\n%s", nPR, offPR)
	}

	var rot rotationCreds
	s.must(t, 200, audrey, "GET", "/v1/reports/rotation", nil).json(t, &rot)
	is := rot.issues()
	if is["acme/ci-legacy"] != "long-lived " || is["fabrikam/station-0"] != "idle " || is["northwind/scanner"] != "lapsed " || len(is) != 3 {
		t.Fatalf("the rotation report's credential issues: %v", is)
	}
	if len(rot.Credentials.CAs) < 4 || rot.Credentials.Tokens < 15 {
		t.Fatalf("the rotation report's credentials: %+v", rot.Credentials)
	}

	// A party sees its own credentials; the deployment administrator every party's, and no
	// device.
	var mine rotationCreds
	s.must(t, 200, alice, "GET", "/v1/reports/rotation", nil).json(t, &mine)
	if is := mine.issues(); len(is) != 1 || is["acme/ci-legacy"] == "" {
		t.Fatalf("acme's credential issues: %v", is)
	}
	var dep rotationCreds
	s.must(t, 200, deployAdmin, "GET", "/v1/reports/rotation", nil).json(t, &dep)
	if len(dep.issues()) != 3 || len(dep.Environments) != 0 {
		t.Fatalf("the deployment administrator's rotation report: %+v", dep)
	}
	var depStd standardsRows
	s.must(t, 200, deployAdmin, "GET", "/v1/reports/standards", nil).json(t, &depStd)
	for _, r := range depStd.Rows {
		for _, o := range r.Evidence.Offenders {
			if strings.HasPrefix(o, "device ") {
				t.Fatalf("a device is named to the deployment administrator: %s", o)
			}
		}
		if r.Evidence.Oldest != "" && strings.HasPrefix(r.Evidence.Oldest, "dev_") {
			t.Fatalf("a device is named to the deployment administrator: %+v", r)
		}
	}
	if c, _, _ := depStd.row(t, "NHI7"); c != n7 {
		t.Fatalf("the deployment administrator's NHI7 count %d, the auditor's %d", c, n7)
	}
	refused(t, s.call(t, alice, "GET", "/v1/reports/standards", nil), 403, "auditors and deployment administrators")

	// Fixing the offenders shows.
	ids := principalIDs(t, s, "acme", "fabrikam", "northwind")
	for _, tok := range tokensOf(t, s, "acme/admin", ids["acme/ci-legacy"]) {
		s.must(t, 200, "acme/admin", "POST", "/v1/principals/"+ids["acme/ci-legacy"]+"/tokens/"+tok.ID+"/revoke", nil)
	}
	s.must(t, 204, "fabrikam/admin", "DELETE", "/v1/principals/"+ids["fabrikam/station-0"], nil)
	s.must(t, 200, "northwind/admin", "POST", "/v1/principals/"+ids["northwind/scanner"]+"/disable", nil)
	s.must(t, 200, audrey, "GET", "/v1/reports/standards", nil).json(t, &std)
	for _, id := range []string{"NHI7", "NHI1", "PR.AA-01"} {
		if c, st, off := std.row(t, id); c != 0 || st != "ok" {
			t.Errorf("%s after the offenders were dealt with: %d %s\n%s", id, c, st, off)
		}
	}
}
