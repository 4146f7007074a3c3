package app

import (
	"testing"
)

// The authorization matrix's rows for governance changes under approval (issue 17, point 2),
// in the column order of mxBy: acme, fabrikam, northwind, contoso, globex, auditco, the
// deployment administrator ("*"), contoso's administrator. "Own" is the caller's party (its
// rules and groups), or world A's environment envA and device dA; "other" is initech
// (rules and groups) or world B's envB and dB.
func mxChangeRows() []mxRow {
	// A party's rules and groups: its principals, deployment administrators and auditors read
	// them; an administrator of the party sets them.
	partyRead := mxBy{mx200, mx200, mx200, mx200, mx200, mx200, mx200, mx200}
	otherRead := mxOnly(mx200, mx404, "auditco", "*")
	otherSet := mxOnly(mx403, mx404, "auditco", "*")
	ownParty := func(c mxCell) string {
		if c.other {
			return "initech"
		}
		if c.party == "" {
			return "acme"
		}
		return c.party
	}
	envRead := mxBy{mx404, mx404, mx404, mx200, mx404, mx200, mx404, mx200}
	return []mxRow{
		{op: "GET /v1/parties/{id}/change-rules", own: partyRead, other: otherRead,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/parties/" + ownParty(c) + "/change-rules"}
			}},
		// Setting a rule to what it already is (no quorum, a new expiry) changes nobody's
		// approvals; it applies at once, as the rule it replaces needs no approval.
		{op: "PUT /v1/parties/{id}/change-rules/{kind}", own: mxBy{mx403, mx403, mx403, mx403, mx403, mx403, mx200, mx200}, other: otherSet,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				p := ownParty(c)
				return mxReq{path: "/v1/parties/" + p + "/change-rules/ownership-change", body: map[string]any{"quorum": []any{}, "expiry": "48h"},
					check: mxThen(mxExpect("kind", "ownership-change", "expiry", "48h0m0s", "stored", "true"),
						f.readBack(c.who, "/v1/parties/"+p+"/change-rules", "", "items.1.expiry", "48h0m0s"))}
			}},
		{op: "GET /v1/parties/{id}/approver-groups", own: partyRead, other: otherRead,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/parties/" + ownParty(c) + "/approver-groups"}
			}},
		// A group change is governed under the party's policy-change rule (one other
		// principal): an administrator gets a pending request.
		{op: "PUT /v1/parties/{id}/approver-groups/{name}", own: mxBy{mx403, mx403, mx403, mx403, mx403, mx403, mx202, mx202}, other: otherSet,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				p := ownParty(c)
				members := []string{f.ids[oscar], f.idle["contoso"]}
				if p != "contoso" {
					members = []string{f.ids[mxWho(p)]}
				}
				return mxReq{path: "/v1/parties/" + p + "/approver-groups/" + f.name("leads"), body: map[string]any{"members": members},
					check: mxExpect("kind", "approval-rule-change", "state", "pending", "approver_party", p)}
			}},
		{op: "PATCH /v1/environments/{id}", own: mxOnly(mx200, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				env := mxPick(c, f.envA, f.envB)
				if c.allowed() {
					env = f.newEnv(t, oscar, "contoso", f.contosoIssuing)
				}
				return mxReq{path: "/v1/environments/" + env, body: map[string]any{"services": []string{"scada"}, "lifetime": "12h"},
					check: mxThen(mxExpect("lifetime", "12h0m0s", "services.0", "scada"), f.readBack(c.who, "/v1/environments/"+env, "", "lifetime", "12h0m0s"))}
			}},
		{op: "POST /v1/environments/{id}/policies/{kind}/dry-run", own: envRead, other: mxOnly(mx200, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				env := mxPick(c, f.envA, f.envB)
				spec := map[string]any{"rules": []map[string]string{{"name": "device-active", "expr": `device.state == "active"`}}}
				return mxReq{path: "/v1/environments/" + env + "/policies/renewal/dry-run", body: map[string]any{"policy": spec},
					check: mxExpect("environment_id", env, "kind", "renewal")}
			}},
		// A waiver waits for one other principal of the operator by default.
		{op: "POST /v1/waivers", own: mxOnly(mx202, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := mxPick(c, f.dA, f.dB)
				return mxReq{path: "/v1/waivers", body: map[string]any{"device_id": d.ID, "rule": "within-max-age", "reason": "matrix", "for": "1h"},
					check: mxExpect("kind", "waiver", "state", "pending", "subject", "device:"+d.ID)}
			}},
		{op: "GET /v1/waivers", own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/waivers?device=" + mxPick(c, f.dA, f.dB).ID}
			}},
	}
}
