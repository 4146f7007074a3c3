package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// The attacks of issue 22 (findings 3, 7, 8 and 9) by a hostile tenant, each reproduced through
// the real HTTPS API or EST over real TLS on loopback, with a bounded number of requests, and
// each followed by a legitimate request that must still succeed.

// tom is the principal of a second operator, tailspin, that addOperator makes.
const tom = "tailspin/tom"

// addOperator makes the operator party tailspin with the principal tom and an operational
// hierarchy, and returns the issuing CA's ID.
func addOperator(t *testing.T, s *devServer) string {
	t.Helper()
	newParty(t, s, "tailspin", "Tailspin Operations", "operator")
	addPrincipal(t, s, "tailspin", "tom", false)
	var h struct{ Issuing struct{ ID string } }
	s.must(t, 201, tom, "POST", "/v1/operational/hierarchies", map[string]any{"operator_id": "tailspin", "name": "tailspin-ops"}).json(t, &h)
	return h.Issuing.ID
}

// tailspinEnv creates tailspin's environment name and returns its ID and EST label.
func tailspinEnv(t *testing.T, s *devServer, issuing, name string) (id, label string) {
	t.Helper()
	var e struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		ESTLabel string `json:"est_label"`
	}
	s.must(t, 201, tom, "POST", "/v1/environments", map[string]any{"operator_id": "tailspin", "name": name, "issuing_ca_id": issuing,
		"trust_domain": "tailspin.example", "lifetime": "24h", "max_age": "72h"}).json(t, &e)
	if e.Name != name {
		t.Fatalf("environment %s is named %q, want %q", e.ID, e.Name, name)
	}
	return e.ID, e.ESTLabel
}

// TestESTLabelFirstClaimHolds (finding 3): operator B creates environments named like operator
// A's, among them the one the bare EST path serves. A's devices keep enrolling and
// re-enrolling over EST (openssl and curl, real TLS) at the bare path and at A's label; B's
// environments answer at their IDs only, which creating them says.
func TestESTLabelFirstClaimHolds(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	s := startDev(t, "")
	dir := t.TempDir()
	U := s.info.ESTURL
	lotID := demoLot(t, s, "lot-sq")
	plantA := opEnv(t, s, "plant-sq", nil)
	demoA := demoEnvID(t, s)
	for _, sn := range []string{"SN-Q1", "SN-Q2", "SN-Q3", "SN-Q4"} {
		deliveredDevice(t, s, dir, lotID, "lot-sq", sn)
	}
	var env struct {
		ESTLabel string `json:"est_label"`
	}
	s.must(t, 200, oscar, "GET", "/v1/environments/"+plantA, nil).json(t, &env)
	if env.ESTLabel != "plant-sq" {
		t.Fatalf("A's environment plant-sq has EST label %q, want its name", env.ESTLabel)
	}
	estEnroll(t, s, dir, U, "simpleenroll", "SN-Q1.factory.pem", "SN-Q1.key", "q1a")
	estEnroll(t, s, dir, U+"/plant-sq", "simpleenroll", "SN-Q2.factory.pem", "SN-Q2.key", "q2a")

	// The attack: B takes both names.
	issuingB := addOperator(t, s)
	for _, name := range []string{"demo", "plant-sq"} {
		id, label := tailspinEnv(t, s, issuingB, name)
		if label != id {
			t.Errorf("B's environment %q got EST label %q; the name is A's, so it must be its ID %s", name, label, id)
		}
		var got struct {
			ESTLabel string `json:"est_label"`
		}
		s.must(t, 200, tom, "GET", "/v1/environments/"+id, nil).json(t, &got)
		if got.ESTLabel != id {
			t.Errorf("GET B's %q: EST label %q, want %s", name, got.ESTLabel, id)
		}
	}
	yardB, label := tailspinEnv(t, s, issuingB, "tail-yard")
	if label != "tail-yard" {
		t.Errorf("B's environment tail-yard, a fresh name, got EST label %q", label)
	}

	// A's devices: re-enroll and enroll at the bare path and at plant-sq, in A's environments.
	estEnroll(t, s, dir, U, "simplereenroll", "q1a.pem", "q1a.key", "q1b")
	estEnroll(t, s, dir, U, "simpleenroll", "SN-Q3.factory.pem", "SN-Q3.key", "q3a")
	estEnroll(t, s, dir, U+"/plant-sq", "simplereenroll", "q2a.pem", "q2a.key", "q2b")
	estEnroll(t, s, dir, U+"/plant-sq", "simpleenroll", "SN-Q4.factory.pem", "SN-Q4.key", "q4a")
	for name, want := range map[string]string{"q1b": demoA, "q3a": demoA, "q2b": plantA, "q4a": plantA} {
		var d deviceView
		s.must(t, 200, oscar, "GET", "/v1/devices/"+certDeviceID(t, dir, name+".pem"), nil).json(t, &d)
		if d.EnvironmentID != want || d.State != "active" {
			t.Errorf("%s: device in %s (%s), want active in %s", name, d.EnvironmentID, d.State, want)
		}
	}
	// B's environments are reachable at their IDs and their own names.
	for label, want := range map[string]string{yardB: "tailspin-ops Issuing CA", "tail-yard": "tailspin-ops Issuing CA", "plant-sq": "contoso-ops Issuing CA", "": "contoso-ops Issuing CA"} {
		path := U + "/cacerts"
		if label != "" {
			path = U + "/" + label + "/cacerts"
		}
		out := sh(t, dir, fmt.Sprintf(`curl -sS --fail-with-body --max-time 20 --cacert '%s' '%s' | tr -d '\r\n' | openssl base64 -d -A | openssl pkcs7 -inform DER -print_certs -noout`, s.info.TLSCAFile, path))
		if !strings.Contains(out, want) {
			t.Errorf("cacerts at label %q lacks %q:\n%s", label, want, out)
		}
	}
}

// certDeviceID is the device ID in the SPIFFE URI of an operational certificate file.
func certDeviceID(t *testing.T, dir, name string) string {
	t.Helper()
	c := certInfo(t, dir, name)
	for _, u := range c.URIs {
		if _, id, ok := strings.Cut(u.Path, "/device/"); ok {
			return id
		}
	}
	t.Fatalf("%s names no device: %v", name, c.URIs)
	return ""
}

// challengeServer is the API of an App built over SQLite with a cap of limit live challenges
// per principal and the clock now, served over TLS on loopback with the dev seed; the App
// leads (StartStatus), so it may purge.
func challengeServer(t *testing.T, limit int, now func() time.Time) (*devServer, *App) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kp, err := keyfile.New(filepath.Join(dir, "keys"), keys.Secret("challenge-test"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := Build(Wiring{Store: st, Keys: kp, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: now, Challenges: limit})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "tokens.json")
	if err := a.devSeed(ctx, tokenFile); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(a.Handler())
	t.Cleanup(srv.Close)
	if err := a.StartStatus(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	s := &devServer{dir: dir, info: DevInfo{APIURL: srv.URL, TokenFile: tokenFile}, http: srv.Client()}
	s.http.Timeout = 30 * time.Second
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s.tokens); err != nil {
		t.Fatal(err)
	}
	return s, a
}

// TestChallengeDutyLimitAndPurge (finding 7): a principal without the duty the proof serves —
// support vendor, auditor, manufacturer — gets no challenge; the operator's principal gets at
// most limits.challenges in a challenge's life, while another principal of the operator still
// onboards a device; nothing is deleted on the onboarding path, and the leader's purge
// removes the expired challenges and records them, coalesced, in the audit log. The refusals
// are counted by reason on /metrics.
func TestChallengeDutyLimitAndPurge(t *testing.T) {
	requireTool(t, "openssl")
	const limit = 5
	var skew atomic.Int64
	s, a := challengeServer(t, limit, func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-ch")
	envID := opEnv(t, s, "plant-ch", nil)
	deliveredDevice(t, s, dir, lotID, "lot-ch", "SN-C1")
	deliveredDevice(t, s, dir, lotID, "lot-ch", "SN-C2")
	keyHash := strings.Repeat("ab", 32)

	for _, who := range []string{eve, audrey, alice, station} {
		if _, r := askChallenge(t, s, who, "onboard", envID, keyHash, 403); !strings.Contains(string(r.Body), "operational/issue") {
			t.Errorf("%s: refusal does not name the duty: %s", who, r.Body)
		}
	}
	// A renewal challenge for a certificate the caller may not renew, or that does not exist.
	id, _ := onboard(t, s, dir, envID, "SN-C1", "c1op", 201)
	for _, who := range []string{eve, audrey} {
		askChallenge(t, s, who, "renew", id.Device.OperationalCert, keyHash, 404)
	}
	askChallenge(t, s, oscar, "renew", "7fffffffffffffff", keyHash, 404)
	for _, bad := range []map[string]string{
		{"purpose": "possession", "environment_id": envID, "csr_key_sha256": keyHash},
		{"purpose": "onboard", "environment_id": envID, "csr_key_sha256": "abc"},
		{"purpose": "onboard", "csr_key_sha256": keyHash},
		{"purpose": "renew", "environment_id": envID, "csr_key_sha256": keyHash},
	} {
		s.must(t, 400, oscar, "POST", "/v1/challenges", bad)
	}
	s.must(t, 400, oscar, "POST", "/v1/challenges", nil)

	// The cap: oscar holds one challenge (used to onboard SN-C1; the refusals above made none).
	// Fill up to the limit; the next is refused.
	held := 1
	for ; held < limit; held++ {
		askChallenge(t, s, oscar, "onboard", envID, keyHash, 201)
	}
	if _, r := askChallenge(t, s, oscar, "onboard", envID, keyHash, 403); !strings.Contains(string(r.Body), "limits.challenges") {
		t.Errorf("refusal at the cap: %s", r.Body)
	}
	// Another principal of the operator is not held back: olivia onboards SN-C2.
	csr := newCSR(t, dir, "c2op")
	h := csrKeyHash(t, csr)
	c, _ := askChallenge(t, s, olivia, "onboard", envID, h, 201)
	s.must(t, 201, olivia, "POST", "/v1/environments/"+envID+"/onboard", map[string]any{"csr": csr, "factory_certificate": read(t, dir, "SN-C2.factory.pem"),
		"proof": map[string]string{"challenge_id": c.ID, "signature": signProof(t, dir, "SN-C2.key", c, h)}, "facts": goodFacts})

	// A challenge's life later oscar may ask again; the expired challenges are still stored
	// (nothing is purged on the onboarding path) until the leader purges them.
	skew.Store(int64(6 * time.Minute))
	askChallenge(t, s, oscar, "onboard", envID, keyHash, 201)
	n, err := a.purgeChallenges(context.Background())
	if err != nil || n != limit+1 {
		t.Fatalf("purge: %d challenges, %v; want the %d that expired", n, err, limit+1)
	}
	if n, err := a.purgeChallenges(context.Background()); err != nil || n != 0 {
		t.Errorf("second purge: %d, %v", n, err)
	}
	var evs struct {
		Items []struct {
			PartyID     string         `json:"party_id"`
			PrincipalID string         `json:"principal_id"`
			Action      string         `json:"action"`
			Scope       string         `json:"scope"`
			Detail      map[string]any `json:"detail"`
		} `json:"items"`
	}
	s.must(t, 200, audrey, "GET", "/v1/audit/events", nil).json(t, &evs)
	got := map[string]string{}
	for _, e := range evs.Items {
		if e.Action == "challenge.expire" {
			if e.PrincipalID != "hallmark:challenges" || e.PartyID != "contoso" || e.Scope != "environment:"+envID {
				t.Errorf("purge event %+v", e)
			}
			got[fmt.Sprint(e.Detail["principal_id"])] = fmt.Sprintf("issued %v used %v", e.Detail["issued"], e.Detail["used"])
		}
	}
	oscarID, oliviaID := principalID(t, s, oscar), principalID(t, s, olivia)
	if want := map[string]string{oscarID: fmt.Sprintf("issued %d used 1", limit), oliviaID: "issued 1 used 1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("purge audit events %v, want %v", got, want)
	}

	// The refusals by reason, on the metrics listener.
	ms, err := a.ServeMetrics("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(ms.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`hallmark_possession_refusals_total{reason="challenge_limit"} 1`,
		// eve, audrey, alice and station to onboard; eve and audrey to renew; the unknown serial.
		`hallmark_possession_refusals_total{reason="challenge_duty"} 7`,
		fmt.Sprintf("hallmark_challenges_issued_total %d", limit+2),
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func principalID(t *testing.T, s *devServer, who string) string {
	t.Helper()
	var p struct{ ID string }
	s.must(t, 200, who, "GET", "/v1/whoami", nil).json(t, &p)
	return p.ID
}

// TestOnboardRevealsNothingBeforeProof (finding 8): operator B, onboarding into its own
// environment with factory certificates of A's devices in every state, and renewing with A's
// operational certificates, without proof of their keys, gets one refusal whatever the device:
// nothing of its custodian or state. A then onboards its device.
func TestOnboardRevealsNothingBeforeProof(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-pr")
	envA := opEnv(t, s, "plant-pr", nil)
	for _, sn := range []string{"SN-P1", "SN-P2", "SN-P3"} {
		deliveredDevice(t, s, dir, lotID, "lot-pr", sn)
	}
	atFactory := issueFactory(t, s, dir, lotID, "lot-pr", "SN-P4")
	writeFile(t, dir, "SN-P4.factory.pem", atFactory.CertificatePEM)
	active, _ := onboard(t, s, dir, envA, "SN-P2", "p2op", 201)
	quarantined, _ := onboard(t, s, dir, envA, "SN-P3", "p3op", 201)
	s.must(t, 200, oscar, "POST", "/v1/devices/"+quarantined.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "SN-X.key",
		"-subj", "/CN=SN-X", "-days", "30", "-out", "SN-X.factory.pem")

	envB, _ := tailspinEnv(t, s, addOperator(t, s), "plant-b")
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// B's proofs: none, an unknown challenge, and a challenge of its own signed with a key
	// other than the device's.
	proofs := func(csr string) map[string]any {
		h := csrKeyHash(t, csr)
		c, _ := askChallenge(t, s, tom, "onboard", envB, h, 201)
		msg := fmt.Sprintf("hallmark-proof-of-possession-v1\npurpose:onboard\nenvironment:%s\nnonce:%s\ncsr-key-sha256:%s\n", envB, c.Nonce, h)
		sum := sha256.Sum256([]byte(msg))
		sig, err := ecdsa.SignASN1(rand.Reader, attacker, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{
			"none":    map[string]string{},
			"unknown": map[string]string{"challenge_id": "chl_aaaaaaaaaaaaaaaa", "signature": "AAAA"},
			"foreign": map[string]string{"challenge_id": c.ID, "signature": base64.StdEncoding.EncodeToString(sig)},
		}
	}
	var first string
	check := func(what string, r resp) {
		t.Helper()
		if r.Status != 403 {
			t.Fatalf("%s: status %d, want 403: %s", what, r.Status, r.Body)
		}
		detail := fmt.Sprint(r.problem(t)["detail"])
		for _, leak := range []string{"contoso", "custody", "quarantin", "active", "revoked", "held", "chain", atFactory.Device.ID, active.Device.ID} {
			if strings.Contains(detail, leak) {
				t.Errorf("%s: the refusal tells %q: %s", what, leak, detail)
			}
		}
		if first == "" {
			first = detail
		} else if detail != first {
			t.Errorf("%s: refusal %q differs from %q", what, detail, first)
		}
	}
	csr := newCSR(t, dir, "b-op")
	for _, sn := range []string{"SN-P1", "SN-P2", "SN-P3", "SN-P4", "SN-X"} {
		for kind, proof := range proofs(csr) {
			before := auditCount(t, s)
			r := s.call(t, tom, "POST", "/v1/environments/"+envB+"/onboard", map[string]any{"csr": csr, "factory_certificate": read(t, dir, sn+".factory.pem"), "proof": proof, "facts": goodFacts})
			check(sn+" with proof "+kind, r)
			if after := auditCount(t, s); after != before {
				t.Errorf("%s: audit log grew %d → %d", sn, before, after)
			}
		}
	}
	first = ""
	for _, name := range []string{"p2op", "p3op"} {
		r := s.call(t, tom, "POST", "/v1/renewals", map[string]any{"csr": csr, "current_certificate": read(t, dir, name+".pem"),
			"proof": map[string]string{"challenge_id": "chl_aaaaaaaaaaaaaaaa", "signature": "AAAA"}, "facts": goodFacts})
		check("renewal of "+name, r)
	}
	// The legitimate onboarding still succeeds.
	onboard(t, s, dir, envA, "SN-P1", "p1op", 201)
}

// TestOnboardProofRelayRefused (finding 9): a relay that takes a device's proof and attaches
// its own CSR, or has the device sign a challenge the relay asked for its own key, or replays
// the proof at another environment or for renewal, or sends a proof over the nonce alone (the
// old form), is refused. The device then onboards with a fresh proof.
func TestOnboardProofRelayRefused(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-rl")
	envA := opEnv(t, s, "plant-rl", nil)
	env2 := opEnv(t, s, "plant-rl2", nil)
	deliveredDevice(t, s, dir, lotID, "lot-rl", "SN-L1")
	factory := read(t, dir, "SN-L1.factory.pem")
	deviceCSR := newCSR(t, dir, "dev-op")
	relayCSR := newCSR(t, dir, "relay-op")
	devHash, relayHash := csrKeyHash(t, deviceCSR), csrKeyHash(t, relayCSR)
	// docs/design.md's openssl recipe for csr_key_sha256 gives the same hash.
	if out := sh(t, dir, "openssl req -in dev-op.csr -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r"); !strings.HasPrefix(out, devHash+" ") {
		t.Errorf("openssl gives %q for the CSR key, want %s", out, devHash)
	}
	body := func(csr string, proof map[string]string) map[string]any {
		return map[string]any{"csr": csr, "factory_certificate": factory, "proof": proof, "facts": goodFacts}
	}
	// The device proves for its own CSR; each proof is fresh (a challenge serves one attempt).
	devProof := func(env string) map[string]string {
		c, _ := askChallenge(t, s, oscar, "onboard", env, devHash, 201)
		return map[string]string{"challenge_id": c.ID, "signature": signProof(t, dir, "SN-L1.key", c, devHash)}
	}
	// The relay asks for a challenge for its own CSR key; the device signs the message it
	// builds for its own CSR.
	relayed := func() map[string]string {
		c, _ := askChallenge(t, s, oscar, "onboard", envA, relayHash, 201)
		return map[string]string{"challenge_id": c.ID, "signature": signProof(t, dir, "SN-L1.key", c, devHash)}
	}
	nonceOnly := func() map[string]string {
		c, _ := askChallenge(t, s, oscar, "onboard", envA, devHash, 201)
		nonce, _ := base64.StdEncoding.DecodeString(c.Nonce)
		writeFile(t, dir, "nonce.bin", string(nonce))
		run(t, dir, "openssl", "dgst", "-sha256", "-sign", "SN-L1.key", "-out", "nonce.sig", "nonce.bin")
		return map[string]string{"challenge_id": c.ID, "signature": base64.StdEncoding.EncodeToString([]byte(read(t, dir, "nonce.sig")))}
	}
	cases := []struct {
		name, path string
		body       map[string]any
	}{
		{"the device's proof with the relay's CSR", "/v1/environments/" + envA + "/onboard", body(relayCSR, devProof(envA))},
		{"a challenge for the relay's key signed by the device", "/v1/environments/" + envA + "/onboard", body(relayCSR, relayed())},
		{"the device's proof at another environment", "/v1/environments/" + env2 + "/onboard", body(deviceCSR, devProof(envA))},
		{"a proof over the nonce alone", "/v1/environments/" + envA + "/onboard", body(deviceCSR, nonceOnly())},
		{"an onboarding proof sent to renew", "/v1/renewals", map[string]any{"csr": relayCSR, "current_certificate": factory, "proof": devProof(envA), "facts": goodFacts}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := auditCount(t, s)
			r := s.call(t, oscar, "POST", tc.path, tc.body)
			if r.Status != 403 || !strings.Contains(fmt.Sprint(r.problem(t)["detail"]), "proof of possession") {
				t.Fatalf("status %d, want 403 (no valid proof of possession): %s", r.Status, r.Body)
			}
			if after := auditCount(t, s); after != before {
				t.Errorf("audit log grew %d → %d", before, after)
			}
		})
	}
	// The device's own request, with a fresh proof, succeeds.
	var id identity
	s.must(t, 201, oscar, "POST", "/v1/environments/"+envA+"/onboard", body(deviceCSR, devProof(envA))).json(t, &id)
	writeFile(t, dir, "dev-op.pem", id.CertificatePEM)
	if got := certInfo(t, dir, "dev-op.pem"); !keysEqual(t, got, dir, "dev-op.csr") {
		t.Error("the certificate is not for the device's CSR key")
	}
}

// keysEqual reports whether the certificate holds the key of the PEM CSR file.
func keysEqual(t *testing.T, c *x509.Certificate, dir, csrFile string) bool {
	t.Helper()
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:]) == csrKeyHash(t, read(t, dir, csrFile))
}
