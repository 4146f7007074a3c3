package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/agent"
	"github.com/hallmark-id/hallmark/internal/makerstatus/makertest"
	"github.com/hallmark-id/hallmark/internal/operational"
)

// refusalsOf waits until s's refusals report holds an event of rule for each of vias, and
// returns them by via.
func refusalsOf(t *testing.T, s *devServer, rule string, vias ...string) map[string]api.Refusal {
	t.Helper()
	out := map[string]api.Refusal{}
	waitFor(t, "the refusal events of rule "+rule, func() bool {
		var rep api.RefusalReport
		s.must(t, 200, audrey, "GET", "/v1/reports/refusals", nil).json(t, &rep)
		clear(out)
		for _, f := range rep.Items {
			if f.Rule == rule {
				out[f.Via] = f
			}
		}
		for _, v := range vias {
			if _, ok := out[v]; !ok {
				return false
			}
		}
		return true
	})
	return out
}

// TestMakerDeviceOtherFactoryCertificateRefused: a maker's device (a maker that does not run
// Hallmark) is recorded with the factory certificate it first onboarded with, which is its
// current one here. A second certificate the maker issued for the same device serial (a new
// key, still valid and unrevoked at the maker) is refused over the API and over EST (curl),
// naming both serials and rule factory:not-current, changing nothing, and each refusal is a
// refusal audit event (the API's was a bare 409 that left none).
func TestMakerDeviceOtherFactoryCertificateRefused(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	mk := makertest.New(t)
	var skew atomic.Int64
	s := startDevOpts(t, Options{Now: func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }})
	dir := t.TempDir()
	makerID := registerMaker(t, s, mk, "acme-sensors", map[string]any{"require_hardware_module_name": true, "key_types": []string{"ecdsa-p256"}})
	envID := demoEnvID(t, s)
	devID := operational.ExternalDeviceID(makerID, mk.Serials[0])

	// The current certificate onboards, and is recorded.
	if r := onboardExternal(t, s, dir, mk, envID, 1, "ext1"); r.Status != 201 {
		t.Fatalf("onboarding device 1: %d %s", r.Status, r.Body)
	}
	first := fmt.Sprintf("%x", mk.Devices[0].SerialNumber)
	// The maker issues device 1 another certificate: same serial, another key.
	mk.OpenSSL("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "dev1b.key")
	mk.OpenSSL("req", "-config", "ca.cnf", "-new", "-key", "dev1b.key", "-subj", "/O=Acme Sensors/CN=Acme Sensor/serialNumber="+mk.Serials[0], "-out", "dev1b.csr")
	mk.OpenSSL("ca", "-batch", "-config", "ca.cnf", "-extensions", "idevid1", "-notext", "-in", "dev1b.csr", "-out", "dev1b.pem")
	second := fmt.Sprintf("%x", mk.Cert("dev1b.pem").SerialNumber)
	names := func(what, msg string) {
		t.Helper()
		for _, want := range []string{first, second, "factory:not-current"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not name %q", what, msg, want)
			}
		}
	}
	before, conflicts := auditCount(t, s), s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "conflict"})

	csr := newCSR(t, dir, "ext1b")
	body := map[string]any{"csr": csr, "factory_certificate": read(t, mk.Dir, "dev1b.pem"), "proof": prove(t, s, dir, "onboard", envID, csr, mk.Path("dev1b.key"))}
	r := s.must(t, 409, oscar, "POST", "/v1/environments/"+envID+"/onboard", body)
	names("API onboarding with the other certificate", r.problem(t)["detail"].(string))
	estCSR(t, dir, "ext1b-est")
	code, text := estStatus(t, s, dir, s.info.ESTURL+"/simpleenroll", mk.Path("dev1b.pem"), mk.Path("dev1b.key"), "ext1b-est.csr.b64")
	if code != 409 {
		t.Fatalf("EST enroll with the other certificate: %d %s, want 409", code, text)
	}
	names("EST enroll with the other certificate", text)
	if v := externalDevice(t, s, oscar, devID); v.State != "active" || len(v.Lineage) != 1 || v.External == nil {
		t.Errorf("the refusals changed device 1: %+v", v)
	}
	if n := auditCount(t, s); n != before {
		t.Errorf("the refusals appended %d audit events besides refusal events", n-before)
	}
	if got := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "conflict"}); got != conflicts+2 {
		t.Errorf("hallmark_refusals_total{reason=conflict} = %v, want %v", got, conflicts+2)
	}

	skew.Add(int64(61 * time.Second))
	got := refusalsOf(t, s, "factory:not-current", "api", "est")
	if f := got["api"]; f.Reason != "conflict" || f.Count != 1 || f.PartyID != "contoso" {
		t.Errorf("API refusal event = %+v", f)
	}
	if f := got["est"]; f.Reason != "conflict" || f.Count != 1 || f.Subject != "certificate:"+second || f.Certificate != second {
		t.Errorf("EST refusal event = %+v", f)
	}
}

// TestBRSKISupersededFactoryCertificateRefused: the MASA vouches only for a device's current
// factory certificate. A device repaired at the maker's deployment (same key and record, so
// only the current-certificate check tells the two apart), its superseded certificate's row
// set back to issued, asks with the superseded one and is refused naming both serials and rule
// factory:not-current, audited at the maker with the rule; with the current one it gets its
// voucher and enrolls at the operator.
func TestBRSKISupersededFactoryCertificateRefused(t *testing.T) {
	requireTool(t, "openssl")
	p := startBRSKIPair(t)
	ctx := context.Background()
	old, cur := repairedDevice(t, p.maker, p.dir, p.lotID, "lot-brski", "SN-BRC1")
	unrevoke(t, p.maker, old.Device.FactoryCert)

	_, err := p.pledge("SN-BRC1", time.Now).Bootstrap(ctx, agent.PledgeConfig{MASAAnchors: p.anchor})
	var refused *agent.RefusedError
	if !errors.As(err, &refused) || refused.Status != http.StatusForbidden {
		t.Fatalf("a pledge with its superseded factory certificate: %v, want 403 from the MASA", err)
	}
	for _, want := range []string{old.Device.FactoryCert, cur.Device.FactoryCert, "factory:not-current"} {
		if !strings.Contains(refused.Reason, want) {
			t.Errorf("the MASA's refusal %q does not name %q", refused.Reason, want)
		}
	}
	var evs struct {
		Items []struct {
			Action string         `json:"action"`
			Detail map[string]any `json:"detail"`
		} `json:"items"`
	}
	p.maker.must(t, 200, audrey, "GET", "/v1/audit/events", nil).json(t, &evs)
	audited := false
	for _, e := range evs.Items {
		audited = audited || e.Action == "brski.masa.refuse" && e.Detail["rule"] == "factory:not-current"
	}
	if !audited {
		t.Error("the maker did not audit the refusal with rule factory:not-current")
	}

	good := p.pledge("SN-BRC1-new", time.Now)
	bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := good.Bootstrap(bctx, agent.PledgeConfig{MASAAnchors: p.anchor}); err != nil {
		t.Fatalf("the pledge with its current factory certificate: %v", err)
	}
	if res, err := good.Step(bctx); err != nil || res.Action != agent.Enrolled {
		t.Fatalf("enrolling with the current factory certificate: %+v, %v", res, err)
	}
}
