package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/httpapi"
)

// TestAuthorizationMatrix walks every API operation (mxRows) with a caller of every party
// kind — manufacturer acme, contract manufacturer fabrikam, distributor northwind, operator
// contoso (oscar, not an administrator), support vendor globex, auditor auditco — with the
// two administrator roles — the deployment administrator, which belongs to no party (its
// "party" is the deployment scope "*"), and contoso's administrator — and with no token, each
// against a target in its own scope and one in another party's scope, on one dev server. The
// worlds are described in authz_matrix_fixture_test.go. Where no column says otherwise
// (mxOnly), contoso's administrator answers as contoso.
//
// "Own" is the caller's own party wherever a request names a party, and otherwise the world-A
// object the caller has a part in: the device it made, holds, operates or has support access
// to (acme: dA, fabrikam: dC, northwind: dD, contoso: dA, globex: dA, auditco: dA), the lot it
// issues on, its environment, its transfer, approval or grant. A caller whose party kind can
// own nothing of the sort gets world A's object, so its own cell shows what a party next to
// the owner may do. "Other" is always world B, which belongs to initech and tailspin.
//
// Each cell expects one exact status; list and report cells also say whether the body names
// the cell's target (sees) or not (hides). An allowed cell of a state-changing operation gets
// a fresh target and checks that the change happened, reading it back; refusals run before
// the allowed cells of their row, and a refused change must leave no audit event by its caller. A cell marked mxBug is one where the server is believed wrong: it expects what
// the server should answer and fails until the server is fixed.
func TestAuthorizationMatrix(t *testing.T) {
	rows := append(append(append(mxRows(), mxRotationRows()...), mxRefusalRows()...), mxMakerRows()...)
	rows = append(rows, mxPrincipalRows()...) // mxMakerRows: authz_matrix_makers_test.go
	rows = append(rows, mxVoucherRows()...)   // authz_matrix_vouchers_test.go
	rows = append(rows, mxChangeRows()...)    // authz_matrix_changes_test.go
	rows = append(rows, mxRepairRows()...)    // authz_matrix_repair_test.go
	rows = append(rows, mxReoriginRows()...)  // authz_matrix_reorigin_test.go
	t.Run("every route has a row", func(t *testing.T) { mxRoutes(t, rows) })
	s := startDev(t, "")
	f := newMxFixture(t, s)
	for _, r := range rows {
		name := r.op
		if r.variant != "" {
			name += " (" + r.variant + ")"
		}
		t.Run(name, func(t *testing.T) { r.walk(t, f) })
	}
}

// mxWant is what one cell expects.
type mxWant struct {
	status int
	see    int    // +1: the 2xx body names the cell's marker; -1: it must not
	bug    string // set by mxBug
}

// The answers a cell can expect.
var (
	mx200   = mxWant{status: 200}
	mx201   = mxWant{status: 201}
	mx202   = mxWant{status: 202}
	mx204   = mxWant{status: 204}
	mx400   = mxWant{status: 400}
	mx401   = mxWant{status: 401}
	mx403   = mxWant{status: 403}
	mx404   = mxWant{status: 404}
	mx409   = mxWant{status: 409}
	mxSees  = mxWant{status: 200, see: 1}
	mxHides = mxWant{status: 200, see: -1}
)

// mxBug marks a cell where the server's authorization is believed wrong: w is what it should
// answer, why says what it does instead.
func mxBug(w mxWant, why string) mxWant { w.bug = why; return w }

// mxBy holds one expectation per caller, in mxCallers order:
// acme, fabrikam, northwind, contoso, globex, auditco, the deployment administrator (party
// "*") and contoso's administrator.
type mxBy [8]mxWant

func mxAll(w mxWant) mxBy { return mxBy{w, w, w, w, w, w, w, w} }

// mxOnly is w for the callers of the given parties and rest for the others.
func mxOnly(w, rest mxWant, parties ...string) mxBy {
	var b mxBy
	for i, c := range mxCallers {
		b[i] = rest
		for _, p := range parties {
			if c.party == p {
				b[i] = w
			}
		}
	}
	return b
}

// mxAdminOnly is w for contoso's administrator (the last column) and rest for the others:
// operations for a party's administrators only.
func mxAdminOnly(w, rest mxWant) mxBy {
	b := mxAll(rest)
	b[len(b)-1] = w
	return b
}

// mxCell is one caller and one target of a row.
type mxCell struct {
	party, who string // both empty for the anonymous caller
	other      bool
	want       mxWant
}

func (c mxCell) allowed() bool { return c.want.status/100 == 2 }

func (c mxCell) name() string {
	scope, who := "own", c.party
	if c.other {
		scope = "other"
	}
	if who == "" {
		who = "anonymous"
	}
	return scope + "/" + who
}

// mxPick chooses the own or the other target.
func mxPick[T any](c mxCell, own, other T) T {
	if c.other {
		return other
	}
	return own
}

// mxReq is the request of one cell.
type mxReq struct {
	path   string
	body   any
	marker string                     // what a sees/hides cell looks for in the body
	check  func(t *testing.T, r resp) // after an allowed answer: the change happened
}

// mxRow is one operation: its expectations and how to build the request of a cell.
type mxRow struct {
	op         string // METHOD /path as the server registers it
	variant    string // a second row of one operation says what it varies
	public     bool   // answers without a token; otherwise the anonymous caller gets 401
	anon       mxWant // a public row's answer to the anonymous caller (zero: 200)
	own, other mxBy
	req        func(t *testing.T, f *mxFixture, c mxCell) mxReq
}

func (r mxRow) walk(t *testing.T, f *mxFixture) {
	var cells []mxCell
	for _, other := range []bool{false, true} {
		ws := mxPick(mxCell{other: other}, r.own, r.other)
		for i, c := range mxCallers {
			cells = append(cells, mxCell{party: c.party, who: c.who, other: other, want: ws[i]})
		}
		anon := mxWant{status: 401}
		if r.public {
			anon = mx200
			if r.anon.status != 0 {
				anon = r.anon
			}
		}
		cells = append(cells, mxCell{other: other, want: anon})
	}
	// Refusals first: a refusal meets the shared targets before any allowed change of its row.
	sort.SliceStable(cells, func(i, j int) bool { return !cells[i].allowed() && cells[j].allowed() })
	method, tmpl, _ := strings.Cut(r.op, " ")
	pattern := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$")
	for _, c := range cells {
		t.Run(c.name(), func(t *testing.T) {
			if c.want.status == 0 {
				t.Fatal("the matrix has no expectation for this cell")
			}
			q := r.req(t, f, c)
			if path, _, _ := strings.Cut(q.path, "?"); !pattern.MatchString(path) {
				t.Fatalf("the row built %s, which is not %s", q.path, r.op)
			}
			// A refused change must leave no audit event by its caller.
			watch := method != "GET" && !c.allowed() && c.who != ""
			var head int64
			if watch {
				head = f.auditHead(t)
			}
			res := f.s.call(t, c.who, method, q.path, q.body)
			mxJudge(t, r, c, q, res)
			if watch && res.Status == c.want.status {
				f.unchanged(t, head, c.who)
			}
		})
	}
}

func mxJudge(t *testing.T, r mxRow, c mxCell, q mxReq, res resp) {
	t.Helper()
	bug := ""
	if c.want.bug != "" {
		bug = "AUTHORIZATION BUG: " + c.want.bug + "\n"
	}
	who := c.who
	if who == "" {
		who = "nobody"
	}
	body := string(res.Body)
	if len(body) > 400 {
		body = body[:400] + "…"
	}
	if res.Status != c.want.status {
		t.Errorf("%s%s %s as %s: status %d, want %d; body %s", bug, strings.Fields(r.op)[0], q.path, who, res.Status, c.want.status, body)
		return
	}
	if !c.allowed() {
		p := res.problem(t) // every refusal is problem+json
		t.Logf("%d %v: %v", res.Status, p["type"], p["detail"])
		return
	}
	if c.want.see != 0 {
		if q.marker == "" {
			t.Fatal("the cell expects the body to name its target, but the row gave no marker")
		}
		if named := bytes.Contains(res.Body, []byte(q.marker)); named != (c.want.see > 0) {
			verb := "names"
			if !named {
				verb = "does not name"
			}
			t.Errorf("%s%s %s as %s: the answer %s %s; body %s", bug, strings.Fields(r.op)[0], q.path, who, verb, q.marker, body)
		}
	}
	if q.check != nil {
		q.check(t, res)
	}
}

// mxRoutes fails for every route the server registers or its OpenAPI document describes that
// has no row, and for every row whose route the server does not register.
func mxRoutes(t *testing.T, rows []mxRow) {
	served := map[string]bool{}
	for _, r := range httpapi.New(httpapi.Config{}).Spec {
		served[r.Method+" "+r.Path] = true
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	all := map[string]bool{}
	for op := range served {
		all[op] = true
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			switch m {
			case "get", "put", "post", "delete", "patch", "head", "options":
				all[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	have := map[string]bool{}
	for _, r := range rows {
		have[r.op] = true
	}
	var missing, stale []string
	for op := range all {
		if !have[op] {
			missing = append(missing, op)
		}
	}
	for op := range have {
		if !served[op] {
			stale = append(stale, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	for _, op := range missing {
		t.Errorf("route %s has no row in the authorization matrix (mxRows): add one with every cell", op)
	}
	for _, op := range stale {
		t.Errorf("the authorization matrix has a row for %s, which the server does not register", op)
	}
}

// mxRows is the matrix: one row per operation, expectations in the column order
// acme, fabrikam, northwind, contoso, globex, auditco.
func mxRows() []mxRow {
	a404 := mxOnly(mx200, mx404, "auditco") // hidden from all but the auditor
	a403 := mxOnly(mx200, mx403, "auditco")
	aSees := mxOnly(mxSees, mxHides, "auditco")
	dummyProof := map[string]string{"challenge_id": "chl_none", "signature": "AAAA"}
	return []mxRow{
		// Discovery and identity.
		{op: "GET /v1/openapi.json", public: true, own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/openapi.json"} }},
		{op: "GET /v1/whoami", own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				isAdmin := fmt.Sprint(c.who == deployAdmin || c.who == admin)
				return mxReq{path: "/v1/whoami", check: mxExpect("party_id", c.party, "admin", isAdmin)}
			}},

		// Parties, principals, the ownership matrix: administrators change them; a party reads
		// its own principals and delegates cells under scopes it owns.
		{op: "POST /v1/parties", own: mxOnly(mx201, mx403, "*"), other: mxOnly(mx201, mx403, "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := f.name("mx-party")
				return mxReq{path: "/v1/parties", body: map[string]any{"id": id, "name": id, "kind": mxPick(c, "distributor", "manufacturer")},
					check: mxThen(mxExpect("id", id), f.readBack(c.who, "/v1/parties", "id"))}
			}},
		{op: "GET /v1/parties", own: mxAll(mxSees), other: mxAll(mxSees), // party names are not secret
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				own := f.partyOr(c, "acme")
				if own == "*" {
					own = "acme" // the deployment scope is no party
				}
				return mxReq{path: "/v1/parties", marker: mxPick(c, `"`+own+`"`, `"initech"`)}
			}},
		{op: "POST /v1/principals",
			// A party's administrator makes its principals; the deployment administrator makes
			// deployment administrators (its own "party"), never a principal of a party that has
			// an administrator (issue 16's impersonation), initech included.
			own: mxBy{mx403, mx403, mx403, mx403, mx403, mx403, mx201, mx201}, other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				party := mxPick(c, f.partyOr(c, "acme"), "initech")
				return mxReq{path: "/v1/principals", body: map[string]any{"party_id": party, "name": f.name("mx-p")},
					check: mxThen(mxExpect("party_id", party), f.readBack(c.who, "/v1/principals/%s", "id", "party_id", party))}
			}},
		{op: "GET /v1/parties/{id}/principals", own: mxAll(mxSees), other: mxOnly(mxSees, mx403, "auditco", "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				if c.other {
					return mxReq{path: "/v1/parties/initech/principals", marker: f.ids[mxIan]}
				}
				return mxReq{path: "/v1/parties/" + f.partyOr(c, "acme") + "/principals", marker: f.ids[c.who]}
			}},
		{op: "GET /v1/ownership", own: mxAll(mx200), other: mxAll(mxSees), // who owns what is public
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/ownership", marker: `"initech"`}
			}},
		{op: "PUT /v1/ownership", own: mxOnly(mx200, mx403, "acme", "contoso", "*"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				cell := func(stage, duty, kind, id, party string) map[string]any {
					return map[string]any{"stage": stage, "duty": duty, "scope": map[string]string{"kind": kind, "id": id}, "party_id": party}
				}
				q := mxReq{path: "/v1/ownership"}
				switch {
				case c.party == "*" && !c.other: // the deployment scope's cells are its to set
					q.body, q.check = cell("support", "audit", "deployment", "*", "auditco"), f.cellSet(c.who, "deployment", "*", "auditco")
				case c.party == "*": // a cell over another party's lot is not
					q.body = cell("manufacturing", "issue", "lot", f.lotB, "northwind")
				case c.other && c.party == "contoso":
					q.body = cell("operational", "issue", "environment", f.envB, "contoso")
				case c.other:
					q.body = cell("manufacturing", "issue", "lot", f.lotB, f.partyOr(c, "fabrikam"))
				case c.party == "acme" && c.allowed(): // delegates issuance of a new lot of its own
					lot := f.newLot(t, alice, "acme", f.acmeModel, "sensor-x", f.acmeIssuing, "line-a", "")
					q.body, q.check = cell("manufacturing", "issue", "lot", lot, "fabrikam"), f.cellSet(c.who, "lot", lot, "fabrikam")
				case c.party == "contoso" && c.allowed(): // delegates revocation in a new environment of its own
					env := f.newEnv(t, oscar, "contoso", f.contosoIssuing)
					q.body, q.check = cell("operational", "revoke", "environment", env, "contoso"), f.cellSet(c.who, "environment", env, "contoso")
				case c.party == "globex":
					q.body = cell("support", "issue", "vendor", "globex", "globex")
				case c.party == "auditco":
					q.body = cell("manufacturing", "audit", "deployment", "*", "auditco")
				default: // fabrikam re-delegating its delegated lot, northwind taking it
					q.body = cell("manufacturing", "issue", "lot", f.lotAD, f.partyOr(c, "fabrikam"))
				}
				return q
			}},
		{op: "DELETE /v1/ownership", own: mxBy{mx204, mx403, mx403, mx204, mx403, mx403, mx403, mx204}, other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				del := func(stage, duty, scope string) string {
					return "/v1/ownership?stage=" + stage + "&duty=" + duty + "&scope=" + scope
				}
				q := mxReq{path: del("manufacturing", "issue", "lot:"+f.lotAD)} // fabrikam's delegation
				switch {
				case c.other: // tailspin's own cell over its environment
					q.path = del("operational", "revoke", "environment:"+f.envB)
				case c.party == "acme" && c.allowed(): // takes back the delegation of a new lot
					lot := f.newLot(t, alice, "acme", f.acmeModel, "sensor-x", f.acmeIssuing, "line-a", "fabrikam")
					q.path, q.check = del("manufacturing", "issue", "lot:"+lot), f.cellGone(c.who, "lot", lot)
				case c.party == "contoso" && c.allowed(): // removes a cell it set in a new environment
					env := f.newEnv(t, oscar, "contoso", f.contosoIssuing)
					f.s.must(t, 200, oscar, "PUT", "/v1/ownership", map[string]any{"stage": "operational", "duty": "revoke",
						"scope": map[string]string{"kind": "environment", "id": env}, "party_id": "contoso"})
					q.path, q.check = del("operational", "revoke", "environment:"+env), f.cellGone(c.who, "environment", env)
				case c.party == "globex":
					q.path = del("support", "issue", "vendor:globex")
				case c.party == "auditco":
					q.path = del("manufacturing", "audit", "deployment:*")
				}
				return q
			}},

		// Manufacturing CAs and anchors.
		{op: "POST /v1/manufacturing/hierarchies", own: mxOnly(mx201, mx403, "acme"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				mfr := mxPick(c, "acme", "initech")
				return mxReq{path: "/v1/manufacturing/hierarchies", body: map[string]any{"manufacturer_id": mfr, "name": f.name("mx-ca")},
					check: mxThen(mxExpect("root.party_id", mfr, "issuing.party_id", mfr, "issuing.stage", "manufacturing"), f.readBack(c.who, "/v1/cas?party="+mfr, "issuing.id"))}
			}},
		{op: "POST /v1/manufacturing/imports", own: mxOnly(mx201, mx403, "acme"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				mfr := mxPick(c, "acme", "initech")
				cert, key := mxCA(t, mfr)
				return mxReq{path: "/v1/manufacturing/imports", body: map[string]any{"manufacturer_id": mfr, "name": f.name("mx-legacy"), "certificate_pem": cert, "key_pem": key},
					check: mxThen(mxExpect("party_id", mfr, "imported", "true"), f.readBack(c.who, "/v1/cas?party="+mfr, "id"))}
			}},
		{op: "POST /v1/anchors",
			// Anchors are what an operator's onboarding trusts: the operator (operational/issue
			// over itself) registers them, for its own party only, so "other" registers world B's
			// issuing CA as an anchor of the caller's party. (Until this matrix found it, any
			// party, the auditor included, could register anchors.)
			own: mxOnly(mx201, mx403, "contoso"), other: mxOnly(mx201, mx403, "contoso"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				cert, _ := mxCA(t, "Vendorless Devices")
				if c.other {
					cert = string(f.s.must(t, 200, "", "GET", "/v1/cas/"+f.initechIssuing+"/certificate", nil).Body)
				}
				return mxReq{path: "/v1/anchors", body: map[string]any{"name": f.name("mx-anchor"), "certificate_pem": cert},
					check: mxThen(mxExpect("party_id", c.party, "role", "anchor"), f.readBack(c.who, "/v1/cas?party="+c.party, "id"))}
			}},
		{op: "GET /v1/cas", variant: "?party=", own: mxBy{mxSees, mx200, mx200, mxSees, mx200, mx200, mx200, mxSees}, other: mxOnly(mxSees, mx403, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				if c.other {
					return mxReq{path: "/v1/cas?party=initech", marker: f.initechIssuing}
				}
				return mxReq{path: "/v1/cas?party=" + f.partyOr(c, "acme"), marker: map[string]string{"acme": f.acmeIssuing, "contoso": f.contosoIssuing}[c.party]}
			}},
		{op: "GET /v1/cas", variant: "no filter", own: mxBy{mxSees, mxHides, mxHides, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				marker := f.acmeIssuing
				if c.party == "contoso" {
					marker = f.contosoIssuing
				}
				return mxReq{path: "/v1/cas", marker: mxPick(c, marker, f.initechIssuing)}
			}},
		{op: "GET /v1/cas/{id}/certificate", public: true, own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/cas/" + mxPick(c, f.acmeIssuing, f.initechIssuing) + "/certificate"}
			}},
		{op: "GET /v1/manufacturers/{id}/build-record-key", public: true, own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/manufacturers/" + mxPick(c, "acme", "initech") + "/build-record-key"}
			}},

		// Catalog: changed by its manufacturer; read by the parties with a cell over it (the
		// manufacturer, fabrikam over its delegated lot, the auditor) or holding its devices
		// (northwind, contoso), not by globex, which holds nothing (issue 17).
		// (Until issue 17, every authenticated party read every lot and model.)
		{op: "POST /v1/models", own: mxOnly(mx201, mx403, "acme"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				mfr := mxPick(c, "acme", "initech")
				return mxReq{path: "/v1/models", body: map[string]any{"manufacturer_id": mfr, "name": f.name("mx-model")},
					check: mxThen(mxExpect("manufacturer_id", mfr), f.readBack(c.who, "/v1/models?manufacturer="+mfr, "id"))}
			}},
		{op: "GET /v1/models", own: mxBy{mxSees, mxSees, mxSees, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/models?manufacturer=" + mxPick(c, "acme", "initech"), marker: mxPick(c, f.acmeModel, f.initechModel)}
			}},
		{op: "POST /v1/lots", own: mxOnly(mx201, mx403, "acme"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/lots", body: map[string]any{"model_id": mxPick(c, f.acmeModel, f.initechModel), "name": f.name("mx-lot"), "line": "line-a",
					"issuing_ca_id": mxPick(c, f.acmeIssuing, f.initechIssuing)}, check: f.readBack(c.who, "/v1/lots/%s", "id", "manufacturer_id", "acme")}
			}},
		{op: "GET /v1/lots", own: mxBy{mxSees, mxSees, mxSees, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/lots?manufacturer=" + mxPick(c, "acme", "initech"), marker: mxPick(c, f.lotAD, f.lotB)}
			}},
		{op: "GET /v1/lots/{id}", own: mxBy{mx200, mx200, mx200, mx200, mx404, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/lots/" + mxPick(c, f.ownLot(c.party), f.lotB)}
			}},

		// Factory identities and inventory.
		{op: "POST /v1/lots/{id}/devices", own: mxOnly(mx201, mx403, "acme", "fabrikam"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				lot := mxPick(c, f.ownLot(c.party), f.lotB)
				body, _, _ := f.issueBody(t, lot)
				return mxReq{path: "/v1/lots/" + lot + "/devices", body: body, check: f.readBack(c.who, "/v1/devices/%s", "device.id", "custodian_id", c.party, "state", "registered", "lot_id", lot)}
			}},
		// A signed manifest is its manufacturer's word, with its build-record key: only the
		// manufacturer's principals sign one, of its own lots.
		{op: "POST /v1/manufacturers/{id}/manifest", own: mxOnly(mx200, mx403, "acme"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				mfr, lot := "acme", f.lotA
				if c.other {
					mfr, lot = "initech", f.lotB
				}
				return mxReq{path: "/v1/manufacturers/" + mfr + "/manifest", body: map[string]any{"lot_ids": []string{lot}}, check: mxExpect("manufacturer_id", mfr)}
			}},
		{op: "GET /v1/devices", own: mxBy{mxSees, mxSees, mxSees, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/devices", marker: f.deviceFor(c).ID}
			}},
		{op: "GET /v1/devices/{id}", own: mxBy{mx200, mx200, mx200, mx200, mx404, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/devices/" + f.deviceFor(c).ID}
			}},
		{op: "GET /v1/devices/{id}/certificates/{serial}", own: mxBy{mx200, mx200, mx200, mx200, mx404, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := f.deviceFor(c)
				return mxReq{path: "/v1/devices/" + d.ID + "/certificates/" + d.FactorySerial}
			}},
		// A device's operational records are its operator's (issue 17): its maker sees the
		// device (dA, acme's) without its environment, operational certificates, lineage or
		// grants; until issue 17 it saw them all. The deployment administrator sees no device.
		{op: "GET /v1/devices/{id}", variant: "operational records", own: mxBy{mxHides, mx404, mx404, mxSees, mx404, mxSees, mx404, mxSees}, other: mxOnly(mxSees, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := mxPick(c, f.dA, f.dB)
				return mxReq{path: "/v1/devices/" + d.ID, marker: d.OpSerial}
			}},
		{op: "GET /v1/devices", variant: "?environment=", own: mxBy{mxHides, mxHides, mxHides, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/devices?environment=" + mxPick(c, f.envA, f.envB), marker: mxPick(c, f.dA, f.dB).ID}
			}},
		{op: "GET /v1/devices/{id}/certificates/{serial}", variant: "operational certificate", own: mxBy{mx404, mx404, mx404, mx200, mx404, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := mxPick(c, f.dA, f.dB)
				return mxReq{path: "/v1/devices/" + d.ID + "/certificates/" + d.OpSerial}
			}},
		{op: "GET /v1/devices/{id}/build-record", own: mxBy{mx200, mx200, mx200, mx200, mx404, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/devices/" + f.deviceFor(c).ID + "/build-record"}
			}},

		// Custody: the holder offers, the receiver accepts or refuses, the offerer cancels. A
		// party that cannot see a device is told it does not exist.
		{op: "POST /v1/transfers", own: mxBy{mx201, mx201, mx201, mx201, mx404, mx403, mx404, mx201}, other: mxOnly(mx403, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := f.deviceFor(c)
				if c.allowed() {
					d = f.heldBy(t, c.party)
				}
				to := "northwind"
				if c.party == "northwind" {
					to = "contoso"
				}
				return mxReq{path: "/v1/transfers", body: map[string]any{"to": to, "device_ids": []string{d.ID}}, check: f.readBack(c.who, "/v1/transfers/%s", "id", "state", "offered", "from_party_id", c.party, "to_party_id", to)}
			}},
		{op: "GET /v1/transfers",
			// The list is the caller's own transfers, for auditors too (they read each by ID).
			own: mxBy{mxSees, mxSees, mxSees, mxSees, mxHides, mxHides, mxHides, mxSees}, other: mxAll(mxHides),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/transfers", marker: mxPick(c, f.ownTransfer(c.party), f.xB)}
			}},
		{op: "GET /v1/transfers/{id}", own: mxBy{mx200, mx200, mx200, mx200, mx404, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/transfers/" + mxPick(c, f.ownTransfer(c.party), f.xB)}
			}},
		{op: "GET /v1/transfers/{id}/devices", own: mxBy{mx200, mx200, mx200, mx200, mx404, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/transfers/" + mxPick(c, f.ownTransfer(c.party), f.xB) + "/devices"}
			}},
		{op: "POST /v1/transfers/{id}/accept", own: mxBy{mx200, mx200, mx200, mx200, mx200, mx200, mx404, mx200}, other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				if !c.allowed() {
					return mxReq{path: "/v1/transfers/" + mxPick(c, f.xToGlobex, f.xB) + "/accept"}
				}
				id, dev := f.offerTo(t, c.party)
				return mxReq{path: "/v1/transfers/" + id + "/accept", check: func(t *testing.T, r resp) {
					mxExpect("state", "accepted")(t, r)
					if _, holder := f.deviceState(t, c.who, dev); holder != c.party {
						t.Errorf("after accepting, device %s is held by %s", dev, holder)
					}
				}}
			}},
		{op: "POST /v1/transfers/{id}/refuse", own: mxBy{mx200, mx200, mx200, mx200, mx200, mx200, mx404, mx200}, other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				if !c.allowed() {
					return mxReq{path: "/v1/transfers/" + mxPick(c, f.xToGlobex, f.xB) + "/refuse"}
				}
				id, _ := f.offerTo(t, c.party)
				return mxReq{path: "/v1/transfers/" + id + "/refuse", check: f.readBack(c.who, "/v1/transfers/"+id, "", "state", "refused")}
			}},
		{op: "POST /v1/transfers/{id}/cancel",
			// globex and auditco hold no device: their own transfer is one offered to them.
			own: mxBy{mx200, mx200, mx200, mx200, mx403, mx403, mx404, mx200}, other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := mxPick(c, map[string]string{"globex": f.xToGlobex, "auditco": f.xToAuditco}[c.party], f.xB)
				if id == "" {
					id = f.xToGlobex
				}
				if c.allowed() {
					to := "northwind"
					if c.party == "northwind" {
						to = "contoso"
					}
					id = f.offer(t, c.who, to, f.heldBy(t, c.party).ID)
				}
				return mxReq{path: "/v1/transfers/" + id + "/cancel", check: f.readBack(c.who, "/v1/transfers/"+id, "", "state", "cancelled")}
			}},

		// The audit log: auditors and administrators. These operations name no party's object,
		// so the own and the other cell ask alike (other with other parameters).
		{op: "GET /v1/audit/events", own: a403, other: a403,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/audit/events?after=" + mxPick(c, "0", "10")}
			}},
		{op: "GET /v1/audit/key", public: true, own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/audit/key"} }},
		{op: "GET /v1/audit/checkpoint", own: a403, other: a403,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/audit/checkpoint"} }},
		{op: "POST /v1/audit/checkpoint", own: a403, other: a403,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/audit/checkpoint"} }},
		{op: "GET /v1/audit/proofs/inclusion", own: a403, other: a403,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/audit/proofs/inclusion?index=" + mxPick(c, "0", "5")}
			}},
		{op: "GET /v1/audit/proofs/consistency", own: a403, other: a403,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/audit/proofs/consistency?from=" + mxPick(c, "1", "5")}
			}},
		{op: "GET /v1/audit/leaves", own: a403, other: a403,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/audit/leaves?count=2&start=" + mxPick(c, "0", "5")}
			}},
		{op: "POST /v1/audit/reconcile", own: a403, other: a403,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/audit/reconcile"} }},

		// Operational CAs and environments: the operator's.
		{op: "POST /v1/operational/hierarchies", own: mxOnly(mx201, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				op := mxPick(c, "contoso", "tailspin")
				return mxReq{path: "/v1/operational/hierarchies", body: map[string]any{"operator_id": op, "name": f.name("mx-ops")},
					check: mxThen(mxExpect("issuing.party_id", op, "issuing.stage", "operational"), f.readBack(c.who, "/v1/cas?party="+op, "issuing.id"))}
			}},
		{op: "POST /v1/environments", own: mxOnly(mx201, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				op := mxPick(c, "contoso", "tailspin")
				return mxReq{path: "/v1/environments", body: map[string]any{"operator_id": op, "name": f.name("mx-env"), "issuing_ca_id": mxPick(c, f.contosoIssuing, f.tailspinIssuing),
					"trust_domain": op + ".example", "lifetime": "24h", "max_age": "72h"}, check: f.readBack(c.who, "/v1/environments/%s", "id", "operator_id", op)}
			}},
		{op: "GET /v1/environments", own: mxBy{mxHides, mxHides, mxHides, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/environments", marker: mxPick(c, f.envA, f.envB)}
			}},
		{op: "GET /v1/environments/{id}", own: mxBy{mx404, mx404, mx404, mx200, mx404, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/environments/" + mxPick(c, f.envA, f.envB)}
			}},
		{op: "GET /v1/environments/{id}/policies/{kind}", own: mxBy{mx404, mx404, mx404, mx200, mx404, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/environments/" + mxPick(c, f.envA, f.envB) + "/policies/onboarding", check: mxExpect("items.0.version", "1", "items.0.kind", "onboarding")}
			}},
		{op: "PUT /v1/environments/{id}/policies/{kind}",
			// Refused with 403 naming the owner, though GET answers 404 to the same callers.
			// Allowed, a policy change waits for one other principal of contoso (issue 17): the
			// answer is the pending request, and the environment keeps version 1 meanwhile.
			own: mxOnly(mx202, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				env := mxPick(c, f.envA, f.envB)
				if c.allowed() {
					env = f.newEnv(t, oscar, "contoso", f.contosoIssuing)
				}
				spec := map[string]any{"rules": []map[string]string{{"name": "device-active", "expr": `device.state == "active"`}}}
				return mxReq{path: "/v1/environments/" + env + "/policies/renewal", body: spec,
					check: mxThen(mxExpect("kind", "policy-change", "state", "pending", "subject", "environment:"+env+"/policy:renewal"),
						f.readBack(c.who, "/v1/environments/"+env, "", "renewal_policy.version", "1"))}
			}},
		// A challenge needs the duty its proof serves over the environment (issue 22).
		{op: "POST /v1/challenges", variant: "onboard", own: mxOnly(mx201, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				env := mxPick(c, f.envA, f.envB)
				return mxReq{path: "/v1/challenges", body: map[string]string{"purpose": "onboard", "environment_id": env, "csr_key_sha256": strings.Repeat("ab", 32)},
					check: mxExpect("purpose", "onboard", "environment_id", env)}
			}},
		// A certificate the caller may not renew is not found, whether it exists or not.
		{op: "POST /v1/challenges", variant: "renew", own: mxOnly(mx201, mx404, "contoso"), other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := mxPick(c, f.dA, f.dB)
				return mxReq{path: "/v1/challenges", body: map[string]string{"purpose": "renew", "certificate_serial": d.OpSerial, "csr_key_sha256": strings.Repeat("ab", 32)},
					check: mxExpect("purpose", "renew", "environment_id", mxPick(c, f.envA, f.envB))}
			}},
		{op: "POST /v1/environments/{id}/onboard", own: mxOnly(mx201, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				if c.allowed() {
					d := f.heldBy(t, "contoso")
					body, _ := f.onboardBody(t, c.who, f.envA, &d) // a challenge is the asker's only
					return mxReq{path: "/v1/environments/" + f.envA + "/onboard", body: body,
						check: f.readBack(oscar, "/v1/devices/"+d.ID, "", "state", "active", "environment_id", f.envA)}
				}
				d := f.deviceFor(c)
				body := map[string]any{"csr": mxCSR(t, mxKey(t)), "factory_certificate": d.FactoryPEM, "proof": dummyProof, "facts": mxFacts}
				return mxReq{path: "/v1/environments/" + mxPick(c, f.envA, f.envB) + "/onboard", body: body}
			}},
		{op: "POST /v1/renewals", own: mxOnly(mx201, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				if c.allowed() {
					d := f.onboarded(t)
					body, _ := f.renewBody(t, c.who, &d, mxFacts)
					return mxReq{path: "/v1/renewals", body: body, check: func(t *testing.T, r resp) {
						mxExpect("evidence.kind", "renew", "evidence.based_on", d.OpSerial)(t, r)
						f.readBack(oscar, "/v1/devices/"+d.ID, "", "operational_certificate", fmt.Sprint(mxField(mxDecode(t, r), "device.operational_certificate")))(t, r)
					}}
				}
				d := mxPick(c, f.dA, f.dB)
				return mxReq{path: "/v1/renewals", body: map[string]any{"csr": mxCSR(t, mxKey(t)), "current_certificate": d.OpPEM, "proof": dummyProof, "facts": mxFacts}}
			}},
		{op: "POST /v1/devices/{id}/revoke",
			// fabrikam's and northwind's own devices were never onboarded: nothing to revoke.
			own: mxBy{mx403, mx409, mx409, mx200, mx404, mx403, mx404, mx200}, other: mxOnly(mx403, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := f.deviceFor(c)
				q := mxReq{body: map[string]string{"reason": "keyCompromise"}}
				if c.allowed() {
					d = f.onboarded(t)
					q.check = mxThen(mxExpect("state", "quarantined", "id", d.ID), f.readBack(oscar, "/v1/devices/"+d.ID, "", "state", "quarantined"))
				}
				q.path = "/v1/devices/" + d.ID + "/revoke"
				return q
			}},
		{op: "POST /v1/devices/{id}/readmit", own: mxBy{mx403, mx409, mx409, mx202, mx404, mx403, mx404, mx202}, other: mxOnly(mx403, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := f.deviceFor(c)
				q := mxReq{body: map[string]string{"reason": "repaired"}}
				if c.allowed() {
					d = f.quarantined(t)
					q.check = mxThen(mxExpect("approval.approver_party", "contoso", "device.state", "quarantined"),
						f.readBack(oscar, "/v1/approvals/%s", "approval.id", "state", "pending", "subject", "device:"+d.ID))
				}
				q.path = "/v1/devices/" + d.ID + "/readmit"
				return q
			}},

		// Release and decommission (issue 17): the operator holding the device, with
		// operational/revoke over its environment; as for revoke, fabrikam's and northwind's
		// own devices were never onboarded.
		{op: "POST /v1/devices/{id}/release", own: mxBy{mx403, mx409, mx409, mx200, mx404, mx403, mx404, mx200}, other: mxOnly(mx403, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return f.endRequest(t, c, "release") }},
		{op: "POST /v1/devices/{id}/decommission", own: mxBy{mx403, mx409, mx409, mx200, mx404, mx403, mx404, mx200}, other: mxOnly(mx403, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return f.endRequest(t, c, "decommission") }},

		// Manufacturing revocation and its cascade.
		{op: "POST /v1/manufacturing/revocations", own: mxOnly(mx201, mx403, "acme"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d, mfr := f.deviceFor(c), mxPick(c, "acme", "initech")
				q := mxReq{path: "/v1/manufacturing/revocations"}
				if c.allowed() {
					d = f.heldBy(t, "acme")
					q.check = func(t *testing.T, r resp) {
						if st, _ := f.deviceState(t, alice, d.ID); st != "factory-revoked" {
							t.Errorf("after its revocation device %s is %s", d.ID, st)
						}
					}
				}
				q.body = map[string]any{"selector": map[string]string{"manufacturer_id": mfr, "device_id": d.ID}, "reason": "keyCompromise", "dry_run": false}
				return q
			}},
		{op: "POST /v1/manufacturing/revocations", variant: "selector names another manufacturer",
			// The run and its audit events are recorded under selector.manufacturer_id, so a
			// device of another maker is invalid there (400), or not found (404) for a caller that
			// may not see it. (Until this matrix found it, acme's selector {manufacturer_id:
			// initech, device_id: <an acme device>} was accepted: a run under initech's name.)
			own: mxBy{mx400, mx400, mx400, mx400, mx404, mx400, mx404, mx400}, other: mxOnly(mx400, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := mxPick(c, f.ownDevice(c.party), f.dB)
				return mxReq{path: "/v1/manufacturing/revocations", body: map[string]any{
					"selector": map[string]string{"manufacturer_id": mxPick(c, "initech", "acme"), "device_id": d.ID}, "reason": "keyCompromise", "dry_run": false}}
			}},
		{op: "GET /v1/manufacturing/revocations/{id}", own: mxOnly(mx200, mx404, "acme", "auditco"), other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/manufacturing/revocations/" + mxPick(c, f.runA, f.runB)}
			}},

		// Reports: every party sees its own scope; auditors see everything.
		{op: "GET /v1/reports/inventory", own: mxBy{mxSees, mxSees, mxSees, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/reports/inventory", marker: f.deviceFor(c).ID}
			}},
		{op: "GET /v1/reports/rotation",
			// The operational stage is its operator's: acme made a device in envA but does not
			// see envA's entry (issue 17; until then it did).
			own: mxBy{mxHides, mxHides, mxHides, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/reports/rotation", marker: mxPick(c, f.envA, f.envB)}
			}},
		{op: "GET /v1/reports/expiring", own: mxBy{mxHides, mxHides, mxHides, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/reports/expiring", marker: mxPick(c, f.dA, f.dB).ID}
			}},
		{op: "GET /v1/reports/drift", own: mxBy{mxHides, mxHides, mxHides, mxSees, mxHides, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/reports/drift", marker: mxPick(c, f.dA, f.dB).ID}
			}},
		{op: "GET /v1/reports/summary",
			// Counts only, so no target: both cells check that the summary counts exactly the
			// devices the caller's inventory report lists.
			own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/reports/summary", check: func(t *testing.T, r resp) {
					var sum struct{ Devices int }
					var inv struct{ Items []any }
					r.json(t, &sum)
					f.s.must(t, 200, c.who, "GET", "/v1/reports/inventory", nil).json(t, &inv)
					if sum.Devices != len(inv.Items) {
						t.Errorf("the summary counts %d devices, the inventory report lists %d", sum.Devices, len(inv.Items))
					}
				}}
			}},
		{op: "GET /v1/reports/gaps",
			// With idle=1ms every principal that never acted is listed: each party's own, and
			// the auditor sees initech's. The deployment administrator's own are the deployment
			// administrators. initech's administrator still holds its hand-over token and made
			// initech's idle principal with it, so that principal's token is a hand-over token
			// too: the deployment administrator sees it as a handover row (it may list any
			// party's principals anyway), and every other party does not.
			own: mxBy{mxSees, mxSees, mxSees, mxSees, mxSees, mxSees, mx200, mxSees}, other: mxOnly(mxSees, mxHides, "auditco", "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/reports/gaps?idle=1ms", marker: mxPick(c, f.idle[c.party], f.idle["initech"])}
			}},
		{op: "GET /v1/reports/standards", own: mxOnly(mx200, mx403, "auditco", "*"), other: mxOnly(mx200, mx403, "auditco", "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/reports/standards"} }},

		// Approvals: the requester's and the approver's parties, and auditors, see a request; the
		// approver party's principals other than the requester decide it.
		{op: "GET /v1/approvals", own: mxBy{mxSees, mxHides, mxHides, mxSees, mxSees, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/approvals", marker: mxPick(c, f.ownApproval(c.party), f.apB)}
			}},
		{op: "GET /v1/approvals/{id}", own: mxBy{mx200, mx404, mx404, mx200, mx200, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/approvals/" + mxPick(c, f.ownApproval(c.party), f.apB)}
			}},
		{op: "POST /v1/approvals/{id}/decision",
			// globex asked for apA and cannot decide it; the auditor sees it but does not decide.
			own: mxBy{mx200, mx404, mx404, mx200, mx403, mx403, mx404, mx200}, other: mxOnly(mx403, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				q := mxReq{path: "/v1/approvals/" + mxPick(c, f.apA, f.apB) + "/decision", body: map[string]any{"approve": true}}
				switch {
				case c.allowed() && c.party == "acme": // bob asks for a whole-CA revocation; alice is one of two approvers
					id := f.wholeCARequest(t)
					q.path = "/v1/approvals/" + id + "/decision"
					q.check = func(t *testing.T, r resp) {
						mxExpect("approval.state", "pending", "executed", "false")(t, r)
						if st, n := f.approvalState(t, alice, id); st != "pending" || n != 1 {
							t.Errorf("approval %s after one of two approvals: %s with %d decisions", id, st, n)
						}
					}
				case c.allowed(): // olivia asks to re-admit a device; oscar approves and it runs
					d := f.quarantined(t)
					q.path = "/v1/approvals/" + f.readmitRequest(t, olivia, d.ID) + "/decision"
					q.check = func(t *testing.T, r resp) {
						mxExpect("approval.state", "executed", "executed", "true")(t, r)
						if st, _ := f.deviceState(t, oscar, d.ID); st != "registered" {
							t.Errorf("after approved re-admission device %s is %s", d.ID, st)
						}
					}
				}
				return q
			}},
		{op: "POST /v1/approvals/{id}/execute",
			// acme re-runs its executed whole-CA revocation (resumable by design); contoso and
			// globex may ask but apA is pending.
			own: mxBy{mx200, mx404, mx404, mx409, mx409, mx404, mx404, mx409}, other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := mxPick(c, f.apA, f.apB)
				if c.party == "acme" && !c.other {
					id = f.e1
				}
				return mxReq{path: "/v1/approvals/" + id + "/execute", check: mxThen(mxExpect("executed", "true"), f.readBack(c.who, "/v1/approvals/"+id, "", "state", "executed"))}
			}},
		{op: "POST /v1/approvals/{id}/cancel", own: mxBy{mx200, mx404, mx404, mx200, mx200, mx404, mx404, mx200}, other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := mxPick(c, f.apA, f.apB)
				if c.allowed() {
					switch c.party {
					case "contoso":
						id = f.readmitRequest(t, oscar, f.quarantined(t).ID)
					default: // acme and globex withdraw a support request of their own
						id = f.requestGrant(t, c.who, f.envA, f.dA.ID).Approval
					}
				}
				return mxReq{path: "/v1/approvals/" + id + "/cancel", check: f.readBack(c.who, "/v1/approvals/"+id, "", "state", "cancelled")}
			}},
		{op: "GET /v1/approval-rules", own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/approval-rules"} }},
		{op: "PUT /v1/approval-rules/{kind}", own: mxOnly(mx200, mx403, "*"), other: mxOnly(mx200, mx403, "*"),
			// Each kind's default rule, so that an allowed change changes nothing for the rows after.
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/approval-rules/" + mxPick(c, "readmit", "revoke-ca"),
					body:  mxPick(c, map[string]any{"approvers": 1, "other_party": false, "expiry": "72h"}, map[string]any{"approvers": 2, "other_party": false, "expiry": "24h"}),
					check: mxExpect("stored", "true")}
			}},
		{op: "GET /v1/sod-rules", own: mxAll(mx200), other: mxAll(mx200),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/sod-rules"} }},
		{op: "POST /v1/sod-rules", own: mxOnly(mx201, mx403, "*"), other: mxOnly(mx201, mx403, "*"),
			// Rules no principal breaks (support/issue is never held beside operational duties).
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/sod-rules", body: map[string]string{"id": f.name("mx-rule"), "a": "support/issue", "b": mxPick(c, "operational/renew", "operational/revoke")},
					check: f.readBack(c.who, "/v1/sod-rules", "id")}
			}},
		{op: "DELETE /v1/sod-rules/{id}", own: mxOnly(mx204, mx403, "*"), other: mxOnly(mx204, mx403, "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := mxPick(c, "issue-audit-operational", "issue-audit-manufacturing")
				if c.allowed() { // a rule of its own, not a default the rows after rely on
					id = f.name("mx-gone")
					f.s.must(t, 201, deployAdmin, "POST", "/v1/sod-rules", map[string]string{"id": id, "a": "support/issue", "b": "operational/renew"})
				}
				return mxReq{path: "/v1/sod-rules/" + id, check: func(t *testing.T, r resp) {
					if b := f.s.must(t, 200, c.who, "GET", "/v1/sod-rules", nil).Body; bytes.Contains(b, []byte(`"`+id+`"`)) {
						t.Errorf("rule %s is still there after its deletion", id)
					}
				}}
			}},
		{op: "GET /v1/principals/{id}/duties", own: mxAll(mx200), other: mxOnly(mx200, mx404, "auditco", "*"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/principals/" + mxPick(c, f.ids[mxWhoOr(c)], f.ids[mxIan]) + "/duties"}
			}},
		{op: "PUT /v1/principals/{id}/duties",
			// Own: a colleague of the caller's party (the deployment administrator's: an acme
			// principal, which it may not limit without break-glass). Only the party's
			// administrators set duty limits; hostile_tenants_test.go covers more.
			own: mxBy{mx403, mx403, mx403, mx403, mx403, mx403, mx403, mx200}, other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				id := f.ids[mxIan]
				if !c.other {
					p := c.party
					if p == "" || p == "*" { // the anonymous caller, the deployment administrator
						p = "acme"
					}
					id = f.addPrincipal(t, p, f.name("mx-peer"))
				}
				return mxReq{path: "/v1/principals/" + id + "/duties", body: map[string]any{"duties": []string{"operational/audit"}},
					check: f.readBack(c.who, "/v1/principals/"+id+"/duties", "", "items.0.duty", "audit")}
			}},

		// Support: vendors and manufacturers ask, the operator approves through its support CA.
		{op: "POST /v1/support/hierarchies", own: mxOnly(mx201, mx403, "contoso"), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				op := mxPick(c, "contoso", "tailspin")
				return mxReq{path: "/v1/support/hierarchies", body: map[string]any{"operator_id": op, "name": f.name("mx-sup")},
					check: mxThen(mxExpect("issuing.party_id", op, "issuing.stage", "support"), f.readBack(c.who, "/v1/cas?party="+op, "issuing.id"))}
			}},
		{op: "POST /v1/support/grants",
			// A vendor may ask any operator, which then decides; a manufacturer only for devices
			// it made.
			own: mxOnly(mx202, mx403, "acme", "globex"), other: mxOnly(mx202, mx403, "globex"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/support/grants", body: f.grantBody(t, mxPick(c, f.envA, f.envB), mxPick(c, f.dA, f.dB).ID),
					check: mxThen(mxExpect("requester_party", c.party, "approval.approver_party", mxPick(c, "contoso", "tailspin")),
						f.readBack(c.who, "/v1/support/grants/%s", "id", "status", "requested"))}
			}},
		{op: "GET /v1/support/grants", own: mxBy{mxSees, mxHides, mxHides, mxSees, mxSees, mxSees, mxHides, mxSees}, other: aSees,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/support/grants", marker: mxPick(c, f.ownGrant(c.party), f.gB).ID}
			}},
		{op: "GET /v1/support/grants/{id}", own: mxBy{mx200, mx404, mx404, mx200, mx200, mx200, mx404, mx200}, other: a404,
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/support/grants/" + mxPick(c, f.ownGrant(c.party), f.gB).ID}
			}},
		{op: "POST /v1/support/grants/{id}/revoke", own: mxBy{mx200, mx404, mx404, mx200, mx200, mx403, mx404, mx200}, other: mxOnly(mx403, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				g := mxPick(c, f.ownGrant(c.party), f.gB)
				if c.allowed() {
					requester := c.who
					if c.party == "contoso" {
						requester = eve
					}
					g = f.activeGrant(t, requester, olivia, f.envA, f.dA.ID)
				}
				return mxReq{path: "/v1/support/grants/" + g.ID + "/revoke", body: map[string]string{}, check: f.readBack(c.who, "/v1/support/grants/"+g.ID, "", "status", "revoked")}
			}},
		{op: "POST /v1/support/check", own: mxBy{mx200, mx403, mx403, mx200, mx200, mx200, mx403, mx200}, other: mxOnly(mx200, mx403, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				g, d := mxPick(c, f.ownGrant(c.party), f.gB), mxPick(c, f.dA, f.dB)
				return mxReq{path: "/v1/support/check", body: map[string]string{"certificate": g.Cert, "device_id": d.ID}, check: mxExpect("allowed", "true", "grant_id", g.ID)}
			}},
		// Sign-in (docs/signin.md): only a party's administrators register its provider and
		// bind identities: contoso's administrator, for contoso only; never the deployment
		// administrator, which belongs to no party. Start and finish run first, while no party
		// has a provider; then contoso's administrator registers one (never contacted here). The
		// deployment administrator's own cells ask about acme (accessParty).
		{op: "POST /v1/auth/start", public: true, anon: mx404, own: mxAll(mx404), other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/auth/start", body: map[string]string{"party": mxPick(c, accessParty(c), "initech"), "redirect_uri": "http://127.0.0.1:9/callback"}}
			}},
		{op: "POST /v1/auth/finish", public: true, anon: mx401, own: mxAll(mx401), other: mxAll(mx401),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/auth/finish", body: map[string]string{"state": "made-up", "code": "made-up"}}
			}},
		{op: "PUT /v1/auth/providers/{party}", own: mxAdminOnly(mx200, mx403), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				party := mxPick(c, accessParty(c), "initech")
				return mxReq{path: "/v1/auth/providers/" + party, body: map[string]any{"issuer": "https://idp.example", "client_id": "hallmark"},
					check: mxThen(mxExpect("party_id", party, "issuer", "https://idp.example"), f.readBack(c.who, "/v1/auth/providers/"+party, "", "client_id", "hallmark"))}
			}},
		{op: "GET /v1/auth/providers/{party}", own: mxOnly(mx200, mx404, "contoso"), other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/auth/providers/" + mxPick(c, accessParty(c), "initech")}
			}},
		{op: "GET /v1/auth/providers/{party}/bindings", own: mxAdminOnly(mx200, mx403), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/auth/providers/" + mxPick(c, accessParty(c), "initech") + "/bindings"}
			}},
		{op: "PUT /v1/auth/providers/{party}/bindings/{value}", own: mxAdminOnly(mx200, mx403), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				party, principal := mxPick(c, accessParty(c), "initech"), f.ids[mxIan]
				q := mxReq{path: "/v1/auth/providers/" + party + "/bindings/someone"}
				if c.allowed() { // contoso's administrator binds one of contoso's principals
					principal = f.ids[oscar]
					q.check = f.readBack(c.who, "/v1/auth/providers/contoso/bindings", "", "items.0.principal_id", principal)
				}
				q.body = map[string]string{"principal_id": principal}
				return q
			}},
		{op: "DELETE /v1/auth/providers/{party}/bindings/{value}", own: mxAdminOnly(mx204, mx403), other: mxAll(mx403),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				party := mxPick(c, accessParty(c), "initech")
				q := mxReq{path: "/v1/auth/providers/" + party + "/bindings/someone"}
				if c.allowed() {
					f.s.must(t, 200, c.who, "PUT", q.path, map[string]string{"principal_id": f.ids[oscar]})
					q.check = func(t *testing.T, r resp) {
						if b := f.s.must(t, 200, c.who, "GET", "/v1/auth/providers/contoso/bindings", nil).Body; bytes.Contains(b, []byte(`"someone"`)) {
							t.Errorf("the binding is still there after its deletion: %s", b)
						}
					}
				}
				return q
			}},
		{op: "DELETE /v1/auth/sessions/{id}", own: mxAll(mx404), other: mxAll(mx404),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq { return mxReq{path: "/v1/auth/sessions/ses_none"} }},
		{op: "POST /v1/auth/dev", public: true, anon: mx201, own: mxAll(mx201), other: mxAll(mx201), // serve --dev, loopback: anyone may be a demo person
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				return mxReq{path: "/v1/auth/dev", body: map[string]string{"person": mxPick(c, "acme/alice", "contoso/oscar")}, check: mxExpect("dev", "true", "session.method", "dev")}
			}},
	}
}
