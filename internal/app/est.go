package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/est"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/store"
)

// estEnroller runs EST requests through the operational service, exactly as the API does:
// a label names an environment (by ID, or by the name it claimed first), and the request acts
// as that environment's operator with the principal "est:<label>". The TLS handshake proved
// the key of the presented certificate, so the service is told possession is proven.
type estEnroller struct {
	a            *App
	defaultLabel string
	// pinned is the ID of the environment the bare path serves, set by its first resolution
	// of defaultLabel and never changed after.
	pinned atomic.Pointer[string]
}

var _ est.Enroller = (*estEnroller)(nil)

// ESTHandler serves /.well-known/est over the operational service; the bare path serves
// defaultLabel ("" leaves it unserved).
func (a *App) ESTHandler(defaultLabel string) http.Handler {
	mux := http.NewServeMux()
	h := est.New(est.Config{Enroller: &estEnroller{a: a, defaultLabel: defaultLabel}, Log: a.Log, Refused: a.estRefused(defaultLabel)})
	// Enrollments are admitted on EST's own limiter once their body is read; a refusal is the
	// text answer RFC 7030 section 4.2.3 gives.
	mux.Handle(est.PathPrefix+"/", a.Admission.EST.Wrap(h, func(r *http.Request) bool { return r.Method == http.MethodPost }, refuseText))
	return a.Metrics.Instrument("est", mux, estRoute)
}

// environment resolves a label (store.Environments.EnvironmentByLabel): an environment's ID,
// or a name that environment claimed before any other did. A later environment of the same
// name, another operator's, is reachable by its ID only, so it never changes where an
// existing label leads (issue 22). The bare path's default label is pinned to the
// environment ID it first resolves to (at the first request, not at start-up: the named
// environment may not exist yet); since a claim never moves, the pin never changes the
// answer, it only holds it by ID.
func (e *estEnroller) environment(ctx context.Context, label string) (environment.Environment, error) {
	bare := label == ""
	if bare {
		if e.defaultLabel == "" {
			return environment.Environment{}, &est.LabelError{Msg: "no default label is configured on this server: use " + est.PathPrefix + "/<label>/"}
		}
		label = e.defaultLabel
		if id := e.pinned.Load(); id != nil {
			label = *id
		}
	}
	var env environment.Environment
	err := e.a.Store.View(ctx, func(tx store.Tx) (err error) {
		env, err = tx.Environments().EnvironmentByLabel(label)
		return err
	})
	switch {
	case failure.Is(err, failure.NotFound):
		return environment.Environment{}, &est.LabelError{Label: label, Msg: "no environment has this ID, or claimed this name as its EST label"}
	case err != nil:
		return environment.Environment{}, err
	}
	if bare {
		e.pinned.CompareAndSwap(nil, &env.ID)
	}
	return env, nil
}

func estActor(env environment.Environment, label string) audit.Actor {
	if label == "" {
		label = env.Name
	}
	return audit.Actor{PartyID: env.OperatorID, PrincipalID: "est:" + label}
}

// CACerts returns the environment's issuing CA, the CAs above it, and the cross-certificates
// of its root's rollovers (authority.Path; RFC 7030 section 4.1.3), so that a device that
// trusts an older or newer root of the line can build the path.
func (e *estEnroller) CACerts(ctx context.Context, label string) ([]*x509.Certificate, error) {
	env, err := e.environment(ctx, label)
	if err != nil {
		return nil, err
	}
	return e.a.Authority.Path(ctx, env.IssuingCAID)
}

// Enroll runs operational.Onboard with the presented chain as the factory certificate.
func (e *estEnroller) Enroll(ctx context.Context, label string, csrDER []byte, peer []*x509.Certificate, f est.Facts) (*x509.Certificate, error) {
	env, err := e.environment(ctx, label)
	if err != nil {
		return nil, err
	}
	id, err := e.a.Operational.Onboard(ctx, estActor(env, label), operational.OnboardRequest{
		EnvironmentID: env.ID, CSR: base64.StdEncoding.EncodeToString(csrDER), Facts: opFacts(f),
	}, operational.Presented{Protocol: "est", PossessionProven: true, Chain: peer})
	if err != nil {
		return nil, err
	}
	return issuedCert(id)
}

// Reenroll runs operational.Renew with the presented leaf as the current certificate. The
// certificate must belong to the label's environment.
func (e *estEnroller) Reenroll(ctx context.Context, label string, csrDER []byte, peer []*x509.Certificate, f est.Facts) (*x509.Certificate, error) {
	env, err := e.environment(ctx, label)
	if err != nil {
		return nil, err
	}
	if err := e.sameEnvironment(ctx, env, peer[0]); err != nil {
		return nil, err
	}
	id, err := e.a.Operational.Renew(ctx, estActor(env, label), operational.RenewRequest{
		CSR: base64.StdEncoding.EncodeToString(csrDER), Facts: opFacts(f),
	}, operational.Presented{Protocol: "est", PossessionProven: true, Chain: peer[:1]})
	if err != nil {
		return nil, err
	}
	return issuedCert(id)
}

// sameEnvironment refuses a certificate of a device onboarded in another environment; a
// certificate unknown here is left to the service, which explains the refusal.
func (e *estEnroller) sameEnvironment(ctx context.Context, env environment.Environment, cur *x509.Certificate) error {
	return e.a.Store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Certificates().GetCert(cur.SerialNumber)
		if failure.Is(err, failure.NotFound) || err == nil && rec.DeviceID == "" {
			return nil
		} else if err != nil {
			return err
		}
		d, err := tx.Devices().GetDevice(rec.DeviceID)
		if err != nil {
			return err
		}
		if d.EnvironmentID != "" && d.EnvironmentID != env.ID {
			return failure.New(failure.Denied, "certificate %s belongs to a device of another environment than %q: re-enroll at that environment's label", ca.SerialHex(cur.SerialNumber), env.Name)
		}
		return nil
	})
}

func opFacts(f est.Facts) operational.Facts {
	return operational.Facts{FirmwareDigest: f.FirmwareDigest, HardwareRevision: f.HardwareRevision, Extra: f.Extra}
}

// issuedCert is the certificate an issuance returned.
func issuedCert(id operational.Identity) (*x509.Certificate, error) {
	if id.Certificate == nil {
		return nil, errors.New("est: the service returned no certificate")
	}
	return id.Certificate, nil
}

// estServer is the EST listener with its TLS configuration.
type estServer struct {
	ln net.Listener
	tc *tls.Config
	h  http.Handler
}

// newESTServer listens on addr with the API's server certificate and EST's client
// certificate request (est.TLSConfig), which refuses client certificates that no CA of the
// deployment nor registered anchor issued (issuers.go).
func (a *App) newESTServer(addr string, certs []tls.Certificate, defaultLabel string) (*estServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &estServer{ln: ln, tc: est.TLSConfig(certs, newIssuerCache(a.Store, a.Log)), h: a.ESTHandler(defaultLabel)}, nil
}
