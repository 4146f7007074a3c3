package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// TestVoucherImportOfOwnDevicesRefused: a maker's own deployment where contoso registered the
// deployment itself as maker "acme" (its root and build-record key) refuses to import a
// voucher of devices it made: they are here already under their manufacturer, and creating them
// again as external devices would give one device two identities. The refusal changes nothing.
func TestVoucherImportOfOwnDevicesRefused(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	fi := issueFactory(t, s, dir, demoLot(t, s, "lot-own"), "lot-own", "SN-OWN1")

	var cas items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	rootID, issuingID := "", ""
	for _, c := range cas.Items {
		if c.Role == "root" && rootID == "" {
			rootID = c.ID
		}
		if c.Role == "issuing" && issuingID == "" {
			issuingID = c.ID
		}
	}
	root, err := os.ReadFile(s.info.CAFiles[rootID])
	if err != nil {
		t.Fatal(err)
	}
	brk := s.must(t, 200, "", "GET", "/v1/manufacturers/acme/build-record-key", nil).Body
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	s.must(t, 201, oscar, "POST", "/v1/makers", map[string]any{"name": "acme-here", "anchors_pem": string(root), "build_record_keys_pem": []string{string(brk)},
		"ocsp_urls": []string{s.info.StatusURL + "/ocsp/" + issuingID}})
	s.must(t, 201, oscar, "POST", "/v1/custody/keys", map[string]any{"name": "op", "public_key_pem": keyPEM})
	var exp struct{ File string }
	s.must(t, 201, station, "POST", "/v1/custody/vouchers/export", map[string]any{"device_ids": []string{fi.Device.ID}, "to": "contoso", "to_key_pem": keyPEM}).json(t, &exp)

	before := auditCount(t, s)
	p := s.must(t, 409, oscar, "POST", "/v1/custody/vouchers/import", []byte(exp.File)).problem(t)
	detail, _ := p["detail"].(string)
	for _, want := range []string{"SN-OWN1", "made by this deployment", fi.Device.ID, "handed-off"} {
		if !strings.Contains(detail, want) {
			t.Errorf("refusal %q does not name %q", detail, want)
		}
	}
	if n := auditCount(t, s); n != before {
		t.Errorf("the refused import changed the audit log: %d events, had %d", n, before)
	}
	var devs struct {
		Items []struct{ ID, Serial, State string } `json:"items"`
	}
	s.must(t, 200, oscar, "GET", "/v1/devices", nil).json(t, &devs)
	if len(devs.Items) != 0 {
		t.Errorf("contoso holds devices after the refused import: %+v", devs.Items)
	}
	var d struct{ State string }
	s.must(t, 200, station, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.State != "handed-off" {
		t.Errorf("the exported device is %q, want handed-off", d.State)
	}
}
