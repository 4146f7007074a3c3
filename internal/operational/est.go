package operational

import (
	"context"
	"crypto/x509"
	"errors"
	"sync/atomic"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ESTPathPrefix is the well-known EST path (RFC 7030 section 3.2.2), named in the refusal
// of a bare path that serves no label.
const ESTPathPrefix = "/.well-known/est"

// EST is onboarding and renewal as an EST server asks for them (the shape of est.Enroller):
// a label names an environment (by ID, or by the name it claimed first), and a request acts
// as that environment's operator with the principal "est:<label>". The TLS handshake proved
// possession of the presented certificate's key, so no Proof is asked for.
type EST struct {
	s            *Service
	defaultLabel string
	// pinned is the ID of the environment the bare path serves, set by its first resolution
	// of defaultLabel and never changed after.
	pinned atomic.Pointer[string]
}

// EST returns the EST entry of the service; the bare path serves defaultLabel ("" leaves it
// unserved).
func (s *Service) EST(defaultLabel string) *EST { return &EST{s: s, defaultLabel: defaultLabel} }

// environment resolves a label in a read transaction of its own (see resolve).
func (e *EST) environment(ctx context.Context, label string) (environment.Environment, error) {
	var env environment.Environment
	err := e.s.c.Store.View(ctx, func(tx store.Tx) (err error) {
		env, err = e.resolve(tx, label)
		return err
	})
	return env, err
}

// resolve resolves a label in tx (store.Environments.EnvironmentByLabel): an environment's
// ID, or a name that environment claimed before any other did. A later environment of the
// same name, another operator's, is reachable by its ID only, so it never changes where an
// existing label leads (issue 22). The bare path's default label is pinned to the
// environment ID it first resolves to (at the first request, not at start-up: the named
// environment may not exist yet); since a claim never moves, the pin never changes the
// answer, it only holds it by ID. An unknown label is an *environment.LabelError.
func (e *EST) resolve(tx store.Tx, label string) (environment.Environment, error) {
	bare := label == ""
	if bare {
		if e.defaultLabel == "" {
			return environment.Environment{}, &environment.LabelError{Msg: "no default label is configured on this server: use " + ESTPathPrefix + "/<label>/"}
		}
		label = e.defaultLabel
		if id := e.pinned.Load(); id != nil {
			label = *id
		}
	}
	env, err := tx.Environments().EnvironmentByLabel(label)
	switch {
	case failure.Is(err, failure.NotFound):
		return environment.Environment{}, &environment.LabelError{Label: label, Msg: "no environment has this ID, or claimed this name as its EST label"}
	case err != nil:
		return environment.Environment{}, err
	}
	if bare {
		e.pinned.CompareAndSwap(nil, &env.ID)
	}
	return env, nil
}

// estActor is the principal an EST request of label acts as: the environment's operator.
func estActor(env environment.Environment, label string) audit.Actor {
	if label == "" {
		label = env.Name
	}
	return audit.Actor{PartyID: env.OperatorID, PrincipalID: "est:" + label}
}

// CACerts returns the environment's issuing CA, the CAs above it, and the cross-certificates
// of its root's rollovers (authority.Path; RFC 7030 section 4.1.3), so that a device that
// trusts an older or newer root of the line can build the path.
func (e *EST) CACerts(ctx context.Context, label string) ([]*x509.Certificate, error) {
	env, err := e.environment(ctx, label)
	if err != nil {
		return nil, err
	}
	return e.s.c.Authority.Path(ctx, env.IssuingCAID)
}

// Enroll onboards the device whose factory chain peer is (leaf first, as the TLS client
// presented it) with the PKCS#10 request csrDER, and returns its operational certificate.
// The TLS handshake proved possession of the factory key, so everything the decision needs
// is read in one transaction (on the writer's connection, see onboardRead): the label, the
// operator's right to issue, the onboarding policy and, for this deployment's own factory
// certificate, what onboarding reads (readOnboarding). A maker's device, whose chain ends at a registered anchor, goes the
// onboarding's longer way. The label and the right are refused first, then the facts, the
// chain and the request, then the device.
func (e *EST) Enroll(ctx context.Context, label string, csrDER []byte, peer []*x509.Certificate, facts environment.Facts) (*x509.Certificate, error) {
	chain, chainErr := transportChain(peer, "the TLS client chain")
	now := e.s.now()
	var (
		r       = onboarding{chain: chain, facts: facts, protocol: "est"}
		a       audit.Actor
		rd      onboardRead
		readErr error // a refusal of the device, given after those of the request
	)
	err := governance.ReadOnWriter(ctx, e.s.c.Store, func(tx store.Tx) (err error) {
		if r.env, err = e.resolve(tx, label); err != nil {
			return err
		}
		a = estActor(r.env, label)
		if r.policy, err = onboardingPolicy(tx, a, r.env); err != nil {
			return err
		}
		if chainErr != nil {
			return nil
		}
		var rec ca.Cert
		if rec, r.own, err = ownFactory(tx, chain[0]); err != nil || !r.own {
			return err
		}
		// The record ownFactory read is the one readOnboarding checks: the same transaction.
		rd, readErr = e.s.readOnboarding(tx, r, now, &rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := facts.Validate(); err != nil {
		return nil, err
	}
	if chainErr != nil {
		return nil, chainErr
	}
	if r.csr, err = csr.Parse(csrDER); err != nil {
		return nil, err
	}
	if !r.own {
		id, err := e.s.onboard(ctx, a, r)
		if err != nil {
			return nil, err
		}
		return issuedCert(id)
	}
	if err := ownKey(r); err != nil {
		return nil, err
	}
	prog, err := e.s.program(ctx, r.policy)
	if err != nil {
		return nil, err
	}
	if err := e.s.checkOnboarding(r, rd, readErr, now); err != nil {
		return nil, err
	}
	id, err := e.s.finishOnboarding(ctx, a, r, prog, rd, now)
	if err != nil {
		return nil, err
	}
	return issuedCert(id)
}

// Reenroll renews the operational identity peer[0] with the PKCS#10 request csrDER. The
// certificate must belong to the label's environment. The TLS handshake proved possession
// of its key, so everything the decision needs is read in one transaction (on the writer's
// connection, see onboardRead): the label, the certificate's environment and what a renewal
// reads (readRenewal). The label is refused
// first, then the facts, the chain, the environment and the request, then the renewal.
func (e *EST) Reenroll(ctx context.Context, label string, csrDER []byte, peer []*x509.Certificate, facts environment.Facts) (*x509.Certificate, error) {
	chain, chainErr := transportChain(peer, "the TLS client chain")
	now := e.s.now()
	var (
		env      environment.Environment
		a        audit.Actor
		otherEnv error // the certificate is of another environment's device
		rr       renewRead
		readErr  error // a refusal of the renewal, given after those of the request
	)
	r := renewal{facts: facts, protocol: "est"}
	if chainErr == nil {
		r.current = chain[0]
	}
	err := governance.ReadOnWriter(ctx, e.s.c.Store, func(tx store.Tx) (err error) {
		if env, err = e.resolve(tx, label); err != nil {
			return err
		}
		a = estActor(env, label)
		if chainErr != nil {
			return nil
		}
		var known *heldCert
		if otherEnv, known, err = sameEnvironment(tx, env, r.current); err != nil || otherEnv != nil {
			return err
		}
		// The rows sameEnvironment read are the ones readRenewal checks: the same transaction.
		rr, readErr = e.s.readRenewal(tx, a, r, store.Challenge{}, now, known)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := facts.Validate(); err != nil {
		return nil, err
	}
	if chainErr != nil {
		return nil, chainErr
	}
	if otherEnv != nil {
		return nil, otherEnv
	}
	if r.csr, err = csr.Parse(csrDER); err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	id, err := e.s.finishRenewal(ctx, a, r, rr, now)
	if err != nil {
		return nil, err
	}
	return issuedCert(id)
}

// sameEnvironment returns a refusal (not an error of tx) for a certificate of a device
// onboarded in another environment than env; a certificate unknown here is left to renew,
// which explains the refusal. Otherwise it returns the certificate's record and its device
// as tx read them, for readRenewal in the same transaction (nil when either is unknown).
func sameEnvironment(tx store.Tx, env environment.Environment, cur *x509.Certificate) (refusal error, known *heldCert, err error) {
	rec, err := tx.Certificates().GetCert(cur.SerialNumber)
	if failure.Is(err, failure.NotFound) || err == nil && rec.DeviceID == "" {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	d, err := tx.Devices().GetDevice(rec.DeviceID)
	if err != nil {
		return nil, nil, err
	}
	if d.EnvironmentID != "" && d.EnvironmentID != env.ID {
		return failure.New(failure.Denied, "certificate %s belongs to a device of another environment than %q: re-enroll at that environment's label", ca.SerialHex(cur.SerialNumber), env.Name), nil, nil
	}
	return nil, &heldCert{rec: rec, d: d}, nil
}

// issuedCert is the certificate an issuance returned.
func issuedCert(id Identity) (*x509.Certificate, error) {
	if id.Certificate == nil {
		return nil, errors.New("est: the service returned no certificate")
	}
	return id.Certificate, nil
}
