package app

import "testing"

// TestSessionsFollowTheirPrincipal: through the HTTPS API, a person's sign-in session stops
// working while its principal is disabled and works again once it is enabled; a disabled
// principal gets no new session; deleting the principal ends its session for good. A
// deployment administrator registers no provider of a party and binds none of its identities,
// while the party's administrator does.
func TestSessionsFollowTheirPrincipal(t *testing.T) {
	s := startDev(t, "")
	const session = "acme/bob (session)"
	var out struct{ Token string }
	s.must(t, 201, "", "POST", "/v1/auth/dev", map[string]string{"person": bob}).json(t, &out)
	s.tokens[session] = out.Token
	var me struct {
		ID      string `json:"id"`
		PartyID string `json:"party_id"`
	}
	s.must(t, 200, session, "GET", "/v1/whoami", nil).json(t, &me)
	if me.PartyID != "acme" {
		t.Fatalf("the session is of %+v, want a principal of acme", me)
	}

	s.must(t, 200, "acme/admin", "POST", "/v1/principals/"+me.ID+"/disable", nil)
	s.must(t, 401, session, "GET", "/v1/whoami", nil)
	s.must(t, 403, "", "POST", "/v1/auth/dev", map[string]string{"person": bob})
	s.must(t, 200, "acme/admin", "POST", "/v1/principals/"+me.ID+"/enable", nil)
	s.must(t, 200, session, "GET", "/v1/whoami", nil)

	s.must(t, 204, "acme/admin", "DELETE", "/v1/principals/"+me.ID, nil)
	s.must(t, 401, session, "GET", "/v1/whoami", nil)
	s.must(t, 404, "", "POST", "/v1/auth/dev", map[string]string{"person": bob})

	provider := map[string]any{"issuer": "https://idp.example", "client_id": "hallmark"}
	s.must(t, 403, deployAdmin, "PUT", "/v1/auth/providers/acme", provider)
	s.must(t, 200, "acme/admin", "PUT", "/v1/auth/providers/acme", provider)
	s.must(t, 403, deployAdmin, "PUT", "/v1/auth/providers/acme/bindings/carol", map[string]string{"principal_id": s.principalID(t, carol)})
	s.must(t, 403, deployAdmin, "GET", "/v1/auth/providers/acme/bindings", nil)
	s.must(t, 200, "acme/admin", "PUT", "/v1/auth/providers/acme/bindings/carol", map[string]string{"principal_id": s.principalID(t, carol)})
}

// principalID is who's principal ID, read with its own token.
func (s *devServer) principalID(t *testing.T, who string) string {
	t.Helper()
	var p struct{ ID string }
	s.must(t, 200, who, "GET", "/v1/whoami", nil).json(t, &p)
	return p.ID
}
