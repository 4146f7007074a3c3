package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/brski/voucher"
)

// PledgeConfig is what a BRSKI pledge needs beyond Config (RFC 8995 section 5).
type PledgeConfig struct {
	// MASAAnchors are the maker's anchors the voucher's signature must chain to.
	MASAAnchors *x509.CertPool
	// Media is the voucher format asked for: voucher.MediaJWS (default) or voucher.MediaCMS.
	Media string
	// Nonceless asks for a voucher without nonce, which the MASA bounds with expires-on: the
	// kind a pledge at an air-gapped site is handed (RFC 8366 section 5.3). It must still be
	// valid when the pledge checks it.
	Nonceless bool
}

// Voucher is what Bootstrap accepted.
type Voucher struct {
	Voucher    voucher.Voucher
	DomainCert *x509.Certificate // the pinned domain certificate, now the EST trust anchor
}

// Bootstrap runs BRSKI (RFC 8995) against the registrar at ESTURL's host: it connects without
// trusting the registrar yet (section 5.1, provisional TLS), signs a voucher request with the
// IDevID naming the registrar's certificate and a fresh nonce (section 5.2), validates the
// voucher against p.MASAAnchors, checks its serial number, nonce (or, nonceless, its
// expiry) and that the registrar's TLS certificate chains to the pinned domain certificate
// (section 5.6.1), reports the voucher status (section 5.7), and from then on trusts only
// the pinned certificate for EST. A refusal by the registrar is a *RefusedError.
func (a *Agent) Bootstrap(ctx context.Context, p PledgeConfig) (Voucher, error) {
	if p.MASAAnchors == nil {
		return Voucher{}, errors.New("agent: brski: no MASA anchor to validate vouchers with")
	}
	media := p.Media
	if media == "" {
		media = voucher.MediaJWS
	}
	idevid, err := a.c.Keystore.Factory()
	if err != nil {
		return Voucher{}, err
	}
	key, ok := idevid.PrivateKey.(crypto.Signer)
	if !ok {
		return Voucher{}, errors.New("agent: brski: the factory key cannot sign")
	}
	base, err := brskiBase(a.c.ESTURL)
	if err != nil {
		return Voucher{}, err
	}
	// Provisional TLS (section 5.1): the registrar is not trusted until the voucher pins its
	// domain; a first handshake learns its certificate, which the request names.
	seen, err := registrarChain(ctx, base, idevid)
	if err != nil {
		return Voucher{}, err
	}
	pinned := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 || !cs.PeerCertificates[0].Equal(seen[0]) {
			return errors.New("agent: brski: the registrar changed its certificate during bootstrap")
		}
		return nil
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{idevid}, InsecureSkipVerify: true, //nolint:gosec // RFC 8995 section 5.1: provisional until the voucher
		VerifyConnection: pinned}}}
	defer hc.CloseIdleConnections()
	registrarCert := seen[0]
	var nonce []byte
	if !p.Nonceless {
		nonce = make([]byte, 16)
		if _, err := rand.Read(nonce); err != nil {
			return Voucher{}, err
		}
	}
	now := a.c.Now()
	leaf := idevid.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(idevid.Certificate[0]); err != nil {
			return Voucher{}, err
		}
	}
	req := voucher.Request{CreatedOn: now, Assertion: voucher.Proximity, SerialNumber: leaf.Subject.SerialNumber, Nonce: nonce, ProximityRegistrarCert: registrarCert.Raw}
	payload, err := req.Marshal()
	if err != nil {
		return Voucher{}, err
	}
	chain := []*x509.Certificate{leaf}
	for _, der := range idevid.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			chain = append(chain, c)
		}
	}
	signed, err := voucher.Sign(media, payload, voucher.Signer{Key: key, Chain: chain})
	if err != nil {
		return Voucher{}, err
	}
	body, vm, err := postBRSKI(ctx, hc, base+"/requestvoucher", media, signed)
	if err != nil {
		return Voucher{}, err
	}
	v, domain, err := a.checkVoucher(vm, body, p.MASAAnchors, leaf, nonce, seen, now)
	status := map[string]any{"version": 1, "status": err == nil}
	if err != nil {
		status["reason"] = err.Error()
	}
	_, _, _ = postBRSKI(ctx, hc, base+"/voucher_status", "application/json", jsonBytes(status))
	if err != nil {
		return Voucher{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(domain)
	a.c.RootCAs = pool
	a.c.Log.Info("voucher accepted; EST now trusts the pinned domain certificate", "serial_number", v.SerialNumber, "pinned", domain.Subject.String(), "nonceless", len(v.Nonce) == 0)
	return Voucher{Voucher: v, DomainCert: domain}, nil
}

// checkVoucher validates a voucher (RFC 8995 section 5.6.1).
func (a *Agent) checkVoucher(media string, data []byte, anchors *x509.CertPool, idevid *x509.Certificate, nonce []byte, registrar []*x509.Certificate, now time.Time) (voucher.Voucher, *x509.Certificate, error) {
	signed, err := voucher.Verify(media, data, voucher.VerifyOptions{Roots: anchors, Now: now})
	if err != nil {
		return voucher.Voucher{}, nil, fmt.Errorf("agent: brski: the voucher is not signed by the maker's MASA: %w", err)
	}
	v, err := voucher.Parse(signed.Payload)
	if err != nil {
		return voucher.Voucher{}, nil, fmt.Errorf("agent: brski: %w", err)
	}
	switch {
	case v.SerialNumber != idevid.Subject.SerialNumber:
		return v, nil, fmt.Errorf("agent: brski: the voucher is for serial %q, not this device's %q", v.SerialNumber, idevid.Subject.SerialNumber)
	case !bytes.Equal(v.Nonce, nonce):
		return v, nil, errors.New("agent: brski: the voucher's nonce is not this request's")
	case len(v.Nonce) == 0 && v.ExpiresOn.IsZero():
		return v, nil, errors.New("agent: brski: a voucher without nonce must expire (expires-on)")
	case !v.ExpiresOn.IsZero() && !now.Before(v.ExpiresOn):
		return v, nil, fmt.Errorf("agent: brski: the voucher expired at %s", v.ExpiresOn.Format(time.RFC3339))
	}
	domain, err := x509.ParseCertificate(v.PinnedDomainCert)
	if err != nil {
		return v, nil, fmt.Errorf("agent: brski: pinned-domain-cert: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(domain)
	inter := x509.NewCertPool()
	for _, c := range registrar[1:] {
		inter.AddCert(c)
	}
	if _, err := registrar[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now}); err != nil {
		return v, nil, fmt.Errorf("agent: brski: the registrar's certificate does not chain to the pinned domain certificate: %w", err)
	}
	return v, domain, nil
}

// brskiBase is https://host[:port]/.well-known/brski for the EST URL's host.
func brskiBase(estURL string) (string, error) {
	u, err := url.Parse(estURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("agent: brski: EST URL %q is not https", estURL)
	}
	return "https://" + u.Host + "/.well-known/brski", nil
}

// registrarChain makes a provisional TLS handshake with the registrar of base (an https URL)
// and returns the chain it presented, leaf first.
func registrarChain(ctx context.Context, base string, idevid tls.Certificate) ([]*x509.Certificate, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host += ":443"
	}
	d := tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{idevid}, InsecureSkipVerify: true}} //nolint:gosec // RFC 8995 section 5.1
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("agent: brski: reaching the registrar: %w", err)
	}
	defer conn.Close()
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(chain) == 0 {
		return nil, errors.New("agent: brski: the registrar presented no certificate")
	}
	return chain, nil
}

func postBRSKI(ctx context.Context, hc *http.Client, u, media string, body []byte) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", media)
	res, err := hc.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("agent: brski: %w", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, voucher.MaxSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("agent: brski: reading the answer: %w", err)
	}
	op := u[strings.LastIndexByte(u, '/')+1:]
	switch {
	case res.StatusCode == http.StatusOK:
	case res.StatusCode >= 400 && res.StatusCode < 500:
		return nil, "", &RefusedError{Operation: op, Status: res.StatusCode, Reason: strings.TrimSpace(string(data))}
	default:
		return nil, "", fmt.Errorf("agent: brski: %s: HTTP %d: %s", op, res.StatusCode, strings.TrimSpace(string(data)))
	}
	mt := res.Header.Get("Content-Type")
	return data, mt, nil
}

func jsonBytes(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TrustEST makes the agent trust pool, and only it, for the EST server's TLS certificate: the
// domain certificate an earlier voucher pinned.
func (a *Agent) TrustEST(pool *x509.CertPool) { a.c.RootCAs = pool }

// ReportEnrollment tells the registrar how the enrollment after the voucher went (RFC 8995
// section 5.9.4, enrollstatus): enrollErr nil is success. It needs the pinned domain
// certificate (Bootstrap or TrustEST) and presents the factory identity.
func (a *Agent) ReportEnrollment(ctx context.Context, enrollErr error) error {
	idevid, err := a.c.Keystore.Factory()
	if err != nil {
		return err
	}
	base, err := brskiBase(a.c.ESTURL)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: a.c.RootCAs, Certificates: []tls.Certificate{idevid}}}}
	defer hc.CloseIdleConnections()
	status := map[string]any{"version": 1, "status": enrollErr == nil}
	if enrollErr != nil {
		status["reason"] = enrollErr.Error()
	}
	_, _, err = postBRSKI(ctx, hc, base+"/enrollstatus", "application/json", jsonBytes(status))
	return err
}
