package app

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Issue 16: Hallmark's own identities, through the real HTTPS API of a dev server.

// skewClock is a clock the test moves forward.
type skewClock struct{ skew atomic.Int64 }

func (c *skewClock) now() time.Time      { return time.Now().UTC().Add(time.Duration(c.skew.Load())) }
func (c *skewClock) add(d time.Duration) { c.skew.Add(int64(d)) }

type tokenRec struct {
	ID           string     `json:"id"`
	State        string     `json:"state"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
	SupersededBy string     `json:"superseded_by"`
	Token        string     `json:"token"`
}

func tokensOf(t *testing.T, s *devServer, who, principal string) []tokenRec {
	t.Helper()
	var l struct{ Items []tokenRec }
	s.must(t, 200, who, "GET", "/v1/principals/"+principal+"/tokens", nil).json(t, &l)
	return l.Items
}

// refused checks a problem+json answer of the status whose detail holds want.
func refused(t *testing.T, r resp, status int, want string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	if p := r.problem(t); !strings.Contains(p["detail"].(string), want) {
		t.Fatalf("detail %q does not say %q", p["detail"], want)
	}
}

// actionsSince returns the audit actions after the first n events.
func actionsSince(t *testing.T, s *devServer, n int) []string {
	t.Helper()
	var out []string
	for _, e := range auditEvents(t, s)[n:] {
		out = append(out, e.Action)
	}
	return out
}

// TestPrincipalTokens (point 2): a station's token expires, rotates with an overlap after
// which the old one stops, is revoked at once (a millisecond later it is refused), and is
// listed with its expiry and last use; principals are disabled, enabled and deleted. Every
// change is audited; bad input gets problem+json and changes nothing.
func TestPrincipalTokens(t *testing.T) {
	clock := &skewClock{}
	s := startDevWith(t, "", clock.now)
	ids := principalIDs(t, s, "fabrikam", "acme")
	fab := "fabrikam/admin"
	st := ids[station]
	// The dev seed's party administrators rotated their hand-over tokens: not this test's.
	seeded := map[string]int{}
	for _, e := range auditEvents(t, s) {
		seeded[e.Action]++
	}

	toks := tokensOf(t, s, fab, st)
	if len(toks) != 1 || toks[0].State != "active" || toks[0].ExpiresAt == nil {
		t.Fatalf("the station's tokens: %+v", toks)
	}
	if life := toks[0].ExpiresAt.Sub(toks[0].CreatedAt); life != 90*24*time.Hour {
		t.Fatalf("a new token lives %s, want 90 days", life)
	}
	s.must(t, 200, station, "GET", "/v1/whoami", nil)
	if toks = tokensOf(t, s, station, st); toks[0].LastUsedAt == nil {
		t.Fatalf("the station's use is not recorded: %+v", toks[0])
	}

	// Bad input: problem+json, nothing changed.
	before := auditCount(t, s)
	for _, tc := range []struct {
		who, path string
		body      any
		status    int
		want      string
	}{
		{fab, "/v1/principals/" + st + "/tokens", map[string]any{"overlap": "forever"}, 400, "not a duration"},
		{fab, "/v1/principals/" + st + "/tokens", map[string]any{"overlap": "-1h"}, 400, "overlap must be between"},
		{fab, "/v1/principals/" + st + "/tokens", map[string]any{"overlap": "200h"}, 400, "overlap must be between"},
		{fab, "/v1/principals/" + st + "/tokens", map[string]any{"lifetime": "9000h"}, 400, "lifetime must be between"},
		{fab, "/v1/principals/" + st + "/tokens", map[string]any{"overlap": "1h", "extra": 1}, 400, "not valid JSON"},
		{fab, "/v1/principals/prn_nobody/tokens", map[string]any{}, 404, "not found"},
		{fab, "/v1/principals/" + st + "/tokens/tok_nobody/revoke", nil, 404, "has no token"},
		{alice, "/v1/principals/" + st + "/tokens", map[string]any{}, 404, "not found"},      // another party's: not even seen
		{audrey, "/v1/principals/" + st + "/tokens", map[string]any{}, 403, "administrator"}, // the auditor sees, but does not manage
		{"fabrikam/station-1", "/v1/principals/" + st + "/disable", nil, 403, "itself"},      // a principal never disables itself
		{"acme/admin", "/v1/principals/" + st + "/disable", nil, 404, "not found"},           // another party's administrator
		{fab, "/v1/principals", map[string]any{"party_id": "fabrikam", "name": "Bad Name"}, 400, "principal name"},
		{fab, "/v1/principals", map[string]any{"party_id": "fabrikam", "name": "x", "token_lifetime": "1s"}, 400, "lifetime must be between"},
	} {
		refused(t, s.call(t, tc.who, "POST", tc.path, tc.body), tc.status, tc.want)
	}
	if got := tokensOf(t, s, fab, st); len(got) != 1 {
		t.Fatalf("refused requests changed the tokens: %+v", got)
	}
	if n := auditCount(t, s); n != before {
		t.Fatalf("refused requests appended %d audit events", n-before)
	}

	// Rotation with a one-hour overlap: both tokens work, then only the new one.
	var rot tokenRec
	s.must(t, 201, fab, "POST", "/v1/principals/"+st+"/tokens", map[string]any{"overlap": "1h"}).json(t, &rot)
	if !strings.HasPrefix(rot.Token, "hmk_") || rot.State != "active" {
		t.Fatalf("the rotated token: %+v", rot)
	}
	s.tokens["station-new"] = rot.Token
	toks = tokensOf(t, s, fab, st)
	if len(toks) != 2 || toks[0].ID != rot.ID || toks[1].State != "overlap" || toks[1].SupersededBy != rot.ID || toks[0].Token != "" {
		t.Fatalf("the tokens after rotation: %+v", toks)
	}
	s.must(t, 200, station, "GET", "/v1/whoami", nil)
	s.must(t, 200, "station-new", "GET", "/v1/whoami", nil)
	clock.add(time.Hour + time.Second)
	refused(t, s.call(t, station, "GET", "/v1/whoami", nil), 401, "expired")
	s.must(t, 200, "station-new", "GET", "/v1/whoami", nil)
	if toks = tokensOf(t, s, fab, st); toks[1].State != "expired" {
		t.Fatalf("the superseded token after its overlap: %+v", toks[1])
	}

	// The station rotates its own token, with no overlap: the old one stops at once.
	var self tokenRec
	s.must(t, 201, "station-new", "POST", "/v1/principals/"+st+"/tokens", map[string]any{}).json(t, &self)
	refused(t, s.call(t, "station-new", "GET", "/v1/whoami", nil), 401, "expired")
	s.tokens[station] = self.Token

	// Revocation is immediate: a millisecond after it, the token is refused and the refusal
	// changes nothing.
	s.must(t, 200, fab, "POST", "/v1/principals/"+st+"/tokens/"+self.ID+"/revoke", nil)
	time.Sleep(time.Millisecond)
	before = auditCount(t, s)
	refused(t, s.call(t, station, "POST", "/v1/principals/"+st+"/tokens", map[string]any{}), 401, "revoked")
	refused(t, s.call(t, station, "GET", "/v1/whoami", nil), 401, "revoked")
	if n := auditCount(t, s); n != before {
		t.Fatalf("a revoked token's request appended %d audit events", n-before)
	}
	refused(t, s.call(t, fab, "POST", "/v1/principals/"+st+"/tokens/"+self.ID+"/revoke", nil), 409, "revoked already")

	// A fresh token; an expiring principal; disable, enable, delete.
	s.must(t, 201, fab, "POST", "/v1/principals/"+st+"/tokens", map[string]any{"lifetime": "720h"}).json(t, &self)
	s.tokens[station] = self.Token
	if life := self.ExpiresAt.Sub(self.CreatedAt); life != 720*time.Hour {
		t.Fatalf("a token asked for 720h lives %s", life)
	}
	short, shortID := addPrincipal(t, s, "fabrikam", "station-2", false)
	var created struct {
		Token          string    `json:"token"`
		TokenID        string    `json:"token_id"`
		TokenExpiresAt time.Time `json:"token_expires_at"`
		CreatedBy      string    `json:"created_by"`
	}
	s.must(t, 201, fab, "POST", "/v1/principals", map[string]any{"party_id": "fabrikam", "name": "station-3", "kind": "service", "token_lifetime": "2h"}).json(t, &created)
	if created.CreatedBy != ids[fab] || created.TokenID == "" || time.Until(created.TokenExpiresAt) > 2*time.Hour+time.Duration(clock.skew.Load()) {
		t.Fatalf("the created principal: %+v", created)
	}
	s.tokens["fabrikam/station-3"] = created.Token
	s.must(t, 200, "fabrikam/station-3", "GET", "/v1/whoami", nil)
	clock.add(2*time.Hour + time.Second)
	refused(t, s.call(t, "fabrikam/station-3", "GET", "/v1/whoami", nil), 401, "expired")

	s.must(t, 200, fab, "POST", "/v1/principals/"+st+"/disable", nil)
	refused(t, s.call(t, station, "GET", "/v1/whoami", nil), 401, "disabled")
	refused(t, s.call(t, fab, "POST", "/v1/principals/"+st+"/disable", nil), 409, "disabled already")
	refused(t, s.call(t, fab, "POST", "/v1/principals/"+st+"/tokens", map[string]any{}), 409, "disabled")
	s.must(t, 200, fab, "POST", "/v1/principals/"+st+"/enable", nil)
	s.must(t, 200, station, "GET", "/v1/whoami", nil)

	// The party's last administrator that can sign in stays.
	refused(t, s.call(t, fab, "DELETE", "/v1/principals/"+ids[fab], nil), 403, "itself")
	fab2, _ := addPrincipal(t, s, "fabrikam", "admin-2", true)
	s.must(t, 204, fab2, "DELETE", "/v1/principals/"+ids[fab], nil)
	refused(t, s.call(t, fab, "GET", "/v1/whoami", nil), 401, "not valid")

	// A party never loses its last administrator that can sign in.
	var p3 struct{ ID, Token string }
	s.must(t, 201, fab2, "POST", "/v1/principals", map[string]any{"party_id": "fabrikam", "name": "admin-3", "admin": true}).json(t, &p3)
	fab3, fab3ID := "fabrikam/admin-3", p3.ID
	s.tokens[fab3] = p3.Token
	fab2ID := principalIDs(t, s, "fabrikam")[fab2]
	s.must(t, 200, fab3, "POST", "/v1/principals/"+fab2ID+"/disable", nil)
	only := tokensOf(t, s, fab3, fab3ID)[0].ID
	refused(t, s.call(t, fab3, "POST", "/v1/principals/"+fab3ID+"/tokens/"+only+"/revoke", nil), 409, "without an administrator that can sign in")
	s.must(t, 200, fab3, "GET", "/v1/whoami", nil)
	s.must(t, 200, fab3, "POST", "/v1/principals/"+fab2ID+"/enable", nil)

	s.must(t, 204, fab2, "DELETE", "/v1/principals/"+shortID, nil)
	refused(t, s.call(t, short, "GET", "/v1/whoami", nil), 401, "not valid")
	refused(t, s.call(t, fab2, "GET", "/v1/principals/"+shortID, nil), 404, "not found")
	refused(t, s.call(t, fab2, "DELETE", "/v1/principals/"+shortID, nil), 404, "not found")

	// Every change was audited.
	evs := auditEvents(t, s)
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.Action]++
	}
	for action, want := range map[string]int{"principal.token.rotate": 3, "principal.token.revoke": 1, "principal.disable": 2, "principal.enable": 2, "principal.delete": 2} {
		if seen[action]-seeded[action] != want {
			t.Errorf("%d audit events %s, want %d", seen[action]-seeded[action], action, want)
		}
	}
	var detail struct {
		Overlap string `json:"overlap"`
	}
	for _, e := range evs {
		if e.Action == "principal.token.rotate" && e.Subject == "principal:"+st {
			_ = json.Unmarshal(e.Detail, &detail)
			break
		}
	}
	if detail.Overlap != "1h0m0s" {
		t.Errorf("the first rotation's audit detail: %+v", detail)
	}
}
