package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/agent"
	"github.com/hallmark-id/hallmark/internal/makerstatus/makertest"
	"github.com/hallmark-id/hallmark/internal/operational"
)

// The external maker tests run a maker that does not run Hallmark, made with plain openssl
// (makertest: a root, a device CA, three IDevIDs with hardwareModuleName, a CRL and an OCSP
// responder on loopback), against a real dev server whose status watcher runs every
// watchEvery.

const watchEvery = 400 * time.Millisecond

// makerView is the part of GET /v1/devices/{id} these tests read.
type makerDeviceView struct {
	State           string `json:"state"`
	ManufacturerID  string `json:"manufacturer_id"`
	CustodianID     string `json:"custodian_id"`
	OperationalCert string `json:"operational_certificate"`
	Certificates    []struct {
		Serial string `json:"serial"`
		State  string `json:"state"`
		Reason *int   `json:"revocation_reason"`
	} `json:"certificates"`
	Lineage []struct {
		Kind     string `json:"kind"`
		Protocol string `json:"protocol"`
	} `json:"lineage"`
	External *struct {
		MakerID   string `json:"maker_id"`
		MakerName string `json:"maker_name"`
		Serial    string `json:"serial"`
		State     string `json:"state"`
		Evidence  *struct {
			Kind   string `json:"kind"`
			URL    string `json:"url"`
			Reason string `json:"reason"`
		} `json:"evidence"`
	} `json:"external"`
}

func externalDevice(t *testing.T, s *devServer, who, id string) makerDeviceView {
	t.Helper()
	var v makerDeviceView
	s.must(t, 200, who, "GET", "/v1/devices/"+id, nil).json(t, &v)
	return v
}

// registerMaker registers the openssl maker for contoso as oscar and returns its ID.
func registerMaker(t *testing.T, s *devServer, mk *makertest.Maker, name string, policy map[string]any) string {
	t.Helper()
	var m struct {
		ID string `json:"id"`
	}
	s.must(t, 201, oscar, "POST", "/v1/makers", map[string]any{"name": name, "anchors_pem": read(t, mk.Dir, "root.pem"),
		"intermediates_pem": read(t, mk.Dir, "inter.pem"), "policy": policy}).json(t, &m)
	return m.ID
}

// uploadCSV uploads a CSV manifest as who and returns the status and body.
func uploadCSV(t *testing.T, s *devServer, who, makerID, csv, reason string) resp {
	t.Helper()
	req, err := http.NewRequest("POST", s.info.APIURL+"/v1/makers/"+makerID+"/manifests?reason="+strings.ReplaceAll(reason, " ", "+"), strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+s.tokens[who])
	res, err := s.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Body: b, Header: res.Header}
}

// onboardExternal onboards the maker's device n over the API as oscar, proving possession of
// its factory key with openssl, and returns the response.
func onboardExternal(t *testing.T, s *devServer, dir string, mk *makertest.Maker, envID string, n int, opName string) resp {
	t.Helper()
	csr := newCSR(t, dir, opName)
	key := mk.Path(fmt.Sprintf("dev%d.key", n))
	body := map[string]any{"csr": csr, "factory_certificate": read(t, mk.Dir, fmt.Sprintf("dev%d.pem", n)), "proof": prove(t, s, dir, "onboard", envID, csr, key)}
	return s.call(t, oscar, "POST", "/v1/environments/"+envID+"/onboard", body)
}

// TestExternalMaker: a device of a registered maker onboards over EST with curl and openssl,
// another with the device agent, a third over the API once the maker's manifest lists it; a
// device the manifest does not list is refused naming the rule; when the maker revokes a
// device in its CRL, the watcher suspends its operational identity within an interval and the
// operator sees why; a bad CRL changes nothing and shows as a gap.
func TestExternalMaker(t *testing.T) {
	requireTool(t, "openssl")
	requireTool(t, "curl")
	mk := makertest.New(t)
	s := startDevOpts(t, Options{MakerWatch: watchEvery})
	dir := t.TempDir()

	// Registration: the operator's decision, refused to a manufacturer.
	if r := s.call(t, alice, "POST", "/v1/makers", map[string]any{"operator_id": "contoso", "name": "acme-sensors", "anchors_pem": read(t, mk.Dir, "root.pem")}); r.Status != 403 {
		t.Fatalf("a manufacturer registering a maker for contoso: %d %s, want 403", r.Status, r.Body)
	}
	if r := s.call(t, oscar, "POST", "/v1/makers", map[string]any{"name": "acme-sensors", "anchors_pem": read(t, mk.Dir, "dev1.pem")}); r.Status != 400 {
		t.Fatalf("a device certificate as an anchor: %d %s, want 400", r.Status, r.Body)
	}
	makerID := registerMaker(t, s, mk, "acme-sensors", map[string]any{"require_hardware_module_name": true, "key_types": []string{"ecdsa-p256"}})
	if r := s.call(t, oscar, "POST", "/v1/makers", map[string]any{"name": "acme-again", "anchors_pem": read(t, mk.Dir, "root.pem")}); r.Status != 409 {
		t.Fatalf("the same anchor for a second maker: %d %s, want 409", r.Status, r.Body)
	}
	devID := func(n int) string { return operational.ExternalDeviceID(makerID, mk.Serials[n-1]) }

	// Device 1 over EST with curl and openssl, presenting its factory certificate alone (the
	// maker's intermediate is registered).
	estEnroll(t, s, dir, s.info.ESTURL, "simpleenroll", mk.Path("dev1.pem"), mk.Path("dev1.key"), "ext1", "-H", "'Hallmark-Hardware-Revision: C'")
	cas := filepath.Join(s.dir, "cas")
	if out := run(t, dir, "openssl", "verify", "-CAfile", filepath.Join(cas, "contoso-contoso-ops-root.pem"), "-untrusted", filepath.Join(cas, "contoso-contoso-ops.pem"), "ext1.pem"); !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify of the operational certificate: %s", out)
	}
	v := externalDevice(t, s, oscar, devID(1))
	if v.State != "active" || v.ManufacturerID != "" || v.CustodianID != "contoso" || v.External == nil || v.External.MakerName != "acme-sensors" ||
		v.External.Serial != "AS-000001" || v.External.State != "good" || len(v.Lineage) != 1 || v.Lineage[0].Protocol != "est" {
		t.Fatalf("device 1 after EST onboarding: %+v", v)
	}
	if r := s.call(t, alice, "GET", "/v1/devices/"+devID(1), nil); r.Status != 404 {
		t.Errorf("another party reads the operator's external device: %d", r.Status)
	}

	// Device 2 with the device agent.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(read(t, filepath.Dir(s.info.TLSCAFile), filepath.Base(s.info.TLSCAFile))))
	ag := agent.New(agent.Config{ESTURL: s.info.ESTURL, RootCAs: pool,
		Keystore: &agent.Files{FactoryCert: mk.Path("dev2.pem"), FactoryKey: mk.Path("dev2.key"), Dir: filepath.Join(dir, "dev2-state")},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	if res, err := ag.Step(context.Background()); err != nil || res.Action != agent.Enrolled {
		t.Fatalf("the agent of device 2: %+v, %v; want enrolled", res, err)
	}
	if v := externalDevice(t, s, oscar, devID(2)); v.State != "active" || v.External == nil {
		t.Fatalf("device 2 after the agent: %+v", v)
	}
	// Its renewal runs the renewal policy on its origin: 20 hours into a 24-hour certificate.
	later := agent.New(agent.Config{ESTURL: s.info.ESTURL, RootCAs: pool,
		Keystore: &agent.Files{FactoryCert: mk.Path("dev2.pem"), FactoryKey: mk.Path("dev2.key"), Dir: filepath.Join(dir, "dev2-state")},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return time.Now().Add(20 * time.Hour) }})
	if res, err := later.Step(context.Background()); err != nil || res.Action != agent.Renewed {
		t.Fatalf("the agent of device 2, when due: %+v, %v; want renewed", res, err)
	}
	if v := externalDevice(t, s, oscar, devID(2)); len(v.Lineage) != 2 || v.Lineage[1].Kind != "renew" {
		t.Fatalf("device 2's lineage after its renewal: %+v", v.Lineage)
	}
	// The operator's inventory report lists its external devices.
	if r := s.must(t, 200, oscar, "GET", "/v1/reports/inventory", nil); !bytes.Contains(r.Body, []byte(devID(1))) || !bytes.Contains(r.Body, []byte(devID(2))) {
		t.Errorf("the inventory report lacks the external devices: %s", r.Body)
	}

	// A manifest is required from now on. Device 3 is refused while none is active, then by
	// the manifest it is not listed in; a CSV counts only once another principal approved it.
	envID := demoEnvID(t, s)
	s.must(t, 200, oscar, "PATCH", "/v1/makers/"+makerID, map[string]any{"policy": map[string]any{"require_manifest": true, "require_hardware_module_name": true}})
	if r := onboardExternal(t, s, dir, mk, envID, 3, "ext3"); r.Status != 403 || !strings.Contains(string(r.Body), "maker.require_manifest") {
		t.Fatalf("device 3 without an active manifest: %d %s, want 403 naming maker.require_manifest", r.Status, r.Body)
	}
	csv := "serial\n" + mk.Serials[0] + "\n" + mk.Serials[1] + "\n"
	if r := uploadCSV(t, s, oscar, makerID, csv, ""); r.Status != 400 {
		t.Fatalf("a CSV without a reason: %d %s, want 400", r.Status, r.Body)
	}
	var up struct {
		Manifest struct {
			ID, State string
		} `json:"manifest"`
		Approval struct {
			ID string `json:"id"`
		} `json:"approval"`
	}
	r := uploadCSV(t, s, oscar, makerID, csv, "delivery note 4711")
	if r.Status != 202 {
		t.Fatalf("uploading a CSV: %d %s, want 202", r.Status, r.Body)
	}
	r.json(t, &up)
	if r := onboardExternal(t, s, dir, mk, envID, 3, "ext3"); r.Status != 403 || !strings.Contains(string(r.Body), "maker.require_manifest") {
		t.Fatalf("device 3 while the CSV waits for approval: %d %s", r.Status, r.Body)
	}
	if r := s.call(t, oscar, "POST", "/v1/approvals/"+up.Approval.ID+"/decision", map[string]any{"approve": true}); r.Status != 403 {
		t.Fatalf("the uploader approving its own CSV: %d %s, want 403", r.Status, r.Body)
	}
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+up.Approval.ID+"/decision", map[string]any{"approve": true, "comment": "matches the delivery note"})
	if r := onboardExternal(t, s, dir, mk, envID, 3, "ext3"); r.Status != 403 || !strings.Contains(string(r.Body), "manifest.device_not_listed") {
		t.Fatalf("device 3 not in the manifest: %d %s, want 403 naming manifest.device_not_listed", r.Status, r.Body)
	}
	r = uploadCSV(t, s, oscar, makerID, csv+mk.Serials[2]+"\n", "delivery note 4712")
	r.json(t, &up)
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+up.Approval.ID+"/decision", map[string]any{"approve": true})
	if r := onboardExternal(t, s, dir, mk, envID, 3, "ext3"); r.Status != 201 {
		t.Fatalf("device 3 once listed: %d %s, want 201", r.Status, r.Body)
	}
	if v := externalDevice(t, s, oscar, devID(3)); v.State != "active" || len(v.Lineage) != 1 || v.Lineage[0].Protocol != "api" {
		t.Fatalf("device 3 after API onboarding: %+v", v)
	}

	// The maker revokes device 1 in its CRL: within an interval of the watcher the device is
	// suspended, its operational certificate on hold, and its origin names the CRL.
	mk.Revoke(1, "keyCompromise")
	deadline := time.Now().Add(20*watchEvery + 20*time.Second)
	for v = externalDevice(t, s, oscar, devID(1)); v.State != "suspended"; v = externalDevice(t, s, oscar, devID(1)) {
		if time.Now().After(deadline) {
			t.Fatalf("device 1 is %s %s after the maker revoked it; want suspended", v.State, time.Since(deadline.Add(-20*watchEvery-20*time.Second)))
		}
		time.Sleep(watchEvery / 4)
	}
	if e := v.External; e == nil || e.State != "revoked" || e.Evidence == nil || e.Evidence.Kind != "crl" || e.Evidence.URL != mk.CRLURL || e.Evidence.Reason != "keyCompromise" {
		t.Fatalf("device 1's origin after the revocation: %+v", v.External)
	}
	for _, c := range v.Certificates {
		if c.Serial == v.OperationalCert && (c.State != "revoked" || c.Reason == nil || *c.Reason != 6) {
			t.Errorf("the operational certificate after the maker's revocation: %+v, want on hold (reason 6)", c)
		}
	}
	run := cascadeRun(t, s, devID(1))
	var cascade struct {
		Items []struct {
			Action, Serial string
		} `json:"items"`
	}
	s.must(t, 200, oscar, "GET", "/v1/manufacturing/revocations/"+run, nil).json(t, &cascade)
	actions := []string{}
	for _, it := range cascade.Items {
		actions = append(actions, it.Action)
	}
	if strings.Join(actions, ",") != "factory-revoked,operational-suspended" && strings.Join(actions, ",") != "operational-suspended,factory-revoked" {
		t.Errorf("cascade items = %+v, want factory-revoked and operational-suspended", cascade.Items)
	}
	if code, body := estStatus(t, s, dir, s.info.ESTURL+"/simplereenroll", filepath.Join(dir, "ext1.pem"), filepath.Join(dir, "ext1.key"), "ext1.csr.b64"); code != 403 || !strings.Contains(body, "suspended") {
		t.Errorf("re-enrollment of the suspended device: %d %s", code, body)
	}
	if r := onboardExternal(t, s, dir, mk, envID, 1, "ext1b"); r.Status != 403 || !strings.Contains(string(r.Body), "the maker revoked certificate serial") {
		t.Errorf("onboarding the revoked device again: %d %s", r.Status, r.Body)
	}
	if v := externalDevice(t, s, oscar, devID(2)); v.State != "active" {
		t.Errorf("device 2, not revoked, is %s", v.State)
	}

	// A bad CRL changes nothing: devices 2 and 3 stay active, and the source shows as a gap
	// in the check and in the metrics.
	mk.Publish("inter.crl", []byte("this is not a CRL"))
	var check struct {
		Devices int `json:"devices"`
		Sources []struct {
			Kind, URL, Outcome string
			Gap                bool
		} `json:"sources"`
	}
	s.must(t, 200, oscar, "POST", "/v1/makers/"+makerID+"/check", nil).json(t, &check)
	gap := false
	for _, src := range check.Sources {
		gap = gap || (src.Kind == "crl" && src.URL == mk.CRLURL && src.Outcome == "parse_error" && src.Gap)
	}
	if !gap || check.Devices != 2 {
		t.Errorf("check with a bad CRL = %+v, want 2 devices and the CRL as a parse_error gap", check)
	}
	for _, n := range []int{2, 3} {
		if v := externalDevice(t, s, oscar, devID(n)); v.State != "active" {
			t.Errorf("device %d after a bad CRL: %s", n, v.State)
		}
	}
	res, err := http.Get(s.info.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`hallmark_maker_status_fetches_total{kind="crl",outcome="parse_error"}`, `hallmark_maker_status_sources{kind="crl",state="gap"} 1`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// cascadeRun finds the revocation run the maker status watcher recorded for a device, in
// the audit log (read by the auditor).
func cascadeRun(t *testing.T, s *devServer, deviceID string) string {
	t.Helper()
	for after := int64(0); ; {
		var evs struct {
			Items []struct {
				Seq     int64           `json:"seq"`
				Action  string          `json:"action"`
				Subject string          `json:"subject"`
				Detail  json.RawMessage `json:"detail"`
			} `json:"items"`
		}
		s.must(t, 200, audrey, "GET", fmt.Sprintf("/v1/audit/events?after=%d", after), nil).json(t, &evs)
		if len(evs.Items) == 0 {
			break
		}
		after = evs.Items[len(evs.Items)-1].Seq
		for _, e := range evs.Items {
			if e.Action == "factory.revoke.external" && e.Subject == "device:"+deviceID {
				var d struct {
					Run      string `json:"run"`
					Evidence struct {
						URL string `json:"url"`
					} `json:"evidence"`
				}
				if err := json.Unmarshal(e.Detail, &d); err != nil {
					t.Fatal(err)
				}
				if d.Run == "" || d.Evidence.URL == "" {
					t.Fatalf("the audit event names no run or evidence: %s", e.Detail)
				}
				return d.Run
			}
		}
	}
	t.Fatalf("no factory.revoke.external event for %s", deviceID)
	return ""
}

// TestExternalMakerFailOpen: a maker whose only (explicit) source cannot be reached leaves the
// status of its devices unknown. Fail-closed, onboarding is refused with 503 naming the
// source; once the operator makes the maker fail-open, the device onboards, and the audit event
// of the onboarding records the warning.
func TestExternalMakerFailOpen(t *testing.T) {
	requireTool(t, "openssl")
	requireTool(t, "curl")
	mk := makertest.New(t)
	l := makertest.Listen(t)
	dead := "http://" + l.Addr().String() + "/ocsp"
	l.Close() // nothing listens there any more
	s := startDevOpts(t, Options{MakerWatch: time.Hour})
	dir := t.TempDir()
	var m struct {
		ID string `json:"id"`
	}
	s.must(t, 201, oscar, "POST", "/v1/makers", map[string]any{"name": "acme-sensors", "anchors_pem": read(t, mk.Dir, "root.pem"),
		"intermediates_pem": read(t, mk.Dir, "inter.pem"), "ocsp_urls": []string{dead}}).json(t, &m)
	estCSR(t, dir, "fo1")
	code, body := estStatus(t, s, dir, s.info.ESTURL+"/simpleenroll", mk.Path("dev1.pem"), mk.Path("dev1.key"), "fo1.csr.b64")
	if code != 503 || !strings.Contains(body, "fail-closed") || !strings.Contains(body, dead) {
		t.Fatalf("onboarding while the maker's only source is down, fail-closed: %d %s", code, body)
	}
	s.must(t, 200, oscar, "PATCH", "/v1/makers/"+m.ID, map[string]any{"policy": map[string]any{"revocation": "fail-open"}})
	if code, body := estStatus(t, s, dir, s.info.ESTURL+"/simpleenroll", mk.Path("dev1.pem"), mk.Path("dev1.key"), "fo1.csr.b64"); code != 200 {
		t.Fatalf("onboarding fail-open: %d %s", code, body)
	}
	id := operational.ExternalDeviceID(m.ID, mk.Serials[0])
	if v := externalDevice(t, s, oscar, id); v.State != "active" {
		t.Fatalf("the device onboarded fail-open is %s", v.State)
	}
	found := false
	for after := int64(0); !found; {
		var evs struct {
			Items []struct {
				Seq     int64           `json:"seq"`
				Action  string          `json:"action"`
				Subject string          `json:"subject"`
				Detail  json.RawMessage `json:"detail"`
			} `json:"items"`
		}
		s.must(t, 200, audrey, "GET", fmt.Sprintf("/v1/audit/events?after=%d", after), nil).json(t, &evs)
		if len(evs.Items) == 0 {
			break
		}
		after = evs.Items[len(evs.Items)-1].Seq
		for _, e := range evs.Items {
			if e.Action == "operational.onboard.external" && e.Subject == "device:"+id {
				found = strings.Contains(string(e.Detail), "revocation_warning") && strings.Contains(string(e.Detail), "fail-open")
			}
		}
	}
	if !found {
		t.Error("no operational.onboard.external event records the fail-open warning")
	}
}
