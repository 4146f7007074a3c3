// Package masa is the Manufacturer Authorized Signing Authority of RFC 8995 on the maker's
// deployment: it answers a registrar's voucher request (RFC 8995 section 5.5) with an RFC
// 8366 voucher that pins the registrar's domain CA, for a device whose custody the
// registrar's party holds.
//
// Invariants: a voucher is issued only when (1) the registrar voucher request verifies with a
// certificate that chains, at now, to the domain CA of a registrar configured here, which
// names the registrar's party; (2) the pledge's own request inside it (prior-signed-voucher-
// request) verifies with a factory certificate this deployment issued, for the same serial
// number, naming as proximity-registrar-cert a certificate with the registrar's key; (3) the
// CustodyChecker says that party holds the device here, or that the registrar's key holds it
// by the custody voucher the request carries, and the device is not factory-revoked.
// The voucher carries the pledge's nonce, or, when the pledge sent none, an expires-on
// NoncelessLifetime after now. Every answer to a registrar it serves, voucher or refusal, is
// audited in its own transaction before it is returned (a request that cannot be audited
// gets no voucher). A request no registrar it serves signed is not audited in a transaction of
// its own, so that strangers cannot write to the audit log at their own rate: it is handed to
// Config.Strangers, which the server wires to the refusal recorder (internal/refusals): counted
// at once and coalesced into at most one audit event per signer and window.
package masa

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/brski/voucher"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Holding is what a CustodyChecker knows of a device.
type Holding struct {
	DeviceID    string
	Serial      string
	CustodianID string
	State       device.State
	// Holds is true when the query's party holds the device here, or its registrar's key holds
	// it by a custody voucher that starts at this deployment's export of it.
	Holds bool
	// Source is "local" (this deployment's records) or "custody-voucher" (the voucher the
	// registrar carried).
	Source string
}

// CustodyQuery asks whether a registrar may have a voucher for a device.
type CustodyQuery struct {
	// IDevID is the pledge's factory certificate.
	IDevID *x509.Certificate
	// PartyID is the party the registrar acts for, as configured here.
	PartyID string
	// Registrar is the certificate that signed the registrar voucher request; CustodyVoucher
	// the custody voucher file it carried (voucher.CustodyVoucherLeaf), or nil.
	Registrar      *x509.Certificate
	CustodyVoucher []byte
}

// CustodyChecker says whether the registrar of q holds the device whose factory certificate
// is q.IDevID: by this deployment's own records, or, for a device this deployment handed off
// by a custody voucher, by the voucher the registrar carried (StoreCustody). A certificate it
// does not know is failure.NotFound; a refusal is failure.Denied naming why.
type CustodyChecker interface {
	Holder(ctx context.Context, q CustodyQuery) (Holding, error)
}

// Registrar is a registrar this MASA serves: the party it acts for and the domain CA its
// signing certificate chains to, which vouchers pin.
type Registrar struct {
	PartyID  string
	DomainCA *x509.Certificate
}

// Config holds the collaborators.
type Config struct {
	Store      store.Store // audit events
	Custody    CustodyChecker
	Signer     voucher.Signer // the MASA's voucher signing key and certificate chain
	Registrars []Registrar
	// NoncelessLifetime is how long a voucher without nonce is valid (default 7 days).
	NoncelessLifetime time.Duration
	Now               func() time.Time
	// Strangers, when set, is told of every request refused before a registrar this MASA
	// serves was established: Signer is the subject of the certificate that signed it ("" when
	// the request did not verify). It must not block.
	Strangers func(Stranger)
}

// Stranger is a voucher request refused before its registrar was known.
type Stranger struct {
	Signer string
	Err    error
}

// Service is the MASA.
type Service struct{ c Config }

// New returns a Service.
func New(c Config) *Service {
	if c.NoncelessLifetime <= 0 {
		c.NoncelessLifetime = 7 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC() }
	}
	if c.Custody == nil {
		c.Custody = StoreCustody{Store: c.Store}
	}
	return &Service{c: c}
}

// Answer is an issued voucher.
type Answer struct {
	Media   string
	Voucher []byte
}

// request is what a verified registrar voucher request established.
type request struct {
	reg     Registrar
	regCert *x509.Certificate
	idevid  *x509.Certificate
	pledge  voucher.Request
	outer   voucher.Request
	// signer is the subject of the certificate that signed a request from no registrar this
	// MASA serves, for the refusal's record.
	signer string
}

// RequestVoucher answers a registrar voucher request signed as media (RFC 8995 section 5.5)
// with a voucher signed the same way. Refusals are failure.Invalid (malformed or
// inconsistent), failure.Denied (unknown registrar, no custody, revoked device) or
// failure.NotFound (a device this deployment did not make).
func (s *Service) RequestVoucher(ctx context.Context, media string, body []byte) (Answer, error) {
	now := s.c.Now()
	req, err := s.verify(ctx, media, body, now)
	if err == nil {
		var ans Answer
		ans, err = s.issue(ctx, media, req, now)
		if err == nil {
			return ans, nil
		}
	}
	if req.regCert == nil {
		// Nobody this MASA serves: the refusal goes to the coalescing recorder, not to an audit
		// transaction of its own, so that strangers cannot write to the audit log at will.
		if s.c.Strangers != nil {
			s.c.Strangers(Stranger{Signer: req.signer, Err: err})
		}
		return Answer{}, err
	}
	detail := map[string]any{"media": media, "refused": err.Error(), "serial_number": req.outer.SerialNumber}
	if rule := failure.RuleOf(err); rule != "" {
		detail["rule"] = rule // e.g. factory:not-current: a superseded factory certificate
	}
	if aerr := s.audit(ctx, registrarActor(req), now, "brski.masa.refuse", "", detail); aerr != nil {
		return Answer{}, errors.Join(err, aerr)
	}
	return Answer{}, err
}

func registrarActor(r request) audit.Actor {
	return audit.Actor{PartyID: r.reg.PartyID, PrincipalID: "brski-registrar:" + r.regCert.Subject.CommonName}
}

// verify checks the registrar's and the pledge's signatures and their consistency. It
// returns what it established so far along with an error.
func (s *Service) verify(ctx context.Context, media string, body []byte, now time.Time) (request, error) {
	var r request
	outer, err := voucher.Verify(media, body, voucher.VerifyOptions{MaxSize: voucher.MaxRegistrarRequest})
	if err != nil {
		return r, failure.Wrap(failure.Invalid, err, "registrar voucher request")
	}
	reg, ok := s.registrar(outer, now)
	if !ok {
		r.signer = outer.Signer.Subject.String()
		return r, failure.New(failure.Denied, "the voucher request is not signed by a registrar this MASA serves (%q)", r.signer)
	}
	r.reg, r.regCert = reg, outer.Signer
	if r.outer, err = voucher.ParseRequest(outer.Payload); err != nil {
		return r, failure.Wrap(failure.Invalid, err, "registrar voucher request")
	}
	prior := r.outer.PriorSignedVoucherRequest
	if len(prior) == 0 {
		return r, failure.New(failure.Invalid, "the registrar voucher request carries no prior-signed-voucher-request (RFC 8995 section 5.5)")
	}
	pm := voucher.MediaCMS
	if bytes.HasPrefix(bytes.TrimSpace(prior), []byte("{")) {
		pm = voucher.MediaJWS
	}
	inner, err := voucher.Verify(pm, prior, voucher.VerifyOptions{})
	if err != nil {
		return r, failure.Wrap(failure.Invalid, err, "the pledge's voucher request")
	}
	r.idevid = inner.Signer
	if r.pledge, err = voucher.ParseRequest(inner.Payload); err != nil {
		return r, failure.Wrap(failure.Invalid, err, "the pledge's voucher request")
	}
	switch {
	case r.pledge.SerialNumber != r.outer.SerialNumber:
		return r, failure.New(failure.Invalid, "the registrar asks for serial %q, the pledge for %q", r.outer.SerialNumber, r.pledge.SerialNumber)
	case r.idevid.Subject.SerialNumber != r.pledge.SerialNumber:
		return r, failure.New(failure.Invalid, "the pledge's request names serial %q, its certificate %q", r.pledge.SerialNumber, r.idevid.Subject.SerialNumber)
	case len(r.outer.Nonce) > 0 && !bytes.Equal(r.outer.Nonce, r.pledge.Nonce):
		return r, failure.New(failure.Invalid, "the registrar's nonce is not the pledge's")
	case len(r.pledge.ProximityRegistrarCert) == 0:
		return r, failure.New(failure.Invalid, "the pledge's request names no proximity-registrar-cert")
	}
	prox, err := x509.ParseCertificate(r.pledge.ProximityRegistrarCert)
	if err != nil {
		return r, failure.Wrap(failure.Invalid, err, "proximity-registrar-cert")
	}
	if !bytes.Equal(prox.RawSubjectPublicKeyInfo, r.regCert.RawSubjectPublicKeyInfo) {
		return r, failure.New(failure.Denied, "the pledge met another registrar (%q) than the one asking (%q)", prox.Subject.String(), r.regCert.Subject.String())
	}
	return r, nil
}

// registrar finds the configured registrar whose domain CA anchors the signer at now.
func (s *Service) registrar(sig voucher.Signed, now time.Time) (Registrar, bool) {
	inter := x509.NewCertPool()
	for _, c := range sig.Certs {
		inter.AddCert(c)
	}
	for _, r := range s.c.Registrars {
		roots := x509.NewCertPool()
		roots.AddCert(r.DomainCA)
		if _, err := sig.Signer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
			return r, true
		}
	}
	return Registrar{}, false
}

// issue checks custody and signs the voucher.
func (s *Service) issue(ctx context.Context, media string, r request, now time.Time) (Answer, error) {
	h, err := s.c.Custody.Holder(ctx, CustodyQuery{IDevID: r.idevid, PartyID: r.reg.PartyID, Registrar: r.regCert, CustodyVoucher: r.outer.CustodyVoucher})
	if err != nil {
		return Answer{}, fmt.Errorf("reading custody: %w", err)
	}
	switch {
	case h.Serial != r.pledge.SerialNumber:
		return Answer{}, failure.New(failure.Invalid, "the certificate belongs to device serial %q, not %q", h.Serial, r.pledge.SerialNumber)
	case h.State == device.FactoryRevoked:
		return Answer{}, failure.New(failure.Denied, "device %s is factory-revoked", h.DeviceID)
	case !h.Holds:
		return Answer{}, failure.New(failure.Denied, "party %s does not hold device %s: no voucher for its registrar", r.reg.PartyID, h.DeviceID)
	}
	v := voucher.Voucher{CreatedOn: now, Assertion: voucher.Logged, SerialNumber: h.Serial, IDevIDIssuer: r.idevid.AuthorityKeyId,
		PinnedDomainCert: r.reg.DomainCA.Raw, Nonce: r.pledge.Nonce}
	if len(v.Nonce) == 0 {
		v.ExpiresOn = now.Add(s.c.NoncelessLifetime)
	}
	payload, err := v.Marshal()
	if err != nil {
		return Answer{}, err
	}
	signed, err := voucher.Sign(media, payload, s.c.Signer)
	if err != nil {
		return Answer{}, fmt.Errorf("signing the voucher: %w", err)
	}
	detail := map[string]any{"serial_number": h.Serial, "media": media, "nonceless": len(v.Nonce) == 0, "pinned_domain_cert": r.reg.DomainCA.Subject.String(),
		"custody": h.Source}
	if !v.ExpiresOn.IsZero() {
		detail["expires_on"] = v.ExpiresOn
	}
	if err := s.audit(ctx, registrarActor(r), now, "brski.masa.voucher", "device:"+h.DeviceID, detail); err != nil {
		return Answer{}, err
	}
	return Answer{Media: media, Voucher: signed}, nil
}

func (s *Service) audit(ctx context.Context, a audit.Actor, now time.Time, action, subject string, detail any) error {
	return s.c.Store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: a.PartyID, PrincipalID: a.PrincipalID, Action: action, Scope: "brski:masa", Subject: subject, Detail: audit.Detail(detail)})
		return err
	})
}
