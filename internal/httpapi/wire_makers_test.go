package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/inventory"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
)

func testCA(t *testing.T) *x509.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Sensors Root"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestWireMakers: the maker wire types carry every setting, lists are never null, the policy
// shows its effective mode, and a device view carries its origin only when it has one.
func TestWireMakers(t *testing.T) {
	c := testCA(t)
	got := jsonTree(t, toMaker(maker.Maker{ID: "mkr_1", OperatorID: "op", Name: "sensors", Anchors: []*x509.Certificate{c}}))
	b, _ := json.Marshal(got)
	for _, want := range []string{`"crl_urls":[]`, `"intermediates":[]`, `"manifest_keys_pem":[]`, `"revocation":"fail-closed"`, `"subject":"CN=Sensors Root"`, "BEGIN CERTIFICATE"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("maker JSON %s lacks %s", b, want)
		}
	}
	req := fromRegisterMakerRequest(api.RegisterMakerRequest{Name: "n", AnchorsPEM: "a", CRLURLs: []string{"u"}, Policy: api.MakerPolicy{Revocation: "fail-open", RequireManifest: true, KeyTypes: []string{"rsa"}}})
	if req.Policy.Mode() != maker.FailOpen || !req.Policy.RequireManifest || req.CRLURLs[0] != "u" || req.Policy.KeyTypes[0] != "rsa" {
		t.Errorf("register request converted to %+v", req)
	}
	up := fromUpdateMakerRequest(api.UpdateMakerRequest{Policy: &api.MakerPolicy{RequireHardwareModuleName: true}})
	if up.Policy == nil || !up.Policy.RequireHardwareModuleName || up.CRLURLs != nil {
		t.Errorf("update request converted to %+v", up)
	}
	if v := toDeviceView(inventory.DeviceView{}); v.External != nil {
		t.Errorf("a device of this deployment shows an origin: %+v", v.External)
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o := maker.Origin{MakerID: "mkr_1", Serial: "AS-1", FactorySerial: "1000", Factory: c, Issuer: c, State: maker.Revoked, RevokedAt: &at,
		Evidence: &maker.Evidence{Kind: "crl", URL: "http://crl.example/a.crl", ThisUpdate: at, Reason: "keyCompromise", RevokedAt: at}}
	v := toDeviceView(inventory.DeviceView{Origin: &o, Maker: &maker.Maker{Name: "sensors"}})
	if e := v.External; e == nil || e.MakerName != "sensors" || e.State != "revoked" || e.Evidence == nil || e.Evidence.URL != "http://crl.example/a.crl" || e.Evidence.NextUpdate != nil {
		t.Errorf("origin on the wire: %+v", v.External)
	}
	chk := toMakerCheck(makers.Round{Elapsed: 1500 * time.Millisecond, Sources: []makers.SourceState{{Kind: "crl", Outcome: "parse_error", Gap: true}}})
	if chk.ElapsedMS != 1500 || len(chk.Sources) != 1 || !chk.Sources[0].Gap || chk.Sources[0].LastOK != nil {
		t.Errorf("check on the wire: %+v", chk)
	}
}
