package app

import (
	"strings"
	"testing"
)

// mxRotationRows are the matrix rows of CA rotation (docs/rotation.md): replacing a CA takes
// the duty that creates it — acme's manufacturing/issue, contoso's operational/issue — and a
// CA's path is public like its certificate.
func mxRotationRows() []mxRow {
	// target is the CA a cell replaces: a fresh hierarchy of the caller's own when allowed (so
	// no other row loses its CA), world A's or world B's otherwise.
	target := func(t *testing.T, f *mxFixture, c mxCell, root bool) string {
		var id string
		switch {
		case c.other && c.party == "contoso":
			id = f.tailspinIssuing
		case c.other:
			id = f.initechIssuing
		case c.allowed() && c.party == "contoso":
			id = f.hierarchy(t, oscar, "/v1/operational/hierarchies", "operator_id", "contoso")
		case c.allowed():
			id = f.hierarchy(t, alice, "/v1/manufacturing/hierarchies", "manufacturer_id", "acme")
		default:
			id = f.acmeIssuing
		}
		if root {
			return f.parentOf(t, id)
		}
		return id
	}
	succeeded := func(t *testing.T, r resp) {
		m := mxDecode(t, r)
		if next := mxField(m, "successor.id"); next == nil || next == "" || mxField(m, "predecessor.successor_id") != next {
			t.Errorf("the answer does not name the successor as the predecessor's: %s", r.Body)
		}
	}
	replace := func(op string, root bool) func(t *testing.T, f *mxFixture, c mxCell) mxReq {
		return func(t *testing.T, f *mxFixture, c mxCell) mxReq {
			id := target(t, f, c, root)
			return mxReq{path: "/v1/cas/" + id + "/" + op, body: map[string]any{"overlap": "1m"},
				check: mxThen(mxExpect("predecessor.id", id), succeeded, f.readBack(c.who, "/v1/cas", "successor.id"))}
		}
	}
	return []mxRow{
		{op: "POST /v1/cas/{id}/rotate", own: mxOnly(mx201, mx403, "acme", "contoso"), other: mxAll(mx403), req: replace("rotate", false)},
		{op: "POST /v1/cas/{id}/rollover", own: mxOnly(mx201, mx403, "acme", "contoso"), other: mxAll(mx403), req: replace("rollover", true)},
		{op: "GET /v1/cas/{id}/chain", public: true, own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/cas/" + mxPick(c, f.acmeIssuing, f.initechIssuing) + "/chain", check: func(t *testing.T, r resp) {
					if n := strings.Count(string(r.Body), "BEGIN CERTIFICATE"); n < 2 {
						t.Errorf("the chain has %d certificates, want the issuing CA and its root", n)
					}
				}}
			}},
		// A manufacturer's build-record key: rotated by the manufacturer, its history public.
		{op: "POST /v1/manufacturers/{id}/build-record-key/rotate", own: mxOnly(mx201, mx403, "acme"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				mfr := mxPick(c, "acme", "initech")
				return mxReq{path: "/v1/manufacturers/" + mfr + "/build-record-key/rotate", check: mxThen(mxExpect("party_id", mfr, "purpose", "build-record"), func(t *testing.T, r resp) {
					key, _ := mxField(mxDecode(t, r), "public_key_pem").(string)
					set := f.s.must(t, 200, "", "GET", "/v1/manufacturers/"+mfr+"/build-record-keys", nil).Body
					if key == "" || !strings.HasPrefix(string(set), key) || strings.Count(string(set), "BEGIN PUBLIC KEY") < 2 {
						t.Errorf("the key history does not start with the new key and keep the old one:\n%s", set)
					}
				})}
			}},
		{op: "GET /v1/manufacturers/{id}/build-record-keys", public: true, own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/manufacturers/" + mxPick(c, "acme", "initech") + "/build-record-keys"}
			}},

		// CA expiry: auditors and the deployment administrator see every CA (Hallmark's own
		// credentials, as in the rotation report), a party its own.
		{op: "GET /v1/reports/ca-expiry", own: mxBy{mxSees, mxHides, mxHides, mxSees, mxHides, mxSees, mxSees, mxSees}, other: mxOnly(mxSees, mxHides, "auditco", "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				marker := f.acmeIssuing
				switch {
				case c.other:
					marker = f.initechIssuing
				case c.party == "contoso":
					marker = f.contosoIssuing
				}
				return mxReq{path: "/v1/reports/ca-expiry", marker: `"` + marker + `"`}
			}},

		// The audit log's checkpoint keys: the history is public; only the deployment
		// administrator rotates the key (a deployment-wide setting), not a party's
		// administrator. The key has no "other": both cells ask the same.
		{op: "GET /v1/audit/keys", public: true, own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/audit/keys"} }},
		{op: "POST /v1/audit/key/rotate", own: mxOnly(mx201, mx403, "*"), other: mxOnly(mx201, mx403, "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/audit/key/rotate", check: func(t *testing.T, r resp) {
					key, _ := mxField(mxDecode(t, r), "verifier_key").(string)
					if cur := string(f.s.must(t, 200, "", "GET", "/v1/audit/key", nil).Body); key == "" || strings.TrimSpace(cur) != key {
						t.Errorf("after the rotation the published key is %q, want the new %q", cur, key)
					}
				}}
			}},
	}
}

// parentOf is the parent of CA id, read as the auditor (who sees every CA).
func (f *mxFixture) parentOf(t *testing.T, id string) string {
	t.Helper()
	var cas struct {
		Items []struct {
			ID       string `json:"id"`
			ParentID string `json:"parent_id"`
		} `json:"items"`
	}
	f.s.must(t, 200, audrey, "GET", "/v1/cas", nil).json(t, &cas)
	for _, c := range cas.Items {
		if c.ID == id && c.ParentID != "" {
			return c.ParentID
		}
	}
	t.Fatalf("CA %s has no parent the auditor can see", id)
	return ""
}
