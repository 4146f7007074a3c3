package app

import (
	"os"
	"testing"
	"time"
)

// TestReplicasRefuseARevokedToken: a token revoked through one replica is refused by the
// others at their next request (bound: none after the commit; authentication caches nothing),
// and so is a disabled principal's; the refusal changes nothing, and the new token works on
// every replica at once.
func TestReplicasRefuseARevokedToken(t *testing.T) {
	base := os.Getenv("HALLMARK_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES (.ci/run starts a server)")
	}
	c := newCluster(t, "postgres", pgSchema(t, base))
	for range 3 {
		c.add().start()
	}
	a, b, d := c.replicas[0].api, c.replicas[1].api, c.replicas[2].api
	ids := principalIDs(t, a, "fabrikam")
	for _, r := range c.replicas {
		r.api.must(t, 200, station, "GET", "/v1/whoami", nil) // each replica has seen the token work
	}
	var rot struct{ ID, Token string }
	a.must(t, 201, "fabrikam/admin", "POST", "/v1/principals/"+ids[station]+"/tokens", map[string]any{}).json(t, &rot)
	refused(t, b.call(t, station, "GET", "/v1/whoami", nil), 401, "expired")
	refused(t, d.call(t, station, "GET", "/v1/whoami", nil), 401, "expired")
	c.tokens[station] = rot.Token // the replicas' devServers share the map
	b.must(t, 200, station, "GET", "/v1/whoami", nil)
	d.must(t, 200, station, "GET", "/v1/whoami", nil)

	start := time.Now()
	d.must(t, 200, "fabrikam/admin", "POST", "/v1/principals/"+ids[station]+"/tokens/"+rot.ID+"/revoke", nil)
	time.Sleep(time.Millisecond)
	for _, r := range []*devServer{a, b, d} {
		refused(t, r.call(t, station, "POST", "/v1/principals/"+ids[station]+"/tokens", map[string]any{}), 401, "revoked")
	}
	t.Logf("refused by all three replicas %s after the revocation was sent", time.Since(start).Round(time.Millisecond))

	var fresh struct{ Token string }
	b.must(t, 201, "fabrikam/admin", "POST", "/v1/principals/"+ids[station]+"/tokens", map[string]any{}).json(t, &fresh)
	c.tokens[station] = fresh.Token
	a.must(t, 200, "fabrikam/admin", "POST", "/v1/principals/"+ids[station]+"/disable", nil)
	for _, r := range []*devServer{a, b, d} {
		refused(t, r.call(t, station, "GET", "/v1/whoami", nil), 401, "disabled")
	}
	d.must(t, 200, "fabrikam/admin", "POST", "/v1/principals/"+ids[station]+"/enable", nil)
	for _, r := range []*devServer{a, b, d} {
		r.must(t, 200, station, "GET", "/v1/whoami", nil)
	}
}
