package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"

	"github.com/hallmark-id/hallmark/internal/brski"
	"github.com/hallmark-id/hallmark/internal/est"
	"github.com/hallmark-id/hallmark/internal/operational"
)

// estEnroller is the est.Enroller ESTHandler serves: it forwards every call to the
// operational service's EST entry (operational.EST), made at the first call, which decides.
type estEnroller struct {
	a            *App
	defaultLabel string
	once         sync.Once
	op           *operational.EST
}

var (
	_ est.Enroller = (*estEnroller)(nil)
	_ est.Enroller = (*operational.EST)(nil)
)

func (e *estEnroller) entry() *operational.EST {
	e.once.Do(func() { e.op = e.a.Operational.EST(e.defaultLabel) })
	return e.op
}

// CACerts forwards to operational.EST.
func (e *estEnroller) CACerts(ctx context.Context, label string) ([]*x509.Certificate, error) {
	return e.entry().CACerts(ctx, label)
}

// Enroll forwards to operational.EST.
func (e *estEnroller) Enroll(ctx context.Context, label string, csrDER []byte, peer []*x509.Certificate, f est.Facts) (*x509.Certificate, error) {
	return e.entry().Enroll(ctx, label, csrDER, peer, f)
}

// Reenroll forwards to operational.EST.
func (e *estEnroller) Reenroll(ctx context.Context, label string, csrDER []byte, peer []*x509.Certificate, f est.Facts) (*x509.Certificate, error) {
	return e.entry().Reenroll(ctx, label, csrDER, peer, f)
}

// ESTHandler serves /.well-known/est over the operational service; the bare path serves
// defaultLabel ("" leaves it unserved).
func (a *App) ESTHandler(defaultLabel string) http.Handler {
	mux := http.NewServeMux()
	h := est.New(est.Config{Enroller: &estEnroller{a: a, defaultLabel: defaultLabel}, Log: a.Log, Refused: a.estRefused(defaultLabel)})
	// Enrollments are admitted on EST's own limiter once their body is read; a refusal is the
	// text answer RFC 7030 section 4.2.3 gives.
	mux.Handle(est.PathPrefix+"/", a.Admission.EST.Wrap(h, func(r *http.Request) bool { return r.Method == http.MethodPost }, refuseText))
	if a.brskiRegistrar != nil {
		// BRSKI in front of EST (RFC 8995 section 5), on EST's limiter.
		mux.Handle(brski.PathPrefix+"/", a.Admission.EST.Wrap(a.brskiRegistrar, func(r *http.Request) bool { return r.Method == http.MethodPost }, refuseText))
	}
	return a.Metrics.Instrument("est", mux, estRoute)
}

// estServer is the EST listener with its TLS configuration.
type estServer struct {
	ln net.Listener
	tc *tls.Config
	h  http.Handler
}

// newESTServer listens on addr with the API's server certificate and EST's client
// certificate request (est.TLSConfig), which refuses client certificates that no CA of the
// deployment, registered anchor nor registered maker's CA issued (issuers.go).
func (a *App) newESTServer(addr string, certs []tls.Certificate, defaultLabel string) (*estServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// The handshake's signature checks are remembered for the enrollment's factory chain
	// check, which then does not compute the same signature again (chainverify's direct path).
	issuers := newIssuerCache(a.Store, a.Log, a.Operational.Signatures())
	a.estIssuers.Store(issuers)
	return &estServer{ln: ln, tc: est.TLSConfig(certs, issuers), h: a.ESTHandler(defaultLabel)}, nil
}
