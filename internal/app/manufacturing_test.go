package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManufacturingCAs creates, imports and registers CAs through the API: a new hierarchy,
// an openssl-made CA imported with its (encrypted) key, and another maker's anchor. Bad
// imports change nothing.
func TestManufacturingCAs(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()

	type caJSON struct {
		ID             string `json:"id"`
		Role           string `json:"role"`
		CertificatePEM string `json:"certificate_pem"`
	}
	var h struct{ Root, Issuing caJSON }
	r := s.must(t, 201, alice, "POST", "/v1/manufacturing/hierarchies", map[string]any{"manufacturer_id": "acme", "name": "acme-line2", "algorithm": "ecdsa-p384"})
	r.json(t, &h)
	writeFile(t, dir, "root2.pem", h.Root.CertificatePEM)
	writeFile(t, dir, "iss2.pem", h.Issuing.CertificatePEM)
	if out := run(t, dir, "openssl", "verify", "-CAfile", "root2.pem", "iss2.pem"); !strings.Contains(out, "OK") {
		t.Fatalf("openssl verify issuing CA: %s", out)
	}
	// Another party may not create CAs for acme.
	p := s.must(t, 403, oscar, "POST", "/v1/manufacturing/hierarchies", map[string]any{"manufacturer_id": "acme", "name": "evil"}).problem(t)
	if p["stage"] != "manufacturing" || p["duty"] != "issue" || p["scope"] != "manufacturer:acme" {
		t.Errorf("refusal = %v", p)
	}
	s.must(t, 400, admin, "POST", "/v1/manufacturing/hierarchies", map[string]any{"manufacturer_id": "contoso", "name": "x"})

	// Import an existing CA made with openssl, its key encrypted with its own passphrase.
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "old.key",
		"-subj", "/O=Acme Devices/CN=Acme Legacy CA", "-days", "3650", "-out", "old.pem",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	run(t, dir, "openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "old.key", "-out", "old.enc.key", "-passout", "pass:legacy")
	certPEM := read(t, dir, "old.pem")
	keyPEM := read(t, dir, "old.enc.key")
	otherKey := newCSRKey(t, dir)
	before := auditCount(t, s)
	for _, bad := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"wrong passphrase", map[string]any{"manufacturer_id": "acme", "name": "legacy", "certificate_pem": certPEM, "key_pem": keyPEM, "passphrase": "nope"}, 400},
		{"key of another certificate", map[string]any{"manufacturer_id": "acme", "name": "legacy", "certificate_pem": certPEM, "key_pem": otherKey}, 400},
		{"not a CA", map[string]any{"manufacturer_id": "acme", "name": "legacy", "certificate_pem": read(t, dir, "leaf.pem"), "key_pem": otherKey}, 400},
		{"garbage", map[string]any{"manufacturer_id": "acme", "name": "legacy", "certificate_pem": "hello", "key_pem": keyPEM}, 400},
		{"key URI on a file-key server", map[string]any{"manufacturer_id": "acme", "name": "legacy", "certificate_pem": certPEM, "key_uri": "pkcs11:token=hallmark;id=%01"}, 400},
		{"key URI and key", map[string]any{"manufacturer_id": "acme", "name": "legacy", "certificate_pem": certPEM, "key_uri": "pkcs11:token=hallmark;id=%01", "key_pem": keyPEM}, 400},
		{"no key", map[string]any{"manufacturer_id": "acme", "name": "legacy", "certificate_pem": certPEM}, 400},
	} {
		if r := s.call(t, alice, "POST", "/v1/manufacturing/imports", bad.body); r.Status != bad.want {
			t.Errorf("import %s: status %d, want %d: %s", bad.name, r.Status, bad.want, r.Body)
		}
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("refused imports changed state: audit %d → %d", before, after)
	}
	var imported struct {
		ID, Role string
		Imported bool
	}
	s.must(t, 201, alice, "POST", "/v1/manufacturing/imports", map[string]any{"manufacturer_id": "acme", "name": "legacy", "certificate_pem": certPEM, "key_pem": keyPEM, "passphrase": "legacy"}).json(t, &imported)
	if !imported.Imported || imported.Role != "root" {
		t.Errorf("imported CA = %+v", imported)
	}
	// The imported key is stored re-encrypted under Hallmark's passphrase, not in clear.
	stored := read(t, filepath.Join(s.dir, "keys"), imported.ID+".key.pem")
	if !strings.Contains(stored, "ENCRYPTED PRIVATE KEY") {
		t.Error("imported key is not stored encrypted")
	}

	// Another maker's trust anchor: certificate only; it cannot issue.
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key",
		"-subj", "/O=Globex/CN=Globex Device Root", "-days", "3650", "-out", "globex.pem",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
	var anchor struct {
		ID    string `json:"id"`
		Role  string `json:"role"`
		KeyID string `json:"key_id"`
	}
	s.must(t, 201, oscar, "POST", "/v1/anchors", map[string]any{"name": "globex", "certificate_pem": read(t, dir, "globex.pem")}).json(t, &anchor)
	if anchor.Role != "anchor" || anchor.KeyID != "" {
		t.Errorf("anchor = %+v", anchor)
	}
	s.must(t, 400, oscar, "POST", "/v1/anchors", map[string]any{"name": "leaf", "certificate_pem": read(t, dir, "leaf.pem")})
	// A lot cannot be issued from an anchor.
	var models items
	s.must(t, 200, alice, "GET", "/v1/models?manufacturer=acme", nil).json(t, &models)
	s.must(t, 400, alice, "POST", "/v1/lots", map[string]any{"model_id": models.Items[0].ID, "name": "l-anchor", "issuing_ca_id": anchor.ID})
	s.must(t, 200, "", "GET", "/v1/cas/"+anchor.ID+"/certificate", nil)
}

// TestOwnershipMatrix sets cells through the API: an administrator creates a party and a
// principal whose token works at once; a manufacturer delegates and takes back a lot; a party
// may not set cells over scopes it does not own.
func TestOwnershipMatrix(t *testing.T) {
	s := startDev(t, "")
	var cp struct {
		ID, Kind string
	}
	s.must(t, 201, deployAdmin, "POST", "/v1/parties", map[string]any{"id": "initech", "name": "Initech Integration", "kind": "integrator"}).json(t, &cp)
	s.must(t, 409, deployAdmin, "POST", "/v1/parties", map[string]any{"id": "initech", "name": "Initech 2", "kind": "integrator"})
	var ia struct{ Token string }
	s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "admin", "admin": true}).json(t, &ia)
	s.tokens["initech/admin"] = ia.Token
	var pr struct{ ID, Token string }
	s.must(t, 201, "initech/admin", "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "ian", "kind": "person"}).json(t, &pr)
	if !strings.HasPrefix(pr.Token, "hmk_") {
		t.Fatalf("token %q", pr.Token)
	}
	s.tokens["initech/ian"] = pr.Token
	var who struct {
		PartyID string `json:"party_id"`
	}
	s.must(t, 200, "initech/ian", "GET", "/v1/whoami", nil).json(t, &who)
	if who.PartyID != "initech" {
		t.Errorf("whoami = %+v", who)
	}
	s.must(t, 403, "initech/ian", "POST", "/v1/principals", map[string]any{"party_id": "initech", "name": "ian2"})

	lotID := demoLot(t, s, "lot-m")
	cell := func(party string) map[string]any {
		return map[string]any{"stage": "manufacturing", "duty": "issue", "scope": map[string]string{"kind": "lot", "id": lotID}, "party_id": party}
	}
	// The manufacturer takes the delegation back, then the contract manufacturer is refused.
	s.must(t, 200, alice, "PUT", "/v1/ownership", cell("acme"))
	p := s.must(t, 403, station, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": "x", "build_record": record("SN-M", "lot-m")})
	_ = p
	// The contract manufacturer cannot give itself the cell back; an operator cannot take it.
	pp := s.must(t, 403, station, "PUT", "/v1/ownership", cell("fabrikam")).problem(t)
	if pp["scope"] != "model:"+modelOf(t, s) && pp["type"] != "https://hallmark.dev/problems/not-owner" {
		t.Errorf("refusal = %v", pp)
	}
	s.must(t, 403, oscar, "PUT", "/v1/ownership", cell("contoso"))
	s.must(t, 400, alice, "PUT", "/v1/ownership", map[string]any{"stage": "manufacturing", "duty": "fly", "scope": map[string]string{"kind": "lot", "id": lotID}, "party_id": "acme"})
	s.must(t, 404, alice, "PUT", "/v1/ownership", map[string]any{"stage": "manufacturing", "duty": "issue", "scope": map[string]string{"kind": "lot", "id": "lot_nope"}, "party_id": "acme"})

	var cells struct {
		Items []struct {
			Stage, Duty, PartyID string
			Scope                struct{ Kind, ID string }
		} `json:"items"`
	}
	s.must(t, 200, audrey, "GET", "/v1/ownership", nil).json(t, &cells)
	found := map[string]bool{}
	for _, c := range cells.Items {
		found[c.Stage+"/"+c.Duty+"/"+c.Scope.Kind+":"+c.Scope.ID] = true
	}
	for _, want := range []string{"manufacturing/issue/manufacturer:acme", "manufacturing/revoke/manufacturer:acme", "operational/issue/operator:contoso",
		"operational/renew/operator:contoso", "operational/revoke/operator:contoso", "manufacturing/audit/deployment:*", "manufacturing/issue/lot:" + lotID} {
		if !found[want] {
			t.Errorf("matrix lacks %s", want)
		}
	}
}

func modelOf(t *testing.T, s *devServer) string {
	var models items
	s.must(t, 200, alice, "GET", "/v1/models?manufacturer=acme", nil).json(t, &models)
	return models.Items[0].ID
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newCSRKey makes an unrelated key (and a leaf certificate leaf.pem) with openssl.
func newCSRKey(t *testing.T, dir string) string {
	t.Helper()
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key",
		"-subj", "/CN=leaf", "-days", "30", "-out", "leaf.pem", "-addext", "basicConstraints=critical,CA:FALSE")
	return read(t, dir, "leaf.key")
}
