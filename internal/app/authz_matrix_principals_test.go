package app

import (
	"testing"
)

// The authorization matrix's rows for principals, their tokens and break-glass access (issue
// 16), in the column order of mxBy: acme, fabrikam, northwind, contoso, globex, auditco, the
// deployment administrator ("*"), contoso's administrator. "Own" is a principal of the
// caller's party (the caller itself where a principal may act on itself), or, for
// break-glass, a request concerning the caller's party (acme's for the deployment
// administrator); "other" is initech's ian or initech's request.

// access makes a break-glass request of the deployment administrator for party's principals,
// approved by the party's administrator when open is set, and returns its ID.
func (f *mxFixture) access(t *testing.T, party string, open bool) string {
	t.Helper()
	var a struct{ ID string }
	f.s.must(t, 201, deployAdmin, "POST", "/v1/parties/"+party+"/access", map[string]any{"reason": "matrix " + f.name("ticket")}).json(t, &a)
	if open {
		f.s.must(t, 200, party+"/admin", "POST", "/v1/access/"+a.ID+"/decision", map[string]any{"approve": true})
	}
	return a.ID
}

// colleague is a principal of the caller's party the caller did not make: for a refusal, the
// party's idle principal; for an allowed change, a fresh one.
func (f *mxFixture) colleague(t *testing.T, c mxCell) string {
	t.Helper()
	party := c.party
	if party == "" {
		party = "acme"
	}
	if c.allowed() || party == "*" {
		return f.addPrincipal(t, party, f.name("mx-mate"))
	}
	return f.idle[party]
}

// accessParty is the party whose break-glass requests are the cell's own.
func accessParty(c mxCell) string {
	if c.party == "" || c.party == "*" {
		return "acme"
	}
	return c.party
}

// ianToken is the ID of one of ian's tokens.
func (f *mxFixture) ianToken(t *testing.T) string {
	t.Helper()
	var l struct{ Items []struct{ ID string } }
	f.s.must(t, 200, deployAdmin, "GET", "/v1/principals/"+f.ids[mxIan]+"/tokens", nil).json(t, &l)
	return l.Items[0].ID
}

// rotateSelf gives who a new token (keeping it for s.call) and returns the superseded one's ID.
func (f *mxFixture) rotateSelf(t *testing.T, who string) string {
	t.Helper()
	var n struct{ ID, Token string }
	f.s.must(t, 201, who, "POST", "/v1/principals/"+f.ids[who]+"/tokens", map[string]any{"overlap": "24h"}).json(t, &n)
	f.s.tokens[who] = n.Token
	var l struct{ Items []struct{ ID, State string } }
	f.s.must(t, 200, who, "GET", "/v1/principals/"+f.ids[who]+"/tokens", nil).json(t, &l)
	for _, tk := range l.Items {
		if tk.State == "overlap" {
			return tk.ID
		}
	}
	t.Fatalf("%s has no superseded token after a rotation", who)
	return ""
}

// gone is a check that who no longer finds the principal.
func (f *mxFixture) gone(who, id string) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if got := f.s.call(t, who, "GET", "/v1/principals/"+id, nil); got.Status != 404 {
			t.Errorf("principal %s after its deletion: %d", id, got.Status)
		}
	}
}

func mxPrincipalRows() []mxRow {
	seeIan := mxOnly(mx200, mx404, "auditco", "*")    // initech's principals: the auditor and the deployment administrator
	manageIan := mxOnly(mx403, mx404, "auditco", "*") // they see ian, and may not manage it
	admins := mxBy{mx403, mx403, mx403, mx403, mx403, mx403, mx204, mx204}
	admins200 := mxBy{mx403, mx403, mx403, mx403, mx403, mx403, mx200, mx200}
	return []mxRow{
		{op: "GET /v1/principals/{id}", own: mxAll(mx200), other: seeIan,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/principals/" + mxPick(c, f.ids[mxWhoOr(c)], f.ids[mxIan]), check: mxExpect("party_id", mxPick(c, c.party, "initech"))}
			}},
		// Disable, enable, delete: the party's administrators (the deployment administrator's
		// own party is the deployment: another deployment administrator), never a colleague.
		{op: "DELETE /v1/principals/{id}", own: admins, other: manageIan,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := mxPick(c, f.colleague(t, c), f.ids[mxIan])
				return mxReq{path: "/v1/principals/" + id, check: f.gone(c.who, id)}
			}},
		{op: "POST /v1/principals/{id}/disable", own: admins200, other: manageIan,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := mxPick(c, f.colleague(t, c), f.ids[mxIan])
				return mxReq{path: "/v1/principals/" + id + "/disable", check: mxThen(mxExpect("id", id), func(t *testing.T, r resp) {
					if mxField(mxDecode(t, r), "disabled_at") == nil {
						t.Errorf("principal %s is not disabled", id)
					}
				})}
			}},
		{op: "POST /v1/principals/{id}/enable", own: admins200, other: manageIan,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := mxPick(c, f.colleague(t, c), f.ids[mxIan])
				if c.allowed() {
					f.s.must(t, 200, c.who, "POST", "/v1/principals/"+id+"/disable", nil)
				}
				return mxReq{path: "/v1/principals/" + id + "/enable", check: f.readBack(c.who, "/v1/principals/"+id, "", "disabled_at", "<nil>")}
			}},
		// Tokens: every principal lists, rotates and revokes its own.
		{op: "GET /v1/principals/{id}/tokens", own: mxAll(mx200), other: seeIan,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/principals/" + mxPick(c, f.ids[mxWhoOr(c)], f.ids[mxIan]) + "/tokens", check: mxExpect("items.0.state", "active")}
			}},
		{op: "POST /v1/principals/{id}/tokens", own: mxAll(mx201), other: manageIan,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				who := mxWhoOr(c)
				return mxReq{path: "/v1/principals/" + mxPick(c, f.ids[who], f.ids[mxIan]) + "/tokens", body: map[string]any{"overlap": "24h"},
					check: func(t *testing.T, r resp) {
						f.s.tokens[who] = mxField(mxDecode(t, r), "token").(string) // the rows after use the new token
						f.s.must(t, 200, who, "GET", "/v1/whoami", nil)
					}}
			}},
		{op: "POST /v1/principals/{id}/tokens/{token}/revoke", own: mxAll(mx200), other: manageIan,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				if c.other {
					return mxReq{path: "/v1/principals/" + f.ids[mxIan] + "/tokens/" + f.ianToken(t) + "/revoke"}
				}
				who := mxWhoOr(c)
				old := f.rotateSelf(t, who)
				return mxReq{path: "/v1/principals/" + f.ids[who] + "/tokens/" + old + "/revoke", check: mxExpect("state", "revoked", "id", old)}
			}},

		// Break-glass: the deployment administrator asks; the party's administrators decide;
		// every principal of the party sees the requests.
		{op: "POST /v1/parties/{id}/access", own: mxOnly(mx201, mx403, "*"), other: mxOnly(mx201, mx403, "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/parties/" + mxPick(c, accessParty(c), "initech") + "/access", body: map[string]any{"reason": "matrix", "duration": "10m"},
					check: mxThen(mxExpect("state", "pending"), f.readBack(c.who, "/v1/access/%s", "id", "state", "pending"))}
			}},
		{op: "GET /v1/parties/{id}/access", own: mxAll(mxSees), other: mxOnly(mxSees, mx403, "auditco", "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				p := mxPick(c, accessParty(c), "initech")
				return mxReq{path: "/v1/parties/" + p + "/access", marker: f.acc[p]}
			}},
		{op: "GET /v1/access/{id}", own: mxAll(mx200), other: seeIan,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/access/" + f.acc[mxPick(c, accessParty(c), "initech")]}
			}},
		{op: "POST /v1/access/{id}/decision",
			// Only an administrator of the party decides; the requester never.
			own: mxBy{mx403, mx403, mx403, mx403, mx403, mx403, mx403, mx200}, other: manageIan,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := f.acc[mxPick(c, accessParty(c), "initech")]
				if c.allowed() {
					id = f.access(t, c.party, false)
				}
				return mxReq{path: "/v1/access/" + id + "/decision", body: map[string]any{"approve": true}, check: mxExpect("state", "approved")}
			}},
		{op: "POST /v1/access/{id}/end",
			// The party's administrators or the requester end an open window; the requester's
			// own requests here are pending (409).
			own:   mxBy{mx403, mx403, mx403, mx403, mx403, mx403, mx409, mx200},
			other: mxBy{mx404, mx404, mx404, mx404, mx404, mx403, mx409, mx404},
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := f.acc[mxPick(c, accessParty(c), "initech")]
				if c.allowed() {
					id = f.access(t, c.party, true)
				}
				return mxReq{path: "/v1/access/" + id + "/end", check: mxExpect("state", "ended")}
			}},
	}
}
