package app

import (
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/issuance"
)

// TestManufacturingFactoryValidity creates hierarchies through the HTTPS API: the default
// records "undefined", "issuer" gives factory certificates the issuing CA's notAfter, a
// value that is neither is refused with 400 and changes nothing. Factory certificates of both
// verify with openssl against their chain.
func TestManufacturingFactoryValidity(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	type caJSON struct {
		ID              string `json:"id"`
		NotAfter        string `json:"not_after"`
		FactoryValidity string `json:"factory_validity"`
	}
	create := func(name string, fv any) (root, issuing caJSON) {
		t.Helper()
		body := map[string]any{"manufacturer_id": "acme", "name": name}
		if fv != nil {
			body["factory_validity"] = fv
		}
		var h struct{ Root, Issuing caJSON }
		s.must(t, 201, alice, "POST", "/v1/manufacturing/hierarchies", body).json(t, &h)
		return h.Root, h.Issuing
	}
	root, def := create("acme-idevid", nil)
	if def.FactoryValidity != "undefined" || root.FactoryValidity != "" {
		t.Fatalf("default: issuing %q, root %q; want undefined and none", def.FactoryValidity, root.FactoryValidity)
	}
	_, legacy := create("acme-legacy", "issuer")
	if legacy.FactoryValidity != "issuer" {
		t.Fatalf("issuer: %q", legacy.FactoryValidity)
	}
	before := auditCount(t, s)
	for _, bad := range []any{"forever", "", 5} {
		r := s.call(t, alice, "POST", "/v1/manufacturing/hierarchies", map[string]any{"manufacturer_id": "acme", "name": "acme-bad", "factory_validity": bad})
		if bad == "" { // empty is the default, like an absent field
			if r.Status != 201 {
				t.Errorf("factory_validity \"\": %d %s", r.Status, r.Body)
			}
			before = auditCount(t, s)
			continue
		}
		if r.Status != 400 {
			t.Errorf("factory_validity %v: %d %s, want 400", bad, r.Status, r.Body)
		}
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("refused hierarchies changed state: audit %d → %d", before, after)
	}

	var models items
	s.must(t, 200, alice, "GET", "/v1/models?manufacturer=acme", nil).json(t, &models)
	for i, c := range []caJSON{def, legacy} {
		name := []string{"lot-undefined", "lot-issuer"}[i]
		var lot item
		s.must(t, 201, alice, "POST", "/v1/lots", map[string]any{"model_id": models.Items[0].ID, "name": name, "line": "line-a", "issuing_ca_id": c.ID, "delegate_to": "fabrikam"}).json(t, &lot)
		serial := "SN-FV" + string(rune('1'+i))
		fi := issueFactory(t, s, dir, lot.ID, name, serial)
		writeFile(t, dir, serial+".pem", fi.CertificatePEM)
		chain := splitPEM(t, fi.ChainPEM)
		writeFile(t, dir, serial+".issuing.pem", chain[0])
		writeFile(t, dir, serial+".root.pem", chain[1])
		if out := run(t, dir, "openssl", "verify", "-CAfile", serial+".root.pem", "-untrusted", serial+".issuing.pem", serial+".pem"); !strings.Contains(out, ": OK") {
			t.Errorf("%s: openssl verify: %s", serial, out)
		}
		leaf, issuing := certInfo(t, dir, serial+".pem"), certInfo(t, dir, serial+".issuing.pem")
		want := issuance.UndefinedNotAfter
		if c.FactoryValidity == "issuer" {
			want = issuing.NotAfter
		}
		if !leaf.NotAfter.Equal(want) {
			t.Errorf("%s under a %q CA: notAfter %s, want %s", serial, c.FactoryValidity, leaf.NotAfter, want)
		}
	}
}
