package metrics_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hallmark-id/hallmark/internal/admission"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/auditlog"
	"github.com/hallmark-id/hallmark/internal/leader"
	"github.com/hallmark-id/hallmark/internal/metrics"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// scrape fetches the registry's handler over HTTP on loopback and parses the exposition.
func scrape(t *testing.T, m *metrics.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("scrape: status %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	return fams
}

// value is the value of the sample of family name whose labels include want; ok false when
// there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
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
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func TestInstrumentLabelsByPattern(t *testing.T) {
	m := metrics.New(quiet)
	inner := http.NewServeMux()
	inner.HandleFunc("GET /v1/items/{id}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	inner.HandleFunc("POST /v1/items", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	inner.HandleFunc("GET /v1/quiet", func(w http.ResponseWriter, r *http.Request) {})
	inner.HandleFunc("POST /v1/abort", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	outer := http.NewServeMux()
	outer.Handle("/v1/", inner)
	outer.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(m.Instrument("api", outer, nil))
	defer srv.Close()

	c := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Do(req)
		if err != nil {
			if path == "/v1/abort" {
				return // the server drops the connection
			}
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	do("GET", "/v1/items/41")
	do("GET", "/v1/items/42")
	do("POST", "/v1/items")
	do("GET", "/v1/quiet")
	do("GET", "/v1/nothing-here")
	do("GET", "/elsewhere")
	do("BREW", "/healthz")
	do("GET", "/healthz")
	do("POST", "/v1/abort") // POST: the client does not retry it

	fams := scrape(t, m)
	for _, tc := range []struct {
		method, route, code string
		want                float64
	}{
		{"GET", "/v1/items/{id}", "200", 2},
		{"POST", "/v1/items", "201", 1},
		{"GET", "/v1/quiet", "200", 1},
		{"GET", "unmatched", "404", 2},
		{"OTHER", "unmatched", "405", 1},
		{"GET", "/healthz", "200", 1},
		{"POST", "/v1/abort", "500", 1},
	} {
		labels := map[string]string{"listener": "api", "method": tc.method, "route": tc.route, "code": tc.code}
		if got, _ := value(fams, "hallmark_http_requests_total", labels); got != tc.want {
			t.Errorf("requests %v = %v, want %v", labels, got, tc.want)
		}
	}
	if got, _ := value(fams, "hallmark_http_request_duration_seconds", map[string]string{"listener": "api", "method": "GET", "route": "/v1/items/{id}"}); got != 2 {
		t.Errorf("duration observations = %v, want 2", got)
	}
	if got, ok := value(fams, "hallmark_http_requests_in_flight", map[string]string{"listener": "api"}); !ok || got != 0 {
		t.Errorf("in flight = %v (%v), want 0", got, ok)
	}
	// Raw paths never become labels.
	for _, m := range fams["hallmark_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), "41") || strings.Contains(l.GetValue(), "nothing-here") || l.GetValue() == "BREW" {
				t.Errorf("label %s=%q comes from the request", l.GetName(), l.GetValue())
			}
		}
	}
}

func TestRuntimeAndProcessCollectors(t *testing.T) {
	fams := scrape(t, metrics.New(quiet))
	want := []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds"}
	if runtime.GOOS == "linux" {
		want = append(want, "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds")
	}
	for _, name := range want {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s is missing", name)
		}
	}
	if v, _ := value(fams, "process_resident_memory_bytes", nil); runtime.GOOS == "linux" && v <= 0 {
		t.Errorf("resident memory %v", v)
	}
	// Every profile is present at 0 before anything is issued.
	for _, p := range []string{"factory", "operational", "support", "ocsp-responder"} {
		if v, ok := value(fams, "hallmark_certificates_issued_total", map[string]string{"profile": p}); !ok || v != 0 {
			t.Errorf("issued{profile=%q} = %v (%v), want 0", p, v, ok)
		}
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStateAndAuditCounts reads a real limiter, election and audit log through the collectors.
func TestStateAndAuditCounts(t *testing.T) {
	ctx := context.Background()
	m := metrics.New(quiet)
	st := auditlog.ObserveCommitted(openStore(t), m.AuditCommitted)
	lim := admission.New(admission.Config{Slots: 3, Queue: 2})
	el := leader.New(leader.Config{Store: st, Holder: "metrics-test", Log: quiet})
	var sizeCalls atomic.Int64
	var size func(context.Context) (uint64, error)
	if err := m.Watch(metrics.State{Leader: el, AuditSize: func(ctx context.Context) (uint64, error) {
		sizeCalls.Add(1)
		return size(ctx)
	}, AuditRefresh: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchAdmission("api", lim); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchAdmission("est", admission.New(admission.Config{Slots: 5})); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchAdmission("est", lim); err == nil {
		t.Error("a second limiter under one listener's name was registered")
	}
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auditlog.New(auditlog.Config{Store: st, Signer: k, Origin: "metrics.test/audit", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	size = svc.Size

	fams := scrape(t, m)
	api := map[string]string{"listener": "api"}
	for name, want := range map[string]float64{"hallmark_admission_slots": 3, "hallmark_admission_queue_limit": 2,
		"hallmark_admission_in_flight_requests": 0, "hallmark_admission_body_memory_bytes": 64 << 20} {
		if got, ok := value(fams, name, api); !ok || got != want {
			t.Errorf("before: %s = %v (%v), want %v", name, got, ok, want)
		}
	}
	for name, want := range map[string]float64{"hallmark_leader": 0, "hallmark_audit_tree_leaves": 0} {
		if got, ok := value(fams, name, nil); !ok || got != want {
			t.Errorf("before: %s = %v (%v), want %v", name, got, ok, want)
		}
	}
	if got, ok := value(fams, "hallmark_admission_slots", map[string]string{"listener": "est"}); !ok || got != 5 {
		t.Errorf("before: est slots = %v (%v), want 5", got, ok)
	}

	release, ok := lim.Acquire(ctx)
	if !ok {
		t.Fatal("admission refused a free slot")
	}
	defer release()
	if ok, err := el.Try(ctx); !ok || err != nil {
		t.Fatalf("the lone elector does not lead: %v", err)
	}
	for _, action := range []string{"factory.issue", "factory.issue", "operational.renew", "lot.create"} {
		if err := st.Update(ctx, func(tx store.Tx) error {
			_, err := tx.Audit().Append(audit.Event{At: time.Now(), PartyID: "acme", PrincipalID: "prn_1", Action: action})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	fams = scrape(t, m)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hallmark_admission_in_flight_requests", api, 1},
		{"hallmark_admission_admitted_requests_total", api, 1},
		{"hallmark_admission_shed_requests_total", map[string]string{"listener": "api", "reason": "capacity"}, 0},
		{"hallmark_admission_body_refusals_total", map[string]string{"listener": "api", "reason": "timeout"}, 0},
		{"hallmark_admission_in_flight_requests", map[string]string{"listener": "est"}, 0},
		{"hallmark_leader", nil, 1},
		{"hallmark_audit_events_total", map[string]string{"action": "factory.issue"}, 2},
		{"hallmark_audit_events_total", map[string]string{"action": "lot.create"}, 1},
		{"hallmark_certificates_issued_total", map[string]string{"profile": "factory"}, 2},
		{"hallmark_certificates_issued_total", map[string]string{"profile": "operational"}, 1},
		// Read once an hour here: the scrape before the appends set it.
		{"hallmark_audit_tree_leaves", nil, 0},
	} {
		if got, ok := value(fams, tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("%s%v = %v (%v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if n := sizeCalls.Load(); n != 1 {
		t.Errorf("AuditSize called %d times over two scrapes, want 1", n)
	}
	if err := el.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _ := value(scrape(t, m), "hallmark_leader", nil); got != 0 {
		t.Errorf("after Stop: hallmark_leader = %v", got)
	}
}

// TestAuditLeavesRefreshAndFailure: the tree size is re-read after the refresh interval, and
// is absent while the read fails.
func TestAuditLeavesRefreshAndFailure(t *testing.T) {
	ctx := context.Background()
	m := metrics.New(quiet)
	st := openStore(t)
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auditlog.New(auditlog.Config{Store: st, Signer: k, Origin: "metrics.test/audit", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Watch(metrics.State{AuditSize: svc.Size, AuditRefresh: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := st.Update(ctx, func(tx store.Tx) error {
			_, err := tx.Audit().Append(audit.Event{At: time.Now(), PartyID: "acme", PrincipalID: "prn_1", Action: "lot.create"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got, ok := value(scrape(t, m), "hallmark_audit_tree_leaves", nil); !ok || got != float64(i+1) {
			t.Fatalf("after %d appends: leaves %v (%v)", i+1, got, ok)
		}
	}
	st.Close() // the store goes away
	if _, ok := scrape(t, m)["hallmark_audit_tree_leaves"]; ok {
		t.Error("the tree size is still reported after the store closed")
	}
}
