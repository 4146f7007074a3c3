// Package agent is the device side of Hallmark: it holds the factory identity, enrolls over
// EST (RFC 7030) for an operational certificate, and keeps it renewed at a fraction of its
// lifetime with jitter, backing off on failure. It knows the server only through EST.
package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/est"
)

// Facts are what the device reports with each request, as the documented EST headers
// (docs/est.md); environment policies read them.
type Facts struct {
	FirmwareDigest   string
	HardwareRevision string
	Extra            map[string]string
}

// Config holds what the agent needs. Zero values of the tuning fields are sensible.
type Config struct {
	// ESTURL is the EST base, e.g. https://hallmark.example:8444/.well-known/est/plant-1.
	ESTURL string
	// RootCAs verify the EST server's TLS certificate.
	RootCAs  *x509.CertPool
	Keystore Keystore
	Facts    Facts
	// RenewAt is the fraction of the certificate's lifetime after which it is renewed
	// (default 0.66); Jitter spreads renewals by up to this fraction of the lifetime (0.05).
	RenewAt, Jitter float64
	// MinBackoff and MaxBackoff bound the wait after a failure (1 s and 5 min).
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger
	Now                    func() time.Time
}

// Agent keeps one device's operational identity current.
type Agent struct {
	c Config
}

// New returns an agent.
func New(c Config) *Agent {
	if c.RenewAt <= 0 || c.RenewAt >= 1 {
		c.RenewAt = 0.66
	}
	if c.Jitter < 0 || c.Jitter >= 0.5 {
		c.Jitter = 0.05
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.ESTURL = strings.TrimSuffix(c.ESTURL, "/")
	return &Agent{c: c}
}

// Action says what a step did.
type Action string

// Actions.
const (
	Enrolled Action = "enrolled" // a new operational identity from the factory identity
	Renewed  Action = "renewed"  // a new operational identity from the current one
	Current  Action = "current"  // nothing due
)

// Result is the outcome of one step.
type Result struct {
	Action      Action
	Certificate *x509.Certificate // the identity held after the step
	NextRenewal time.Time         // when the next renewal is due
}

// RefusedError is a refusal by the server (an HTTP 4xx from EST): retrying unchanged will not
// help, so --once exits non-zero with it.
type RefusedError struct {
	Operation string
	Status    int
	Reason    string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s refused by the server (HTTP %d): %s", e.Operation, e.Status, e.Reason)
}

// DeferredError says the server accepted the request but cannot answer it yet: 202 while an
// operator's approval is pending, or 503 while it sheds load. The device asks again after
// RetryAfter (RFC 7030 section 4.2.3), not at its own backoff.
type DeferredError struct {
	Operation  string
	Status     int
	Reason     string
	RetryAfter time.Duration
}

func (e *DeferredError) Error() string {
	return fmt.Sprintf("%s deferred by the server (HTTP %d, retry after %s): %s", e.Operation, e.Status, e.RetryAfter, e.Reason)
}

// retryAfter reads a Retry-After header in seconds (RFC 9110 section 10.2.3); an HTTP date or
// a missing or silly value gives def. It is capped at an hour.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n <= 0 {
		return def
	}
	return min(time.Duration(n)*time.Second, time.Hour)
}

// Step enrolls when the device has no usable identity (none, or lapsed), renews when the
// current one is due, and otherwise does nothing.
func (a *Agent) Step(ctx context.Context) (Result, error) {
	chain, key, err := a.c.Keystore.Operational()
	now := a.c.Now()
	switch {
	case errors.Is(err, ErrNoIdentity):
		return a.enroll(ctx, false, nil, nil)
	case err != nil:
		return Result{}, err
	case !now.Before(chain[0].NotAfter):
		a.c.Log.Info("operational certificate lapsed; enrolling again with the factory identity", "not_after", chain[0].NotAfter)
		return a.enroll(ctx, false, nil, nil)
	}
	due := a.due(chain[0])
	if now.Before(due) {
		return Result{Action: Current, Certificate: chain[0], NextRenewal: due}, nil
	}
	return a.enroll(ctx, true, chain, key)
}

// Renew renews the current operational identity now, due or not (hallmark simulate's renewal
// storms use it).
func (a *Agent) Renew(ctx context.Context) (Result, error) {
	chain, key, err := a.c.Keystore.Operational()
	if err != nil {
		return Result{}, err
	}
	return a.enroll(ctx, true, chain, key)
}

// due is when a certificate should be renewed: RenewAt of its lifetime, minus up to Jitter of
// it, drawn afresh each time so a fleet does not renew in step.
func (a *Agent) due(c *x509.Certificate) time.Time {
	life := c.NotAfter.Sub(c.NotBefore)
	at := c.NotBefore.Add(time.Duration(float64(life) * a.c.RenewAt))
	if j := int64(float64(life) * a.c.Jitter); j > 0 {
		n, err := rand.Int(rand.Reader, big.NewInt(j))
		if err == nil {
			at = at.Add(-time.Duration(n.Int64()))
		}
	}
	return at
}

// enroll runs simpleenroll with the factory identity, or simplereenroll with the current one.
func (a *Agent) enroll(ctx context.Context, renew bool, chain []*x509.Certificate, key crypto.Signer) (Result, error) {
	op, action := "simpleenroll", Enrolled
	var client tls.Certificate
	var err error
	if renew {
		op, action = "simplereenroll", Renewed
		client, err = tlsCert(chain, key)
	} else {
		client, err = a.c.Keystore.Factory()
	}
	if err != nil {
		return Result{}, err
	}
	next, err := a.c.Keystore.NewKey()
	if err != nil {
		return Result{}, fmt.Errorf("agent: new key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: client.Leaf.Subject.CommonName}}, next)
	if err != nil {
		return Result{}, fmt.Errorf("agent: CSR: %w", err)
	}
	certs, err := a.post(ctx, op, client, csr)
	if err != nil {
		return Result{}, err
	}
	if err := a.c.Keystore.Commit(next, certs); err != nil {
		return Result{}, fmt.Errorf("agent: storing the new identity: %w", err)
	}
	a.c.Log.Info("operational identity "+string(action), "serial", certs[0].SerialNumber.Text(16), "not_after", certs[0].NotAfter)
	return Result{Action: action, Certificate: certs[0], NextRenewal: a.due(certs[0])}, nil
}

// post sends one EST enrollment (RFC 7030 section 4.2) and returns the issued certificate.
func (a *Agent) post(ctx context.Context, op string, client tls.Certificate, csr []byte) ([]*x509.Certificate, error) {
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: a.c.RootCAs, Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12,
	}}}
	defer hc.CloseIdleConnections()
	body := base64.StdEncoding.EncodeToString(csr)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.c.ESTURL+"/"+op, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/pkcs10")
	req.Header.Set("Content-Transfer-Encoding", "base64")
	if a.c.Facts.FirmwareDigest != "" {
		req.Header.Set("Hallmark-Firmware-Digest", a.c.Facts.FirmwareDigest)
	}
	if a.c.Facts.HardwareRevision != "" {
		req.Header.Set("Hallmark-Hardware-Revision", a.c.Facts.HardwareRevision)
	}
	for k, v := range a.c.Facts.Extra {
		req.Header.Add("Hallmark-Fact", k+"="+v)
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", op, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("agent: %s: reading the answer: %w", op, err)
	}
	switch {
	case res.StatusCode == http.StatusOK:
	case res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusTooManyRequests:
		return nil, &DeferredError{Operation: op, Status: res.StatusCode, Reason: strings.TrimSpace(string(data)), RetryAfter: retryAfter(res.Header, a.c.MinBackoff)}
	case res.StatusCode >= 400 && res.StatusCode < 500:
		return nil, &RefusedError{Operation: op, Status: res.StatusCode, Reason: strings.TrimSpace(string(data))}
	default:
		return nil, fmt.Errorf("agent: %s: HTTP %d: %s", op, res.StatusCode, strings.TrimSpace(string(data)))
	}
	der, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(data), nil)))
	if err != nil {
		return nil, fmt.Errorf("agent: %s: the answer is not base64: %w", op, err)
	}
	certs, err := est.ParseCertsOnly(der)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("agent: %s: the answer holds no certificate: %v", op, err)
	}
	return certs, nil
}

// Run steps until ctx ends: it sleeps until the next renewal is due, and after a failure
// backs off exponentially (with jitter) between MinBackoff and MaxBackoff. A refusal is
// retried too, at the longest backoff, since an operator may re-admit the device.
func (a *Agent) Run(ctx context.Context) error {
	backoff := a.c.MinBackoff
	for {
		res, err := a.Step(ctx)
		var wait time.Duration
		var refused *RefusedError
		var deferred *DeferredError
		switch {
		case err == nil:
			backoff = a.c.MinBackoff
			wait = res.NextRenewal.Sub(a.c.Now())
		case errors.As(err, &deferred):
			// The server said when: wait that long, spread by up to a tenth so a fleet that
			// was shed together does not come back together.
			wait = deferred.RetryAfter + jitter(deferred.RetryAfter/10)
			a.c.Log.Info("deferred", "operation", deferred.Operation, "status", deferred.Status, "reason", deferred.Reason, "wait", wait)
		case errors.As(err, &refused):
			a.c.Log.Warn("refused", "operation", refused.Operation, "status", refused.Status, "reason", refused.Reason)
			wait = a.c.MaxBackoff
		default:
			wait = backoff/2 + jitter(backoff/2)
			a.c.Log.Warn("failed; backing off", "error", err, "wait", wait)
			backoff = min(backoff*2, a.c.MaxBackoff)
		}
		if wait < time.Second {
			wait = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// jitter is a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d)))
	if err != nil {
		return 0
	}
	return time.Duration(n.Int64())
}
