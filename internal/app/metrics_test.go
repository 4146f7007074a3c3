package app

import (
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics fetches a /metrics URL over plain HTTP and parses the exposition.
func scrapeMetrics(t testing.TB, u string) map[string]*dto.MetricFamily {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(u)
	if err != nil {
		t.Fatalf("scraping %s: %v", u, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("scraping %s: status %d: %s", u, res.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing the exposition of %s: %v", u, err)
	}
	return fams
}

// metricValue is the value of the first sample of name whose labels include want (a
// histogram's sample count); ok false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
next:
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsDev scrapes the dev server's metrics listener (named in dev.json) over real
// HTTP and checks that API and EST requests, issuance and the state collectors show, and
// that the listener stops with the server.
func TestMetricsDev(t *testing.T) {
	s := startDev(t, "")
	u, err := url.Parse(s.info.MetricsURL)
	if err != nil || u.Scheme != "http" || u.Path != "/metrics" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "0" {
		t.Fatalf("dev.json metrics_url %q (%v)", s.info.MetricsURL, err)
	}
	whoami := map[string]string{"listener": "api", "method": "GET", "route": "/v1/whoami", "code": "200"}
	unauth := map[string]string{"listener": "api", "method": "GET", "route": "/v1/whoami", "code": "401"}
	issue := map[string]string{"listener": "api", "method": "POST", "route": "/v1/lots/{id}/devices", "code": "201"}
	factory := map[string]string{"profile": "factory"}
	before := scrapeMetrics(t, s.info.MetricsURL)
	w0, _ := metricValue(before, "hallmark_http_requests_total", whoami)
	u0, _ := metricValue(before, "hallmark_http_requests_total", unauth)
	i0, _ := metricValue(before, "hallmark_http_requests_total", issue)
	f0, ok := metricValue(before, "hallmark_certificates_issued_total", factory)
	if !ok {
		t.Fatal("hallmark_certificates_issued_total{profile=factory} is missing before any issuance")
	}

	s.must(t, 200, alice, "GET", "/v1/whoami", nil)
	s.must(t, 200, alice, "GET", "/v1/whoami", nil)
	s.must(t, 401, "", "GET", "/v1/whoami", nil)
	// One factory certificate, as the authorization matrix fixture issues them.
	f := &mxFixture{s: s, lots: map[string]mxLot{}, ids: map[string]string{}, idle: map[string]string{}}
	var models struct{ Items []struct{ ID, Name string } }
	s.must(t, 200, alice, "GET", "/v1/models?manufacturer=acme", nil).json(t, &models)
	modelID := ""
	for _, m := range models.Items {
		if m.Name == "sensor-x" {
			modelID = m.ID
		}
	}
	lot := f.newLot(t, alice, "acme", modelID, "sensor-x", f.caNamed(t, alice, "acme-mfg"), "line-a", "")
	f.issue(t, alice, lot)
	// An EST request on the EST listener.
	res, err := s.http.Get(s.info.ESTURL + "/cacerts")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("EST cacerts: %d", res.StatusCode)
	}

	after := scrapeMetrics(t, s.info.MetricsURL)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hallmark_http_requests_total", whoami, w0 + 2},
		{"hallmark_http_requests_total", unauth, u0 + 1},
		{"hallmark_http_requests_total", issue, i0 + 1},
		{"hallmark_certificates_issued_total", factory, f0 + 1},
		{"hallmark_http_requests_total", map[string]string{"listener": "est", "method": "GET", "route": "/.well-known/est/cacerts", "code": "200"}, 1},
		{"hallmark_leader", nil, 1}, // a lone server leads
		{"hallmark_admission_slots", nil, 64},
		{"hallmark_tls_handshake_limit", nil, float64(DefaultHandshakes())},
		{"hallmark_tls_handshakes_in_flight", nil, 0},
		{"hallmark_tls_handshake_failures_total", map[string]string{"reason": "timeout"}, 0},
	} {
		if got, ok := metricValue(after, tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("%s%v = %v (%v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if got, _ := metricValue(after, "hallmark_admission_admitted_requests_total", nil); got < 2 { // the lot and the issuance
		t.Errorf("admitted writes = %v, want at least 2", got)
	}
	if got, _ := metricValue(after, "hallmark_audit_events_total", map[string]string{"action": "factory.issue"}); got != 1 {
		t.Errorf("factory.issue events = %v, want 1", got)
	}
	if got, ok := metricValue(after, "hallmark_audit_tree_leaves", nil); !ok || got < 1 {
		t.Errorf("audit tree leaves = %v (%v)", got, ok)
	}
	if got, _ := metricValue(after, "hallmark_http_request_duration_seconds", map[string]string{"listener": "api", "route": "/v1/whoami"}); got < 3 {
		t.Errorf("whoami duration observations = %v, want at least 3", got)
	}
	want := []string{"go_goroutines", "go_memstats_heap_alloc_bytes"}
	if runtime.GOOS == "linux" {
		want = append(want, "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds")
	}
	for _, name := range want {
		if v, ok := metricValue(after, name, nil); !ok || v <= 0 {
			t.Errorf("%s = %v (%v), want a positive value", name, v, ok)
		}
	}
	// Routes are patterns, never paths with IDs in them.
	for _, m := range after["hallmark_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), lot) {
				t.Errorf("route label %q holds an ID", l.GetValue())
			}
		}
	}

	// The API does not serve the metrics; the metrics listener serves nothing else.
	if r := s.call(t, "", "GET", "/metrics", nil); r.Status != 404 {
		t.Errorf("GET /metrics on the API: %d", r.Status)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	if res, err := c.Get(strings.TrimSuffix(s.info.MetricsURL, "/metrics") + "/v1/whoami"); err != nil || res.StatusCode != 404 {
		t.Errorf("GET /v1/whoami on the metrics listener: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	// --dev serves Go's profiles beside the metrics.
	if res, err := c.Get(strings.TrimSuffix(s.info.MetricsURL, "/metrics") + "/debug/pprof/heap?debug=1"); err != nil || res.StatusCode != 200 {
		t.Errorf("GET /debug/pprof/heap on the dev metrics listener: %v %v", res, err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), "heap profile") {
			t.Errorf("the heap profile reads %.80q", body)
		}
	}

	s.stop()
	if res, err := c.Get(s.info.MetricsURL); err == nil {
		res.Body.Close()
		t.Error("the metrics listener still answers after the server stopped")
	}
}
