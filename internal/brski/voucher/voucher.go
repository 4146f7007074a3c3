// Package voucher is the voucher artifact of RFC 8366 and the voucher request of RFC 8995
// section 3, in their JSON encoding (RFC 7951 rules for YANG data: binary leaves in base64,
// date-and-time in RFC 3339, booleans as JSON literals), signed as CMS SignedData (RFC 8366
// section 5.4) or as a JWS in General JSON serialization (draft-ietf-anima-jws-voucher).
//
// Invariants: Parse and ParseRequest accept only the documented leaves, each spelled exactly
// and given once (strictjson), of at most MaxSize bytes, and return a value that Validate
// accepts; the signature functions never return a payload whose signature did not verify
// with the certificate they return as the signer. Whether that signer is trusted (its chain
// to an anchor, its role) is the caller's decision, given the Roots it passes.
package voucher

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/strictjson"
)

// MaxSize bounds a JSON voucher or voucher request, and a signed one.
const MaxSize = 64 << 10

// MaxRegistrarRequest bounds a registrar voucher request, JSON or signed, which may carry a
// custody voucher (CustodyVoucherLeaf); a pledge's request is bounded by MaxSize where it is
// read.
const MaxRegistrarRequest = 1 << 20

// CustodyVoucherLeaf is the member of a registrar voucher request that carries the custody
// voucher (docs/vouchers.md) proving that the registrar's key holds the device, for a MASA
// whose deployment handed the device off (docs/brski.md). It is namespaced by its YANG module
// as RFC 7951 section 4 asks of a member augmenting another module's container.
const CustodyVoucherLeaf = "hallmark-custody-voucher:custody-voucher"

// The top-level member names (RFC 8366 section 5.3, RFC 8995 section 3.2).
const (
	VoucherKey = "ietf-voucher:voucher"
	RequestKey = "ietf-voucher-request:voucher"
)

// Assertion is what the MASA asserts about the device's ownership (RFC 8366 section 5.3).
type Assertion string

// The assertions of RFC 8366.
const (
	Verified  Assertion = "verified"
	Logged    Assertion = "logged"
	Proximity Assertion = "proximity"
)

func (a Assertion) valid() bool { return a == Verified || a == Logged || a == Proximity }

// Voucher is the voucher artifact (RFC 8366 section 5.3). Zero times and nil slices are
// absent leaves.
type Voucher struct {
	CreatedOn                  time.Time
	ExpiresOn                  time.Time
	Assertion                  Assertion
	SerialNumber               string
	IDevIDIssuer               []byte // the authority key identifier of the IDevID's issuer
	PinnedDomainCert           []byte // DER of the certificate the pledge is to trust
	DomainCertRevocationChecks *bool
	Nonce                      []byte
	LastRenewalDate            time.Time
}

// Request is a voucher request (RFC 8995 section 3.2): the pledge's, sent to the registrar,
// or the registrar's, sent to the MASA with the pledge's signed request inside.
type Request struct {
	CreatedOn                 time.Time
	ExpiresOn                 time.Time
	Assertion                 Assertion // "" is absent
	SerialNumber              string
	IDevIDIssuer              []byte
	Nonce                     []byte
	ProximityRegistrarCert    []byte // DER of the registrar's TLS server certificate
	PriorSignedVoucherRequest []byte // the pledge's signed request, as received
	// CustodyVoucher is the custody voucher file a registrar carries (CustodyVoucherLeaf).
	CustodyVoucher []byte
}

// wire is the JSON body of either artifact.
type wire struct {
	CreatedOn                  string          `json:"created-on,omitempty"`
	ExpiresOn                  string          `json:"expires-on,omitempty"`
	Assertion                  string          `json:"assertion,omitempty"`
	SerialNumber               string          `json:"serial-number,omitempty"`
	IDevIDIssuer               string          `json:"idevid-issuer,omitempty"`
	PinnedDomainCert           string          `json:"pinned-domain-cert,omitempty"`
	DomainCertRevocationChecks json.RawMessage `json:"domain-cert-revocation-checks,omitempty"`
	Nonce                      string          `json:"nonce,omitempty"`
	LastRenewalDate            string          `json:"last-renewal-date,omitempty"`
	ProximityRegistrarCert     string          `json:"proximity-registrar-cert,omitempty"`
	PriorSignedVoucherRequest  string          `json:"prior-signed-voucher-request,omitempty"`
	CustodyVoucher             string          `json:"hallmark-custody-voucher:custody-voucher,omitempty"`
}

var voucherLeaves = map[string]bool{
	VoucherKey: true, "created-on": true, "expires-on": true, "assertion": true, "serial-number": true,
	"idevid-issuer": true, "pinned-domain-cert": true, "domain-cert-revocation-checks": true,
	"nonce": true, "last-renewal-date": true,
}

var requestLeaves = map[string]bool{
	RequestKey: true, "created-on": true, "expires-on": true, "assertion": true, "serial-number": true,
	"idevid-issuer": true, "nonce": true, "proximity-registrar-cert": true, "prior-signed-voucher-request": true, CustodyVoucherLeaf: true,
}

// Marshal returns the JSON of v (RFC 8366 section 5.3) after Validate.
func (v Voucher) Marshal() ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	w := wire{
		CreatedOn: stamp(v.CreatedOn), ExpiresOn: stamp(v.ExpiresOn), Assertion: string(v.Assertion),
		SerialNumber: v.SerialNumber, IDevIDIssuer: b64(v.IDevIDIssuer), PinnedDomainCert: b64(v.PinnedDomainCert),
		Nonce: b64(v.Nonce), LastRenewalDate: stamp(v.LastRenewalDate),
	}
	if v.DomainCertRevocationChecks != nil {
		w.DomainCertRevocationChecks, _ = json.Marshal(*v.DomainCertRevocationChecks)
	}
	return json.Marshal(map[string]wire{VoucherKey: w})
}

// Validate checks the leaves RFC 8366 section 5.3 makes mandatory, and that an expiry
// follows the creation.
func (v Voucher) Validate() error {
	switch {
	case v.CreatedOn.IsZero():
		return errors.New("voucher: created-on is missing")
	case !v.Assertion.valid():
		return fmt.Errorf("voucher: assertion %q is not verified, logged or proximity", v.Assertion)
	case v.SerialNumber == "":
		return errors.New("voucher: serial-number is missing")
	case len(v.PinnedDomainCert) == 0:
		return errors.New("voucher: pinned-domain-cert is missing")
	case !v.ExpiresOn.IsZero() && !v.ExpiresOn.After(v.CreatedOn):
		return errors.New("voucher: expires-on is not after created-on")
	}
	return nil
}

// Parse reads a voucher's JSON (RFC 8366 section 5.3).
func Parse(data []byte) (Voucher, error) {
	w, err := decode(data, VoucherKey, voucherLeaves, MaxSize)
	if err != nil {
		return Voucher{}, err
	}
	v := Voucher{Assertion: Assertion(w.Assertion), SerialNumber: w.SerialNumber}
	var errs []error
	v.CreatedOn = readTime(w.CreatedOn, "created-on", &errs)
	v.ExpiresOn = readTime(w.ExpiresOn, "expires-on", &errs)
	v.LastRenewalDate = readTime(w.LastRenewalDate, "last-renewal-date", &errs)
	v.IDevIDIssuer = readBin(w.IDevIDIssuer, "idevid-issuer", &errs)
	v.PinnedDomainCert = readBin(w.PinnedDomainCert, "pinned-domain-cert", &errs)
	v.Nonce = readBin(w.Nonce, "nonce", &errs)
	if len(w.DomainCertRevocationChecks) > 0 {
		var b bool
		if err := json.Unmarshal(w.DomainCertRevocationChecks, &b); err != nil {
			// RFC 8366's own example wrote "true" as a string; erratum 6646 corrects it to the
			// literal RFC 7951 asks for.
			errs = append(errs, errors.New("voucher: domain-cert-revocation-checks is not a JSON boolean (RFC 7951; RFC 8366 erratum 6646)"))
		}
		v.DomainCertRevocationChecks = &b
	}
	if err := errors.Join(errs...); err != nil {
		return Voucher{}, err
	}
	if err := v.Validate(); err != nil {
		return Voucher{}, err
	}
	return v, nil
}

// Marshal returns the JSON of r (RFC 8995 section 3.2) after Validate.
func (r Request) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	w := wire{
		CreatedOn: stamp(r.CreatedOn), ExpiresOn: stamp(r.ExpiresOn), Assertion: string(r.Assertion),
		SerialNumber: r.SerialNumber, IDevIDIssuer: b64(r.IDevIDIssuer), Nonce: b64(r.Nonce),
		ProximityRegistrarCert: b64(r.ProximityRegistrarCert), PriorSignedVoucherRequest: b64(r.PriorSignedVoucherRequest),
		CustodyVoucher: b64(r.CustodyVoucher),
	}
	return json.Marshal(map[string]wire{RequestKey: w})
}

// Validate checks what every voucher request here must carry: the serial number the voucher
// will name, and a known assertion when one is given.
func (r Request) Validate() error {
	switch {
	case r.SerialNumber == "":
		return errors.New("voucher request: serial-number is missing")
	case r.Assertion != "" && !r.Assertion.valid():
		return fmt.Errorf("voucher request: assertion %q is not verified, logged or proximity", r.Assertion)
	case !r.ExpiresOn.IsZero() && !r.CreatedOn.IsZero() && !r.ExpiresOn.After(r.CreatedOn):
		return errors.New("voucher request: expires-on is not after created-on")
	}
	return nil
}

// ParseRequest reads a voucher request's JSON (RFC 8995 section 3.2).
func ParseRequest(data []byte) (Request, error) {
	w, err := decode(data, RequestKey, requestLeaves, MaxRegistrarRequest)
	if err != nil {
		return Request{}, err
	}
	r := Request{Assertion: Assertion(w.Assertion), SerialNumber: w.SerialNumber}
	var errs []error
	r.CreatedOn = readTime(w.CreatedOn, "created-on", &errs)
	r.ExpiresOn = readTime(w.ExpiresOn, "expires-on", &errs)
	r.IDevIDIssuer = readBin(w.IDevIDIssuer, "idevid-issuer", &errs)
	r.Nonce = readBin(w.Nonce, "nonce", &errs)
	r.ProximityRegistrarCert = readBin(w.ProximityRegistrarCert, "proximity-registrar-cert", &errs)
	r.PriorSignedVoucherRequest = readBin(w.PriorSignedVoucherRequest, "prior-signed-voucher-request", &errs)
	r.CustodyVoucher = readBin(w.CustodyVoucher, CustodyVoucherLeaf, &errs)
	if err := errors.Join(errs...); err != nil {
		return Request{}, err
	}
	if err := r.Validate(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// decode reads {key: {leaves}} strictly, of at most max bytes.
func decode(data []byte, key string, leaves map[string]bool, max int) (wire, error) {
	if len(data) > max {
		return wire{}, fmt.Errorf("voucher: %d bytes is more than %d", len(data), max)
	}
	if err := strictjson.CheckKeys(data, leaves); err != nil {
		return wire{}, fmt.Errorf("voucher: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return wire{}, fmt.Errorf("voucher: %w", err)
	}
	body, ok := top[key]
	if !ok || len(top) != 1 {
		return wire{}, fmt.Errorf("voucher: the document is not a single %q object", key)
	}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return wire{}, fmt.Errorf("voucher: %s: %w", key, err)
	}
	return w, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func readTime(s, leaf string, errs *[]error) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("voucher: %s is not an RFC 3339 date-and-time: %w", leaf, err))
	}
	return t
}

func readBin(s, leaf string, errs *[]error) []byte {
	if s == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("voucher: %s is not base64: %w", leaf, err))
	}
	return b
}
