package app

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/api"
)

// TestConsoleGapsPageListsEveryGap: the console's governance-gaps page has a row for every gap
// the REST report counts in its total, of every kind (it once counted change-rule and maker
// gaps in its total without listing them). The change-rule gap: a party whose duty-change
// rule asks for one more principal's approval, whose only other principal is then disabled;
// the hand-over gap: that party's first administrator never rotated its token; the
// trust-domain gap: an environment of that party in contoso's trust domain from before claims.
func TestConsoleGapsPageListsEveryGap(t *testing.T) {
	s := startDev(t, t.TempDir())
	admin := newParty(t, s, "solo", "Solo Operator", "operator")
	var bob struct{ ID string }
	s.must(t, 201, admin, "POST", "/v1/principals", map[string]any{"party_id": "solo", "name": "bob"}).json(t, &bob)
	s.must(t, 200, admin, "PUT", "/v1/parties/solo/change-rules/duty-change", map[string]any{"quorum": []any{map[string]any{"group": "*", "approvals": 1}}, "expiry": "24h"})
	s.must(t, 200, admin, "POST", "/v1/principals/"+bob.ID+"/disable", nil)
	// A trust-domain gap: an environment of solo that named contoso's trust domain before
	// trust domains were claimed.
	var envA api.EnvironmentView
	s.must(t, 200, oscar, "GET", "/v1/environments/"+demoEnvID(t, s), nil).json(t, &envA)
	legacyEnvironment(t, s, "env_solo_legacy", "solo", "old-plant", envA.IssuingCAID, envA.TrustDomain)
	var rep api.GapsReport
	s.must(t, 200, audrey, "GET", "/v1/reports/gaps", nil).json(t, &rep)
	if len(rep.ChangeRules) == 0 {
		t.Fatalf("a rule no principal can meet is no change-rule gap: %+v", rep)
	}
	req, _ := http.NewRequest("GET", s.info.APIURL+"/ui/reports/gaps?live=1", nil)
	req.AddCookie(&http.Cookie{Name: "__Host-hallmark_session", Value: s.tokens[audrey]})
	res, err := s.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /ui/reports/gaps: %d", res.StatusCode)
	}
	body := string(b)
	tbody := body[strings.Index(body, "<tbody>"):]
	tbody = tbody[:strings.Index(tbody, "</tbody>")]
	if rows := strings.Count(tbody, "<tr>"); rows != rep.Total {
		t.Fatalf("the gaps page lists %d rows; the report counts %d gaps (%d change rules, %d maker sources)", rows, rep.Total, len(rep.ChangeRules), len(rep.MakerSources))
	}
	if !strings.Contains(tbody, "change rule no change can meet") {
		t.Fatal("the gaps page lists no change-rule gap")
	}
	// solo's first administrator still holds the token the deployment administrator minted.
	if len(rep.Handover) == 0 || !strings.Contains(tbody, "hand-over token not rotated by the party") {
		t.Fatalf("the gaps page lists no hand-over gap (%d in the report)", len(rep.Handover))
	}
	if len(rep.TrustDomains) != 1 || !strings.Contains(tbody, "trust domain held by another operator") {
		t.Fatalf("the gaps page lists no trust-domain gap (%d in the report)", len(rep.TrustDomains))
	}
}
