// Package registrar is the BRSKI registrar of RFC 8995 on the operator's deployment: it takes
// a pledge's voucher request over the EST listener (section 5.2), wraps it in a registrar
// voucher request signed with its own key (section 5.5), has the maker's MASA answer it, and
// hands the voucher back (section 5.6); it records the pledge's voucher status (section 5.7)
// and enrollment status (section 5.9.4).
//
// Invariants: a pledge request is forwarded only when it verifies with the very certificate
// the pledge presented in the TLS handshake (its IDevID), names this registrar's certificate
// as proximity-registrar-cert, and the MASA URL is known (the IDevID's id-pe-masa-url, else
// the configured default); a voucher is handed back only when it parses and pins a
// certificate of this registrar's own chain. Every request and its outcome is audited.
package registrar

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/brski/voucher"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// MASAClient sends a registrar voucher request to a MASA (RFC 8995 section 5.5) and returns
// its answer. url is the MASA's requestvoucher URL.
type MASAClient interface {
	RequestVoucher(ctx context.Context, url, media string, body []byte) (voucher []byte, answerMedia string, err error)
}

// MakerFinder names the registered maker (docs/external-makers.md) of the operator whose
// anchors the IDevID chain, leaf first, verifies against; "" when none does.
type MakerFinder interface {
	MakerOf(ctx context.Context, operatorID string, chain []*x509.Certificate) (string, error)
}

// CustodyVouchers finds the custody voucher by which the operator came to hold a device
// (custodyvouchers.Service.CarriedVoucher): nil when it came otherwise.
type CustodyVouchers interface {
	CarriedVoucher(ctx context.Context, partyID string, factory *x509.Certificate) ([]byte, error)
}

// Config holds the collaborators.
type Config struct {
	Store store.Store // audit events
	// PartyID is the operator this registrar acts for (the audit events' party).
	PartyID string
	// Signer is the registrar's key and certificate chain, leaf first: the EST listener's TLS
	// certificate, which pledges see and name as proximity-registrar-cert.
	Signer voucher.Signer
	MASA   MASAClient
	// Makers and MASAURLs name the MASA per registered maker; they win over the IDevID's
	// id-pe-masa-url (RFC 8995 section 5.4 lets the registrar's configuration decide).
	Makers   MakerFinder
	MASAURLs map[string]string
	// DefaultMASAURL is asked when neither MASAURLs nor the IDevID name a MASA ("": refuse).
	DefaultMASAURL string
	// Custody, when set, names the custody voucher the registrar voucher request carries
	// (voucher.CustodyVoucherLeaf), so that a MASA of another deployment sees that this
	// registrar's key holds the device (docs/brski.md).
	Custody CustodyVouchers
	Now     func() time.Time
}

// Service is the registrar.
type Service struct{ c Config }

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{c: c}
}

// RequestVoucher handles a pledge voucher request signed as media; peer is the TLS client
// chain, leaf first. It returns the MASA's voucher and its media type.
func (s *Service) RequestVoucher(ctx context.Context, media string, body []byte, peer []*x509.Certificate) ([]byte, string, error) {
	now := s.c.Now()
	serial := ""
	if len(peer) > 0 {
		serial = peer[0].Subject.SerialNumber
	}
	out, outMedia, masaURL, err := s.requestVoucher(ctx, media, body, peer, now)
	detail := map[string]any{"serial_number": serial, "media": media, "masa_url": masaURL}
	action := "brski.registrar.voucher"
	if err != nil {
		action, detail["refused"] = "brski.registrar.refuse", err.Error()
	}
	if aerr := s.audit(ctx, now, action, serial, detail); aerr != nil {
		return nil, "", errors.Join(err, aerr)
	}
	return out, outMedia, err
}

func (s *Service) requestVoucher(ctx context.Context, media string, body []byte, peer []*x509.Certificate, now time.Time) ([]byte, string, string, error) {
	if len(peer) == 0 {
		return nil, "", "", failure.New(failure.Unauthenticated, "a voucher request needs the pledge's IDevID as TLS client certificate (RFC 8995 section 5.2)")
	}
	signed, err := voucher.Verify(media, body, voucher.VerifyOptions{})
	if err != nil {
		return nil, "", "", failure.Wrap(failure.Invalid, err, "the pledge's voucher request")
	}
	if !signed.Signer.Equal(peer[0]) {
		return nil, "", "", failure.New(failure.Denied, "the voucher request is not signed with the TLS client certificate")
	}
	req, err := voucher.ParseRequest(signed.Payload)
	if err != nil {
		return nil, "", "", failure.Wrap(failure.Invalid, err, "the pledge's voucher request")
	}
	if req.SerialNumber != peer[0].Subject.SerialNumber {
		return nil, "", "", failure.New(failure.Invalid, "the request names serial %q, the certificate %q", req.SerialNumber, peer[0].Subject.SerialNumber)
	}
	if !bytes.Equal(req.ProximityRegistrarCert, s.c.Signer.Chain[0].Raw) {
		return nil, "", "", failure.New(failure.Invalid, "proximity-registrar-cert is not this registrar's certificate")
	}
	masaURL, err := s.masaURL(ctx, peer)
	if err != nil {
		return nil, "", "", err
	}
	rvr := voucher.Request{CreatedOn: now, Assertion: req.Assertion, SerialNumber: req.SerialNumber, Nonce: req.Nonce,
		IDevIDIssuer: peer[0].AuthorityKeyId, PriorSignedVoucherRequest: body}
	if s.c.Custody != nil {
		cv, err := s.c.Custody.CarriedVoucher(ctx, s.c.PartyID, peer[0])
		if err != nil && !failure.Is(err, failure.NotFound) {
			return nil, "", masaURL, fmt.Errorf("finding the custody voucher of the pledge: %w", err)
		}
		rvr.CustodyVoucher = cv
	}
	payload, err := rvr.Marshal()
	if err != nil {
		return nil, "", masaURL, err
	}
	out, err := voucher.Sign(media, payload, s.c.Signer)
	if err != nil {
		return nil, "", masaURL, fmt.Errorf("signing the registrar voucher request: %w", err)
	}
	if len(out) > voucher.MaxRegistrarRequest {
		return nil, "", masaURL, failure.New(failure.TooLarge, "the signed registrar voucher request with its custody voucher is %d bytes, above the %d a MASA reads: hand devices on in custody vouchers of fewer devices",
			len(out), voucher.MaxRegistrarRequest)
	}
	v, vm, err := s.c.MASA.RequestVoucher(ctx, masaURL, media, out)
	if err != nil {
		return nil, "", masaURL, err
	}
	if err := s.checkVoucher(vm, v, req); err != nil {
		return nil, "", masaURL, err
	}
	return v, vm, masaURL, nil
}

// checkVoucher is the registrar's look at the MASA's answer (RFC 8995 section 5.6): it is a
// voucher for this pledge that pins a certificate of this registrar's chain. The pledge
// checks the MASA's signature against its anchor.
func (s *Service) checkVoucher(media string, data []byte, req voucher.Request) error {
	signed, err := voucher.Verify(media, data, voucher.VerifyOptions{})
	if err != nil {
		return failure.Wrap(failure.Unavailable, err, "the MASA's answer")
	}
	v, err := voucher.Parse(signed.Payload)
	if err != nil {
		return failure.Wrap(failure.Unavailable, err, "the MASA's answer")
	}
	if v.SerialNumber != req.SerialNumber || !bytes.Equal(v.Nonce, req.Nonce) {
		return failure.New(failure.Unavailable, "the MASA answered with a voucher for another request")
	}
	for _, c := range s.c.Signer.Chain {
		if bytes.Equal(c.Raw, v.PinnedDomainCert) {
			return nil
		}
	}
	return failure.New(failure.Unavailable, "the MASA's voucher pins a certificate that is not this registrar's")
}

// masaURL is the requestvoucher URL of the IDevID's MASA: the one configured for its
// registered maker, else its id-pe-masa-url (RFC 8995 sections 2.3.2 and 5.4), else the
// default.
func (s *Service) masaURL(ctx context.Context, peer []*x509.Certificate) (string, error) {
	if s.c.Makers != nil && len(s.c.MASAURLs) > 0 {
		name, err := s.c.Makers.MakerOf(ctx, s.c.PartyID, peer)
		if err != nil {
			return "", fmt.Errorf("finding the pledge's maker: %w", err)
		}
		if u, ok := s.c.MASAURLs[name]; ok && name != "" {
			return RequestVoucherURL(u)
		}
	}
	u, err := issuance.ParseMASAURL(peer[0])
	if err != nil {
		return "", failure.Wrap(failure.Invalid, err, "the IDevID's MASA URL")
	}
	if u == "" {
		u = s.c.DefaultMASAURL
	}
	if u == "" {
		return "", failure.New(failure.Invalid, "no MASA is known for this pledge: its IDevID names none (id-pe-masa-url) and this registrar configures none for its maker")
	}
	return RequestVoucherURL(u)
}

// RequestVoucherURL turns a MASA URL as id-pe-masa-url carries it (an https URL or a bare
// authority, RFC 8995 section 2.3.2) into its requestvoucher endpoint.
func RequestVoucherURL(masa string) (string, error) {
	if !strings.Contains(masa, "://") {
		masa = "https://" + masa
	}
	u, err := url.Parse(masa)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", failure.New(failure.Invalid, "MASA URL %q is not https", masa)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/.well-known/brski") {
		u.Path += "/.well-known/brski"
	}
	u.Path += "/requestvoucher"
	return u.String(), nil
}

// Status is a pledge's voucher or enrollment status telemetry (RFC 8995 sections 5.7 and
// 5.9.4).
type Status struct {
	Version       int             `json:"version"`
	Status        bool            `json:"status"`
	Reason        string          `json:"reason,omitempty"`
	ReasonContext json.RawMessage `json:"reason-context,omitempty"`
}

// MaxStatus bounds a status body.
const MaxStatus = 16 << 10

var statusKeys = map[string]bool{"version": true, "status": true, "reason": true, "reason-context": true}

// ParseStatus reads status telemetry strictly: the four members of RFC 8995 section 5.7,
// each once; reason-context is any JSON object and is not read further.
func ParseStatus(b []byte) (Status, error) {
	if len(b) > MaxStatus {
		return Status{}, failure.New(failure.TooLarge, "status telemetry above %d bytes", MaxStatus)
	}
	top, err := topMembers(b)
	if err != nil {
		return Status{}, failure.Wrap(failure.Invalid, err, "status telemetry")
	}
	rc := top["reason-context"]
	var st Status
	// The drafts before RFC 8995 wrote version as the string "1" (draft -42, Figure 15);
	// pledges built against them still do, so both forms are read.
	if v, ok := top["version"]; ok && string(v) == `"1"` {
		top["version"] = json.RawMessage("1")
	}
	for k, dst := range map[string]any{"version": &st.Version, "status": &st.Status, "reason": &st.Reason} {
		if v, ok := top[k]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return Status{}, failure.Wrap(failure.Invalid, err, "status telemetry: "+k)
			}
		}
	}
	if _, ok := top["status"]; !ok || st.Version != 1 {
		return Status{}, failure.New(failure.Invalid, "status telemetry needs version 1 and a status")
	}
	if len(rc) > 0 {
		var obj map[string]json.RawMessage
		if json.Unmarshal(rc, &obj) != nil {
			return Status{}, failure.New(failure.Invalid, "reason-context is not a JSON object")
		}
		st.ReasonContext = rc
	}
	if len(st.Reason) > 1024 {
		return Status{}, failure.New(failure.Invalid, "reason is longer than 1024 characters")
	}
	return st, nil
}

// topMembers reads a JSON object's members, refusing a member not in statusKeys, spelled
// otherwise or given twice, and anything after the object.
func topMembers(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		if !statusKeys[k] {
			return nil, fmt.Errorf("unknown member %q", k)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("member %q given twice", k)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return out, nil
}

// Telemetry records a pledge's voucher status (kind "voucher_status") or enrollment status
// ("enrollstatus"); peer is the TLS client chain.
func (s *Service) Telemetry(ctx context.Context, kind string, body []byte, peer []*x509.Certificate) error {
	if len(peer) == 0 {
		return failure.New(failure.Unauthenticated, "status telemetry needs the pledge's TLS client certificate")
	}
	st, err := ParseStatus(body)
	if err != nil {
		return err
	}
	serial := peer[0].Subject.SerialNumber
	return s.audit(ctx, s.c.Now(), "brski.registrar."+kind, serial, map[string]any{"serial_number": serial, "status": st.Status, "reason": st.Reason})
}

func (s *Service) audit(ctx context.Context, now time.Time, action, serial string, detail any) error {
	return s.c.Store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: s.c.PartyID, PrincipalID: "brski-pledge:" + serial, Action: action, Scope: "brski:registrar", Subject: "pledge:" + serial, Detail: audit.Detail(detail)})
		return err
	})
}
