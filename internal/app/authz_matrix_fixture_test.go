package app

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The authorization matrix (authz_matrix_test.go) runs against two worlds built once on one
// dev server.
//
// World A is the demo deployment, where every caller of the matrix has a part: acme made the
// device dA, fabrikam issued its factory identity on a lot acme delegated, northwind carried
// it, contoso holds and operates it in environment envA, globex has support access to it, and
// auditco audits everything. dC is still held by fabrikam, dD by northwind.
//
// World B belongs to parties none of the callers has dealings with: a second manufacturer,
// initech, makes dB, and a second operator, tailspin, holds and operates it in envB, where
// initech also has support access. Every "other" cell of the matrix targets world B.

// Principals of world B (tokens added to the harness's map by the fixture).
const (
	mxIan  = "initech/ian"
	mxTom  = "tailspin/tom"
	mxTess = "tailspin/tess"
)

// mxCallers are the matrix's callers, one principal per party kind, in the column order of
// every row (mxBy), then the two administrator roles: the deployment administrator (its
// "party" is the deployment scope "*") and contoso's administrator. oscar is contoso's
// non-admin principal.
var mxCallers = []struct{ party, who string }{
	{"acme", alice}, {"fabrikam", station}, {"northwind", dana}, {"contoso", oscar}, {"globex", eve}, {"auditco", audrey},
	{"*", deployAdmin}, {"contoso", admin},
}

func mxWho(party string) string {
	switch party {
	case "initech":
		return mxIan
	case "tailspin":
		return mxTom
	case "*":
		return deployAdmin
	}
	for _, c := range mxCallers {
		if c.party == party {
			return c.who
		}
	}
	panic("no principal for party " + party)
}

func mxParty(who string) string { p, _, _ := strings.Cut(who, "/"); return p }

// mxFacts are what a device of either world reports when nothing drifted.
var mxFacts = map[string]any{"firmware_digest": strings.Repeat("0f", 32), "hardware_revision": "B"}

// mxDrifted differs from the build records' hardware revision: the renewal policy lets it
// through and the drift report shows it.
var mxDrifted = map[string]any{"firmware_digest": strings.Repeat("0f", 32), "hardware_revision": "Z"}

// mxDev is a device with the keys a test needs to act as it.
type mxDev struct {
	ID, Serial, FactorySerial, FactoryPEM string
	Key                                   *ecdsa.PrivateKey // the factory key
	OpPEM, OpSerial                       string
	OpKey                                 *ecdsa.PrivateKey
}

// mxGrant is a support grant, its approval and, once issued, its certificate.
type mxGrant struct{ ID, Approval, Cert string }

type mxLot struct{ mfr, model, name, line string }

type mxFixture struct {
	s    *devServer
	seq  int
	head int64 // the newest audit event seen
	lots map[string]mxLot
	ids  map[string]string // principal key (party/name) → principal ID
	idle map[string]string // party → a principal that never acted
	acc  map[string]string // party → a pending break-glass request of the deployment administrator

	// World A.
	acmeModel, acmeIssuing, lotA, lotAD string // lotA: acme issues itself; lotAD: delegated to fabrikam
	contosoIssuing, envA                string
	spareIssuing                        string // an acme CA revoked whole under approval e1
	dA, dC, dD                          mxDev
	xM, xA1, xA2, xToGlobex, xToAuditco string // transfers
	gA, gM                              mxGrant
	apA, e1, runA                       string

	// World B.
	initechModel, initechIssuing, lotB string
	tailspinIssuing, envB              string
	dB                                 mxDev
	xB, apB, runB                      string
	gB                                 mxGrant

	// makers by operator (authz_matrix_makers_test.go), made at first use.
	makers map[string]*mxMaker
	// vouchers exported by party (authz_matrix_vouchers_test.go), made at first use.
	vouchers map[string]string
	// contoso's Go maker and a device of it with a re-issued certificate
	// (authz_matrix_reorigin_test.go), made at first use.
	reoriginMaker  *mxExtMaker
	reoriginShared mxDev
	reoriginCert   string
}

func (f *mxFixture) name(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s-%d", prefix, f.seq)
}

// newMxFixture builds both worlds.
func newMxFixture(t *testing.T, s *devServer) *mxFixture {
	t.Helper()
	f := &mxFixture{s: s, lots: map[string]mxLot{}, ids: map[string]string{}, idle: map[string]string{}, acc: map[string]string{}}
	for _, c := range mxCallers {
		f.ids[c.who] = f.whoami(t, c.who)
	}

	// World B's parties, made by the deployment administrator with their first administrators.
	newParty(t, s, "initech", "Initech Devices", "manufacturer")
	newParty(t, s, "tailspin", "Tailspin Operations", "operator")
	for _, who := range []string{mxIan, mxTom, mxTess} {
		party, name, _ := strings.Cut(who, "/")
		f.ids[who] = f.addPrincipal(t, party, name)
	}
	for _, party := range []string{"acme", "fabrikam", "northwind", "contoso", "globex", "auditco", "initech"} {
		f.idle[party] = f.addPrincipal(t, party, "mx-idle") // never acts: the gaps report lists it
		f.acc[party] = f.access(t, party, false)
	}

	// World A.
	f.acmeIssuing = f.caNamed(t, alice, "acme-mfg")
	f.contosoIssuing = f.caNamed(t, oscar, "contoso-ops")
	var models struct{ Items []struct{ ID, Name string } }
	s.must(t, 200, alice, "GET", "/v1/models?manufacturer=acme", nil).json(t, &models)
	for _, m := range models.Items {
		if m.Name == "sensor-x" {
			f.acmeModel = m.ID
		}
	}
	f.lotA = f.newLot(t, alice, "acme", f.acmeModel, "sensor-x", f.acmeIssuing, "line-a", "")
	f.lotAD = f.newLot(t, alice, "acme", f.acmeModel, "sensor-x", f.acmeIssuing, "line-a", "fabrikam")
	f.envA = f.newEnv(t, oscar, "contoso", f.contosoIssuing)

	f.dA = f.issue(t, station, f.lotAD)
	f.xA1 = f.give(t, station, dana, f.dA.ID)
	f.xA2 = f.give(t, dana, oscar, f.dA.ID)
	f.onboard(t, oscar, f.envA, &f.dA)
	f.renew(t, oscar, &f.dA, mxDrifted)
	f.dC = f.issue(t, station, f.lotAD)
	f.dD = f.issue(t, station, f.lotAD)
	f.give(t, station, dana, f.dD.ID)
	dM := f.issue(t, alice, f.lotA)
	f.xM = f.offer(t, alice, "contoso", dM.ID)
	f.xToGlobex = f.offer(t, station, "globex", f.issue(t, station, f.lotAD).ID)
	f.xToAuditco = f.offer(t, station, "auditco", f.issue(t, station, f.lotAD).ID)

	f.gA = f.activeGrant(t, eve, olivia, f.envA, f.dA.ID)
	f.gM = f.activeGrant(t, alice, olivia, f.envA, f.dA.ID)
	f.apA = f.requestGrant(t, eve, f.envA, f.dA.ID).Approval

	// An executed whole-CA revocation of a spare acme CA: bob asks, alice and carol approve.
	f.spareIssuing = f.hierarchy(t, alice, "/v1/manufacturing/hierarchies", "manufacturer_id", "acme")
	f.e1 = f.wholeCARequest(t)
	f.decide(t, alice, f.e1, false)
	f.decide(t, carol, f.e1, true)
	f.runA = f.revokeFactory(t, alice, "acme", f.issue(t, alice, f.lotA).ID)

	// World B.
	f.initechIssuing = f.hierarchy(t, mxIan, "/v1/manufacturing/hierarchies", "manufacturer_id", "initech")
	var m struct{ ID string }
	s.must(t, 201, mxIan, "POST", "/v1/models", map[string]any{"manufacturer_id": "initech", "name": "widget"}).json(t, &m)
	f.initechModel = m.ID
	f.lotB = f.newLot(t, mxIan, "initech", m.ID, "widget", f.initechIssuing, "line-b", "")
	f.tailspinIssuing = f.hierarchy(t, mxTom, "/v1/operational/hierarchies", "operator_id", "tailspin")
	f.hierarchy(t, mxTom, "/v1/support/hierarchies", "operator_id", "tailspin")
	f.envB = f.newEnv(t, mxTom, "tailspin", f.tailspinIssuing)
	s.must(t, 200, mxTom, "PUT", "/v1/ownership", map[string]any{"stage": "operational", "duty": "revoke",
		"scope": map[string]string{"kind": "environment", "id": f.envB}, "party_id": "tailspin"})

	f.dB = f.issue(t, mxIan, f.lotB)
	f.give(t, mxIan, mxTom, f.dB.ID)
	f.onboard(t, mxTom, f.envB, &f.dB)
	f.renew(t, mxTom, &f.dB, mxDrifted)
	f.xB = f.offer(t, mxIan, "tailspin", f.issue(t, mxIan, f.lotB).ID)
	q := f.issue(t, mxIan, f.lotB)
	f.give(t, mxIan, mxTom, q.ID)
	f.onboard(t, mxTom, f.envB, &q)
	s.must(t, 200, mxTom, "POST", "/v1/devices/"+q.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	f.apB = f.readmitRequest(t, mxTom, q.ID)
	f.runB = f.revokeFactory(t, mxIan, "initech", f.issue(t, mxIan, f.lotB).ID)
	f.gB = f.activeGrant(t, mxIan, mxTess, f.envB, f.dB.ID)
	return f
}

func (f *mxFixture) whoami(t *testing.T, who string) string {
	t.Helper()
	var p struct{ ID string }
	f.s.must(t, 200, who, "GET", "/v1/whoami", nil).json(t, &p)
	return p.ID
}

// addPrincipal makes a principal as its party's administrator and keeps its token for s.call.
func (f *mxFixture) addPrincipal(t *testing.T, party, name string) string {
	t.Helper()
	var p struct{ ID, Token string }
	creator := party + "/admin"
	if party == "*" {
		creator = deployAdmin
	}
	f.s.must(t, 201, creator, "POST", "/v1/principals", map[string]any{"party_id": party, "name": name}).json(t, &p)
	f.s.tokens[party+"/"+name] = p.Token
	return p.ID
}

func (f *mxFixture) caNamed(t *testing.T, who, name string) string {
	t.Helper()
	var cas struct {
		Items []struct{ ID, Name, Role string }
	}
	f.s.must(t, 200, who, "GET", "/v1/cas", nil).json(t, &cas)
	for _, c := range cas.Items {
		if c.Name == name && c.Role == "issuing" {
			return c.ID
		}
	}
	t.Fatalf("%s has no issuing CA %s: %+v", who, name, cas.Items)
	return ""
}

// hierarchy creates a root and issuing CA through path and returns the issuing CA's ID.
func (f *mxFixture) hierarchy(t *testing.T, who, path, field, party string) string {
	t.Helper()
	var h struct{ Issuing struct{ ID string } }
	f.s.must(t, 201, who, "POST", path, map[string]any{field: party, "name": f.name(party)}).json(t, &h)
	return h.Issuing.ID
}

func (f *mxFixture) newLot(t *testing.T, who, mfr, model, modelName, ca, line, delegate string) string {
	t.Helper()
	name := f.name("mx-lot")
	body := map[string]any{"model_id": model, "name": name, "line": line, "issuing_ca_id": ca}
	if delegate != "" {
		body["delegate_to"] = delegate
	}
	var l struct{ ID string }
	f.s.must(t, 201, who, "POST", "/v1/lots", body).json(t, &l)
	f.lots[l.ID] = mxLot{mfr: mfr, model: modelName, name: name, line: line}
	return l.ID
}

func (f *mxFixture) newEnv(t *testing.T, who, operator, ca string) string {
	t.Helper()
	var e struct{ ID string }
	f.s.must(t, 201, who, "POST", "/v1/environments", map[string]any{"operator_id": operator, "name": f.name("mx-env"), "issuing_ca_id": ca,
		"trust_domain": operator + ".example", "lifetime": "24h", "max_age": "72h"}).json(t, &e)
	return e.ID
}

func mxKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mxCSR(t *testing.T, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "mx"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// mxCA makes a self-signed CA certificate and its unencrypted PKCS#8 key, as a legacy CA
// brought to an import, or another maker's anchor.
func mxCA(t *testing.T, org string) (certPEM, keyPEM string) {
	t.Helper()
	k := mxKey(t)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{Organization: []string{org}, CommonName: org + " Legacy CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// issueBody is a valid factory issuance request for a new device of lot.
func (f *mxFixture) issueBody(t *testing.T, lot string) (map[string]any, *ecdsa.PrivateKey, string) {
	t.Helper()
	l, ok := f.lots[lot]
	if !ok {
		t.Fatalf("lot %s is not a fixture lot", lot)
	}
	k := mxKey(t)
	serial := fmt.Sprintf("SN-MX-%05d", f.seq+1)
	f.seq++
	rec := map[string]any{
		"manufacturer": l.mfr, "model": l.model, "hardwareRevision": "B", "serial": serial, "lot": l.name, "line": l.line,
		"components":     []map[string]any{{"name": "mcu", "version": "1.2", "digest": map[string]string{"sha256": strings.Repeat("ab", 32)}}},
		"firmwareDigest": map[string]string{"sha256": strings.Repeat("0f", 32)},
		"testResult":     "pass",
		"builtAt":        "2026-11-28T10:00:00Z",
	}
	return map[string]any{"csr": mxCSR(t, k), "build_record": rec}, k, serial
}

// issue registers a device of lot as who; who's party then holds it.
func (f *mxFixture) issue(t *testing.T, who, lot string) mxDev {
	t.Helper()
	body, k, serial := f.issueBody(t, lot)
	var fi struct {
		Device struct {
			ID          string
			FactoryCert string `json:"factory_certificate"`
		}
		CertificatePEM string `json:"certificate_pem"`
	}
	f.s.must(t, 201, who, "POST", "/v1/lots/"+lot+"/devices", body).json(t, &fi)
	return mxDev{ID: fi.Device.ID, Serial: serial, FactorySerial: fi.Device.FactoryCert, FactoryPEM: fi.CertificatePEM, Key: k}
}

// offer offers custody of a device held by who's party to party to.
func (f *mxFixture) offer(t *testing.T, who, to, deviceID string) string {
	t.Helper()
	var tr struct{ ID string }
	f.s.must(t, 201, who, "POST", "/v1/transfers", map[string]any{"to": to, "device_ids": []string{deviceID}}).json(t, &tr)
	return tr.ID
}

// give hands a device from who's party to receiver's, which accepts.
func (f *mxFixture) give(t *testing.T, who, receiver, deviceID string) string {
	t.Helper()
	id := f.offer(t, who, mxParty(receiver), deviceID)
	f.s.must(t, 200, receiver, "POST", "/v1/transfers/"+id+"/accept", nil)
	return id
}

// heldBy is a new device held by party.
func (f *mxFixture) heldBy(t *testing.T, party string) mxDev {
	t.Helper()
	switch party {
	case "acme":
		return f.issue(t, alice, f.lotA)
	case "fabrikam":
		return f.issue(t, station, f.lotAD)
	}
	d := f.issue(t, station, f.lotAD)
	f.give(t, station, mxWho(party), d.ID)
	return d
}

// proof asks, as who, for a challenge for purpose (target: the environment to onboard into,
// or the hex serial of the certificate to renew) bound to csrKey, and signs its proof message
// with k.
func (f *mxFixture) proof(t *testing.T, who, purpose, target string, k, csrKey *ecdsa.PrivateKey) map[string]string {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(csrKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	keyHash := hex.EncodeToString(sum[:])
	req := map[string]string{"purpose": purpose, "csr_key_sha256": keyHash}
	if purpose == "renew" {
		req["certificate_serial"] = target
	} else {
		req["environment_id"] = target
	}
	var c struct {
		ID            string `json:"id"`
		Nonce         string `json:"nonce"`
		EnvironmentID string `json:"environment_id"`
	}
	f.s.must(t, 201, who, "POST", "/v1/challenges", req).json(t, &c)
	msg := fmt.Sprintf("hallmark-proof-of-possession-v1\npurpose:%s\nenvironment:%s\nnonce:%s\ncsr-key-sha256:%s\n", purpose, c.EnvironmentID, c.Nonce, keyHash)
	h := sha256.Sum256([]byte(msg))
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"challenge_id": c.ID, "signature": base64.StdEncoding.EncodeToString(sig)}
}

// onboardBody is a valid onboarding request for d, with a new operational key.
func (f *mxFixture) onboardBody(t *testing.T, who, env string, d *mxDev) (map[string]any, *ecdsa.PrivateKey) {
	t.Helper()
	k := mxKey(t)
	return map[string]any{"csr": mxCSR(t, k), "factory_certificate": d.FactoryPEM, "proof": f.proof(t, who, "onboard", env, d.Key, k), "facts": mxFacts}, k
}

type mxIdentity struct {
	Device struct {
		OperationalCert string `json:"operational_certificate"`
	}
	CertificatePEM string `json:"certificate_pem"`
}

func (f *mxFixture) onboard(t *testing.T, who, env string, d *mxDev) {
	t.Helper()
	body, k := f.onboardBody(t, who, env, d)
	var id mxIdentity
	f.s.must(t, 201, who, "POST", "/v1/environments/"+env+"/onboard", body).json(t, &id)
	d.OpPEM, d.OpSerial, d.OpKey = id.CertificatePEM, id.Device.OperationalCert, k
}

// renewBody is a valid renewal request for d's current operational certificate.
func (f *mxFixture) renewBody(t *testing.T, who string, d *mxDev, facts map[string]any) (map[string]any, *ecdsa.PrivateKey) {
	t.Helper()
	k := mxKey(t)
	return map[string]any{"csr": mxCSR(t, k), "current_certificate": d.OpPEM, "proof": f.proof(t, who, "renew", d.OpSerial, d.OpKey, k), "facts": facts}, k
}

func (f *mxFixture) renew(t *testing.T, who string, d *mxDev, facts map[string]any) {
	t.Helper()
	body, k := f.renewBody(t, who, d, facts)
	var id mxIdentity
	f.s.must(t, 201, who, "POST", "/v1/renewals", body).json(t, &id)
	d.OpPEM, d.OpSerial, d.OpKey = id.CertificatePEM, id.Device.OperationalCert, k
}

// onboarded is a new device active in contoso's envA.
func (f *mxFixture) onboarded(t *testing.T) mxDev {
	t.Helper()
	d := f.heldBy(t, "contoso")
	f.onboard(t, oscar, f.envA, &d)
	return d
}

// quarantined is a new device of envA whose operational identity contoso revoked.
func (f *mxFixture) quarantined(t *testing.T) mxDev {
	t.Helper()
	d := f.onboarded(t)
	f.s.must(t, 200, oscar, "POST", "/v1/devices/"+d.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	return d
}

// readmitRequest asks for re-admission as who and returns the approval it waits for.
func (f *mxFixture) readmitRequest(t *testing.T, who, deviceID string) string {
	t.Helper()
	var res struct{ Approval struct{ ID, State string } }
	f.s.must(t, 202, who, "POST", "/v1/devices/"+deviceID+"/readmit", map[string]string{"reason": "repaired and re-flashed"}).json(t, &res)
	if res.Approval.State != "pending" {
		t.Fatalf("re-admission of %s does not wait: %+v", deviceID, res.Approval)
	}
	return res.Approval.ID
}

func (f *mxFixture) grantBody(t *testing.T, env, deviceID string) map[string]any {
	t.Helper()
	return map[string]any{"environment_id": env, "devices": []string{deviceID}, "reason": "crash dumps from the field",
		"not_after": time.Now().UTC().Add(2 * time.Hour).Format(time.RFC3339), "csr": mxCSR(t, mxKey(t))}
}

// requestGrant asks for support access as who; the grant waits for its operator's approval.
func (f *mxFixture) requestGrant(t *testing.T, who, env, deviceID string) mxGrant {
	t.Helper()
	var g struct {
		ID       string
		Approval struct{ ID string }
	}
	f.s.must(t, 202, who, "POST", "/v1/support/grants", f.grantBody(t, env, deviceID)).json(t, &g)
	return mxGrant{ID: g.ID, Approval: g.Approval.ID}
}

// activeGrant is a grant requested by who and approved by approver, with its certificate.
func (f *mxFixture) activeGrant(t *testing.T, who, approver, env, deviceID string) mxGrant {
	t.Helper()
	g := f.requestGrant(t, who, env, deviceID)
	f.decide(t, approver, g.Approval, true)
	var v struct{ Status, Certificate string }
	f.s.must(t, 200, who, "GET", "/v1/support/grants/"+g.ID, nil).json(t, &v)
	if v.Status != "active" || v.Certificate == "" {
		t.Fatalf("support grant %s after approval: %+v", g.ID, v)
	}
	g.Cert = v.Certificate
	return g
}

// decide approves an approval as who; executed says whether that must run its action.
func (f *mxFixture) decide(t *testing.T, who, id string, executed bool) {
	t.Helper()
	var res struct {
		Executed  bool
		ExecError string `json:"execution_error"`
	}
	f.s.must(t, 200, who, "POST", "/v1/approvals/"+id+"/decision", map[string]any{"approve": true}).json(t, &res)
	if res.Executed != executed {
		t.Fatalf("approval %s decided by %s: executed %v (%s), want %v", id, who, res.Executed, res.ExecError, executed)
	}
}

// wholeCARequest has bob ask to revoke every factory identity of the spare acme CA.
func (f *mxFixture) wholeCARequest(t *testing.T) string {
	t.Helper()
	var res struct{ Approval struct{ ID, State string } }
	f.s.must(t, 202, bob, "POST", "/v1/manufacturing/revocations", map[string]any{
		"selector": map[string]string{"manufacturer_id": "acme", "issuing_ca_id": f.spareIssuing},
		"reason":   "cACompromise", "dry_run": false, "why": "the spare CA's HSM was lost"}).json(t, &res)
	if res.Approval.State != "pending" {
		t.Fatalf("whole-CA revocation does not wait: %+v", res.Approval)
	}
	return res.Approval.ID
}

// revokeFactory revokes one factory identity as who and returns the run.
func (f *mxFixture) revokeFactory(t *testing.T, who, mfr, deviceID string) string {
	t.Helper()
	var res struct {
		RunID   string `json:"run_id"`
		Factory []any
	}
	f.s.must(t, 201, who, "POST", "/v1/manufacturing/revocations", map[string]any{
		"selector": map[string]string{"manufacturer_id": mfr, "device_id": deviceID}, "reason": "keyCompromise", "dry_run": false}).json(t, &res)
	if len(res.Factory) != 1 {
		t.Fatalf("revocation of %s revoked %d factory identities", deviceID, len(res.Factory))
	}
	return res.RunID
}

// deviceState reads a device's state as who.
func (f *mxFixture) deviceState(t *testing.T, who, deviceID string) (state, custodian string) {
	t.Helper()
	var d struct {
		State       string
		CustodianID string `json:"custodian_id"`
	}
	f.s.must(t, 200, who, "GET", "/v1/devices/"+deviceID, nil).json(t, &d)
	return d.State, d.CustodianID
}

// approvalState reads an approval as who.
func (f *mxFixture) approvalState(t *testing.T, who, id string) (state string, decisions int) {
	t.Helper()
	var q struct {
		State     string
		Decisions []any
	}
	f.s.must(t, 200, who, "GET", "/v1/approvals/"+id, nil).json(t, &q)
	return q.State, len(q.Decisions)
}

type mxEvent struct {
	Seq         int64
	PrincipalID string `json:"principal_id"`
	Action      string
	Subject     string
}

// auditEvents reads the audit log after seq, as the auditor, and moves head past it.
func (f *mxFixture) auditEvents(t *testing.T, after int64) []mxEvent {
	t.Helper()
	var all []mxEvent
	for {
		var page struct{ Items []mxEvent }
		f.s.must(t, 200, audrey, "GET", fmt.Sprintf("/v1/audit/events?after=%d", after), nil).json(t, &page)
		all = append(all, page.Items...)
		for _, e := range page.Items {
			after = max(after, e.Seq)
		}
		if len(page.Items) < 1000 {
			break
		}
	}
	f.head = max(f.head, after)
	return all
}

// auditHead is the sequence number of the newest audit event.
func (f *mxFixture) auditHead(t *testing.T) int64 {
	t.Helper()
	f.auditEvents(t, f.head)
	return f.head
}

// unchanged fails when who acted on anything after head: a refused request recorded a change.
// (Events of Hallmark's own principals, such as an OCSP responder being issued, may come at
// any time and are not the caller's.)
func (f *mxFixture) unchanged(t *testing.T, head int64, who string) {
	t.Helper()
	for _, e := range f.auditEvents(t, head) {
		if e.PrincipalID == f.ids[who] {
			t.Errorf("the refused request recorded %s on %s (audit event %d)", e.Action, e.Subject, e.Seq)
		}
	}
}

// Targets and checks of the matrix's cells.

// ownDevice is the world-A device the caller's party has a part in.
func (f *mxFixture) ownDevice(party string) mxDev {
	switch party {
	case "fabrikam":
		return f.dC
	case "northwind":
		return f.dD
	}
	return f.dA
}

// deviceFor is the cell's device: its own, or world B's.
func (f *mxFixture) deviceFor(c mxCell) mxDev { return mxPick(c, f.ownDevice(c.party), f.dB) }

func (f *mxFixture) partyOr(c mxCell, dflt string) string {
	if c.party == "" {
		return dflt
	}
	return c.party
}

// mxDecode decodes a response body for a check.
func mxDecode(t *testing.T, r resp) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// mxField reads a nested field of a decoded body ("approval.state").
func mxField(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		if l, ok := v.([]any); ok { // "items.0.id": an index into a list
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(l) {
				return nil
			}
			v = l[i]
			continue
		}
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// mxExpect is a check that fields of the answer have the given values.
func mxExpect(kv ...string) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		m := mxDecode(t, r)
		for i := 0; i+1 < len(kv); i += 2 {
			if got := fmt.Sprint(mxField(m, kv[i])); got != kv[i+1] {
				t.Errorf("the allowed answer has %s = %s, want %s", kv[i], got, kv[i+1])
			}
		}
	}
}

// ownLot is the lot the caller's party issues on (world A's delegated lot for the others).
func (f *mxFixture) ownLot(party string) string {
	if party == "acme" {
		return f.lotA
	}
	return f.lotAD
}

// ownTransfer is a world-A transfer the caller's party is a side of (or, for those that are
// a side of none, the one that brought dA to contoso).
func (f *mxFixture) ownTransfer(party string) string {
	switch party {
	case "acme":
		return f.xM
	case "fabrikam", "northwind":
		return f.xA1
	}
	return f.xA2
}

// ownApproval is a world-A approval request the caller's party asked for or decides.
func (f *mxFixture) ownApproval(party string) string {
	if party == "acme" {
		return f.e1
	}
	return f.apA
}

// ownGrant is a world-A support grant the caller's party asked for or approved.
func (f *mxFixture) ownGrant(party string) mxGrant {
	if party == "acme" {
		return f.gM
	}
	return f.gA
}

// offerTo offers a new device to party (from fabrikam, or from acme when party is fabrikam).
func (f *mxFixture) offerTo(t *testing.T, party string) (transferID, deviceID string) {
	t.Helper()
	from := "fabrikam"
	if party == "fabrikam" {
		from = "acme"
	}
	d := f.heldBy(t, from)
	return f.offer(t, mxWho(from), party, d.ID), d.ID
}

// cellSet is a check that who reads the cell (scope kind:id → party) in the matrix.
func (f *mxFixture) cellSet(who, kind, id, party string) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var cells struct {
			Items []struct {
				Scope   struct{ Kind, ID string }
				PartyID string `json:"party_id"`
			}
		}
		f.s.must(t, 200, who, "GET", "/v1/ownership", nil).json(t, &cells)
		for _, c := range cells.Items {
			if c.Scope.Kind == kind && c.Scope.ID == id && c.PartyID == party {
				return
			}
		}
		t.Errorf("the matrix has no cell over %s:%s owned by %s after the change", kind, id, party)
	}
}

// mxThen runs checks in order.
func mxThen(checks ...func(t *testing.T, r resp)) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		for _, c := range checks {
			c(t, r)
		}
	}
}

// readBack is a check that reads the change back as who: path, with %s replaced by the
// answer's idField when one is named, then the fields kv (pairs of dotted field and value);
// with no kv, the read body must name the ID.
func (f *mxFixture) readBack(who, path, idField string, kv ...string) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		p, id := path, ""
		if idField != "" {
			id = fmt.Sprint(mxField(mxDecode(t, r), idField))
			p = strings.Replace(p, "%s", id, 1)
		}
		got := f.s.must(t, 200, who, "GET", p, nil)
		if len(kv) == 0 {
			if id == "" || !bytes.Contains(got.Body, []byte(`"`+id+`"`)) {
				t.Errorf("GET %s does not show %s after the change", p, id)
			}
			return
		}
		m := mxDecode(t, got)
		for i := 0; i+1 < len(kv); i += 2 {
			if v := fmt.Sprint(mxField(m, kv[i])); v != kv[i+1] {
				t.Errorf("GET %s after the change: %s = %s, want %s", p, kv[i], v, kv[i+1])
			}
		}
	}
}

// cellGone is a check that who no longer reads a cell over kind:id in the matrix.
func (f *mxFixture) cellGone(who, kind, id string) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if b := f.s.must(t, 200, who, "GET", "/v1/ownership", nil).Body; bytes.Contains(b, []byte(`"`+id+`"`)) {
			t.Errorf("the matrix still has a cell over %s:%s after its deletion", kind, id)
		}
	}
}

func mxWhoOr(c mxCell) string {
	if c.who == "" {
		return alice
	}
	return c.who
}

// endRequest is a release or decommission (verb) of the cell's device; the allowed cell ends a
// new device of envA and reads it back released.
func (f *mxFixture) endRequest(t *testing.T, c mxCell, verb string) mxReq {
	t.Helper()
	d := f.deviceFor(c)
	q := mxReq{body: map[string]string{"note": "matrix"}}
	if c.allowed() {
		d = f.onboarded(t)
		q.check = mxThen(mxExpect("state", "released", "id", d.ID), f.readBack(oscar, "/v1/devices/"+d.ID, "", "state", "released"))
	}
	q.path = "/v1/devices/" + d.ID + "/" + verb
	return q
}
