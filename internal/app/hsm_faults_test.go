//go:build pkcs11 && cgo

package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
)

// lotDevices counts the devices of a lot.
func lotDevices(t *testing.T, s *devServer, lotID string) int {
	t.Helper()
	var l struct {
		Items []struct{ ID string } `json:"items"`
	}
	s.must(t, 200, alice, "GET", "/v1/devices?lot="+lotID, nil).json(t, &l)
	return len(l.Items)
}

// TestHSMBadInputAndLoss: through the API, with keys in a token reached over p11-kit's remote
// protocol (as a network HSM is), a CA import by a key URI that does not resolve, names
// another token, carries a PIN or names a key that is not the certificate's is refused with
// 400 and stores nothing; then the HSM disappears mid-run: issuance and imports answer 503
// and store nothing, the server keeps serving reads, and the metrics say the HSM is down;
// once it is back, issuance works again without a restart.
func TestHSMBadInputAndLoss(t *testing.T) {
	requireTool(t, "openssl")
	label, pin := hsmtest.Token(t, "hsm-loss")
	// p11-kit 0.24's remote protocol carries no EdDSA mechanism, so the Ed25519 audit key is
	// made directly in the token first; the server then only finds it over the link.
	direct, err := pkcs11.Open(pkcs11.Config{ModulePath: hsmtest.Module, Token: label, PIN: keys.Secret(pin)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Create(context.Background(), auditlog.DefaultKeyID, keys.Ed25519); err != nil {
		t.Fatal(err)
	}
	direct.Close()
	r := hsmtest.StartRemote(t, label)
	kp, err := pkcs11.Open(pkcs11.Config{ModulePath: hsmtest.ClientModule(t), Token: label, PIN: keys.Secret(pin), SessionWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kp.Close() })
	s, a := statusServerKeys(t, kp)
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-loss")
	issueFactory(t, s, dir, lotID, "lot-loss", "SN-L1")

	// A CA certificate made elsewhere, and a spare key made in the token as a ceremony would.
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ext.key",
		"-subj", "/O=Acme Devices/CN=Acme External CA", "-days", "3650", "-out", "ext.pem",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	_, spare, err := kp.CreateURI(context.Background(), "pkcs11:token="+label+";object=spare", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := read(t, dir, "ext.pem")
	var casBefore items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &casBefore)
	before := auditCount(t, s)
	imp := func(uri string) resp {
		return s.call(t, alice, "POST", "/v1/manufacturing/imports", map[string]any{"manufacturer_id": "acme", "name": "ext", "certificate_pem": certPEM, "key_uri": uri})
	}
	for _, bad := range []struct{ name, uri, says string }{
		{"does not resolve", "pkcs11:token=" + label + ";id=%de%ad%be%ef", "names no key in the server's HSM"},
		{"another token", "pkcs11:token=elsewhere;object=spare", "names token \"elsewhere\""},
		{"PIN in the URI", "pkcs11:token=" + label + ";object=spare?pin-value=" + pin, "may not carry pin-value"},
		{"not a URI", "spare", "is not a PKCS#11 URI"},
		{"key of another certificate", spare, "does not belong to the certificate"},
	} {
		res := imp(bad.uri)
		if res.Status != 400 {
			t.Errorf("import, key URI %s: status %d, want 400: %s", bad.name, res.Status, res.Body)
			continue
		}
		if d, _ := res.problem(t)["detail"].(string); !strings.Contains(d, bad.says) || strings.Contains(d, pin) {
			t.Errorf("import, key URI %s: detail %q, want it to say %q (and never the PIN)", bad.name, d, bad.says)
		}
	}

	// The HSM disappears.
	r.Stop()
	devicesBefore := lotDevices(t, s, lotID)
	csr := newCSR(t, dir, "SN-L2")
	issue := func() resp {
		return s.call(t, station, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": csr, "build_record": record("SN-L2", "lot-loss")})
	}
	res := issue()
	if res.Status != http.StatusServiceUnavailable {
		t.Fatalf("issuance with the HSM gone: status %d, want 503: %s", res.Status, res.Body)
	}
	if d, _ := res.problem(t)["detail"].(string); !strings.Contains(d, "cannot be reached") {
		t.Errorf("issuance with the HSM gone: detail %q does not say the HSM cannot be reached", d)
	}
	if res := imp(spare); res.Status != http.StatusServiceUnavailable {
		t.Errorf("import with the HSM gone: status %d, want 503: %s", res.Status, res.Body)
	}
	// The server stays up: health and reads answer.
	if res, err := s.http.Get(s.info.APIURL + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz with the HSM gone: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if n := lotDevices(t, s, lotID); n != devicesBefore {
		t.Errorf("a failed issuance stored a device: %d → %d", devicesBefore, n)
	}
	ops, up := keyMetrics(t, a)
	if up != 0 || ops["sign/device"]+ops["find/device"] == 0 {
		t.Errorf("metrics with the HSM gone: up %v, ops %v; want down, device failures counted", up, ops)
	}

	// Nothing was stored by any refusal or failure.
	if after := auditCount(t, s); after != before {
		t.Errorf("refused or failed requests appended audit events: %d → %d", before, after)
	}
	var casAfter items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &casAfter)
	if len(casAfter.Items) != len(casBefore.Items) {
		t.Errorf("refused imports stored a CA: %d → %d", len(casBefore.Items), len(casAfter.Items))
	}

	// The HSM comes back: issuance works again, without a restart.
	r.Start()
	for i := 0; ; i++ {
		res = issue()
		if res.Status == 201 {
			break
		}
		if i == 40 {
			t.Fatalf("issuance after the HSM came back: status %d: %s", res.Status, res.Body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n := lotDevices(t, s, lotID); n != devicesBefore+1 {
		t.Errorf("devices after recovery: %d, want %d", n, devicesBefore+1)
	}
	if _, up := keyMetrics(t, a); up != 1 {
		t.Errorf("hallmark_keys_up = %v after recovery, want 1", up)
	}
}
