package app

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/makerstatus/makertest"
	"github.com/hallmark-id/hallmark/internal/operational"
)

// TestExternalMakerOCSPOnly (issue 15, point 3): a maker made with plain openssl that offers
// only OCSP (its device certificates name no CRL distribution point; `openssl ocsp -index`
// answers live, without nextUpdate, so nothing is cached). A device onboards over EST with curl
// and openssl; the maker revokes it in its openssl CA index and publishes nothing else; the
// watcher, asking the responder, suspends the device within its interval, naming the OCSP
// answer. Onboarding that device again, and a second device revoked before it ever onboarded,
// is refused (the maker is fail-closed, and revoked is refused in any mode), and each refusal
// is an audit event; a device the maker did not revoke still onboards.
func TestExternalMakerOCSPOnly(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	mk := makertest.NewWith(t, makertest.Options{OCSPOnly: true, OCSPLive: true})
	for i, d := range mk.Devices {
		if len(d.CRLDistributionPoints) != 0 || len(d.OCSPServer) != 1 {
			t.Fatalf("device %d names CRLs %v and OCSP %v; want OCSP alone", i+1, d.CRLDistributionPoints, d.OCSPServer)
		}
	}
	var skew atomic.Int64 // moves the server's clock past the refusal window
	s := startDevOpts(t, Options{MakerWatch: watchEvery, Now: func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }})
	dir := t.TempDir()
	makerID := registerMaker(t, s, mk, "acme-ocsp", map[string]any{"require_hardware_module_name": true})
	devID := func(n int) string { return operational.ExternalDeviceID(makerID, mk.Serials[n-1]) }

	// Device 1 onboards: the only status source is the responder, which says good.
	asked := mk.OCSPRequests.Load()
	estEnroll(t, s, dir, s.info.ESTURL, "simpleenroll", mk.Path("dev1.pem"), mk.Path("dev1.key"), "oc1")
	if v := externalDevice(t, s, oscar, devID(1)); v.State != "active" || v.External == nil || v.External.State != "good" {
		t.Fatalf("device 1 after onboarding: %+v", v)
	}
	if mk.OCSPRequests.Load() == asked {
		t.Fatal("onboarding did not ask the maker's OCSP responder")
	}

	// The maker revokes device 1 in its index, and device 2, which never onboarded.
	mk.Revoke(1, "keyCompromise")
	mk.Revoke(2, "superseded")
	deadline := time.Now().Add(20*watchEvery + 20*time.Second)
	v := externalDevice(t, s, oscar, devID(1))
	for ; v.State != "suspended"; v = externalDevice(t, s, oscar, devID(1)) {
		if time.Now().After(deadline) {
			t.Fatalf("device 1 is %s after the maker revoked it in its OCSP index; want suspended", v.State)
		}
		time.Sleep(watchEvery / 4)
	}
	if e := v.External; e == nil || e.State != "revoked" || e.Evidence == nil || e.Evidence.Kind != "ocsp" || e.Evidence.URL != mk.OCSPURL || e.Evidence.Reason != "keyCompromise" {
		t.Fatalf("device 1's origin after the revocation: %+v, want revoked by the OCSP answer of %s", v.External, mk.OCSPURL)
	}
	for _, c := range v.Certificates {
		if c.Serial == v.OperationalCert && (c.State != "revoked" || c.Reason == nil || *c.Reason != 6) {
			t.Errorf("the operational certificate after the maker's revocation: %+v, want on hold (reason 6)", c)
		}
	}
	if run := cascadeRun(t, s, devID(1)); run == "" {
		t.Error("no revocation run for device 1")
	}

	// Onboarding either revoked device is refused, naming the OCSP answer.
	estCSR(t, dir, "again")
	for _, n := range []int{1, 2} {
		code, body := estStatus(t, s, dir, s.info.ESTURL+"/simpleenroll", mk.Path(fmt.Sprintf("dev%d.pem", n)), mk.Path(fmt.Sprintf("dev%d.key", n)), "again.csr.b64")
		if code != 403 || !strings.Contains(body, "revoked") || !strings.Contains(body, mk.OCSPURL) {
			t.Errorf("onboarding device %d, revoked in the maker's OCSP index: %d %s; want 403 naming the answer of %s", n, code, body, mk.OCSPURL)
		}
	}
	// A device the maker did not revoke still onboards.
	estEnroll(t, s, dir, s.info.ESTURL, "simpleenroll", mk.Path("dev3.pem"), mk.Path("dev3.key"), "oc3")
	if v := externalDevice(t, s, oscar, devID(3)); v.State != "active" {
		t.Errorf("device 3, not revoked, is %s", v.State)
	}

	// Each refusal is an audit event once its window (a minute) ends.
	skew.Add(int64(61 * time.Second))
	var all api.RefusalReport
	var got map[string]api.Refusal
	waitFor(t, "the refusal events of both revoked devices", func() bool {
		s.must(t, 200, audrey, "GET", "/v1/reports/refusals", nil).json(t, &all)
		got = map[string]api.Refusal{}
		for _, r := range all.Items {
			if r.Via == "est" {
				got[r.Certificate] = r
			}
		}
		return got[mk.Devices[0].SerialNumber.Text(16)].Count > 0 && got[mk.Devices[1].SerialNumber.Text(16)].Count > 0
	})
	for n, d := range mk.Devices[:2] {
		r := got[d.SerialNumber.Text(16)]
		if r.Reason != "denied" || r.PartyID != "contoso" || r.Count != 1 || !strings.Contains(r.Message, "revoked") {
			t.Errorf("the refusal event of device %d = %+v, want one denied refusal for contoso naming the revocation", n+1, r)
		}
	}
}
