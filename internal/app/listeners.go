package app

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/admission"
	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/est"
	"github.com/hallmark-id/hallmark/internal/httpapi"
	"github.com/hallmark-id/hallmark/internal/metrics"
	"github.com/hallmark-id/hallmark/internal/status"
)

// Limiters are the admission limiters, one per surface: a flood of OCSP requests or of slow
// EST enrollments sheds its own surface's requests, never the others'.
type Limiters struct {
	API    *admission.Limiter // writes under /v1
	EST    *admission.Limiter // simpleenroll and simplereenroll
	Status *admission.Limiter // OCSP and CRLs, on the API listener and on the status listener
}

// statusMaxBody bounds an OCSP request body read before admission; the responder's own bound
// (8 KiB) is below it, so that it answers larger ones in OCSP's own form.
const statusMaxBody = 64 << 10

// newLimiters makes the three limiters from one sizing; each reads bodies up to what its
// surface accepts, within l's body timeout and memory.
func newLimiters(c admission.Config, l ListenerLimits) Limiters {
	c.BodyTimeout, c.BodyMemory = l.BodyTimeout, l.BodyMemory
	api, enr, st := c, c, c
	api.MaxBody, enr.MaxBody, st.MaxBody = httpapi.MaxBody, est.MaxBody, statusMaxBody
	return Limiters{API: admission.New(api), EST: admission.New(enr), Status: admission.New(st)}
}

// watch shows the limiters in m, labelled by surface.
func (l Limiters) watch(m *metrics.Registry) error {
	for _, s := range []struct {
		name string
		l    *admission.Limiter
	}{{"api", l.API}, {"est", l.EST}, {"status", l.Status}} {
		if err := m.WatchAdmission(s.name, s.l); err != nil {
			return err
		}
	}
	return nil
}

// ListenerLimits bound each HTTPS listener (handshake.go); zero fields take the defaults.
type ListenerLimits struct {
	// Handshakes is the bound on TLS handshakes in flight (default DefaultHandshakes()).
	Handshakes int
	// HelloTimeout is how long a new connection has to send its whole ClientHello before it
	// is closed; until then it holds no handshake slot (default 5s).
	HelloTimeout time.Duration
	// PerSource bounds the connections of one IPv4 address or IPv6 /64 at once (default 128).
	PerSource int
	// Exempt are sources PerSource does not count: load balancers, NAT gateways of a site.
	Exempt []netip.Prefix
	// BodyTimeout bounds the reading of one request body before admission (default 5s) and
	// BodyMemory the bytes of bodies held at once per surface (default 64 MiB).
	BodyTimeout time.Duration
	BodyMemory  int64
}

// listenerLimits reads the limits section's bounds on listeners and bodies.
func listenerLimits(l config.Limits) ListenerLimits {
	return ListenerLimits{Handshakes: l.TLSHandshakes, HelloTimeout: l.TLSHelloTimeout.Duration, PerSource: l.PerSourceConnections,
		Exempt: l.ExemptPrefixes(), BodyTimeout: l.BodyTimeout.Duration, BodyMemory: l.BodyMemory}
}

// gate returns the handshake gate of the listener named name, making it (and showing it in
// the metrics) the first time.
func (a *App) gate(name string) *handshakeGate {
	a.gatesMu.Lock()
	defer a.gatesMu.Unlock()
	if g, ok := a.gates[name]; ok {
		return g
	}
	g := newHandshakeGate(gateConfig{Listener: name, Handshakes: a.Listeners.Handshakes, HelloTimeout: a.Listeners.HelloTimeout,
		PerSource: a.Listeners.PerSource, Exempt: a.Listeners.Exempt, Log: a.Log})
	if err := a.Metrics.WatchHandshakes(name, g); err != nil {
		a.Log.Warn("metrics: the handshake gate is not shown", "listener", name, "err", err)
	}
	a.gates[name] = g
	return g
}

// mountStatus serves OCSP and CRLs on mux through the status limiter. It returns mux's
// handler with OCSP routed ahead of it (status.OCSPFirst): serve that, not mux.
func (a *App) mountStatus(mux *http.ServeMux) http.Handler {
	st := a.Admission.Status.Wrap(a.StatusHandler(), func(*http.Request) bool { return true }, refuseStatus)
	mux.Handle("/crl/", st)
	mux.Handle("/ca/", st) // CA certificates, the caIssuers target
	return status.OCSPFirst(st, mux)
}

// StatusOnlyHandler is the whole HTTP surface of the status listener: OCSP and CRLs, counted
// by a.Metrics as "status".
func (a *App) StatusOnlyHandler() http.Handler {
	return a.Metrics.Instrument("status", a.mountStatus(http.NewServeMux()), nil)
}

// OCSP responses without a body (RFC 6960 section 4.2.1): tryLater for a request shed, and
// malformedRequest for one whose body did not arrive whole.
var (
	ocspTryLater  = []byte{0x30, 0x03, 0x0a, 0x01, 0x03}
	ocspMalformed = []byte{0x30, 0x03, 0x0a, 0x01, 0x01}
)

// refuseStatus answers an OCSP request in OCSP's form (RFC 6960 section 2.3: tryLater when
// shed), a CRL request in text.
func refuseStatus(w http.ResponseWriter, r *http.Request, code int, detail string) {
	if !strings.HasPrefix(r.URL.Path, "/ocsp") {
		refuseText(w, r, code, detail)
		return
	}
	body := ocspMalformed
	if code == http.StatusServiceUnavailable {
		body = ocspTryLater
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
