package app

import (
	"fmt"
	"strings"
	"testing"
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
	s.must(t, 201, admin, "POST", "/v1/parties", map[string]any{"id": "tailspin", "name": "Tailspin Operations", "kind": "operator"})
	var p struct{ Token string }
	s.must(t, 201, admin, "POST", "/v1/principals", map[string]any{"party_id": "tailspin", "name": "tom"}).json(t, &p)
	s.tokens[tom] = p.Token
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
