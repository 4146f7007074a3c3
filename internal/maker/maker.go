// Package maker defines makers that do not run Hallmark, as an operator registers them: their
// trust anchors and intermediates, where they publish revocation status, the keys their
// signed device manifests verify with, and the operator's onboarding policy for their
// devices; the manifests uploaded for them; and the origin of each of their devices that was
// onboarded. docs/external-makers.md describes how onboarding and the status watcher use
// them. It is pure: no I/O, no clock.
//
// Invariants: a maker belongs to one operator and has at least one anchor, each a CA
// certificate; its explicit sources are http(s) URLs; a Policy names only rules it knows. An
// Origin names exactly one maker and keeps the factory certificate it was first onboarded
// with; its state moves from good to revoked once and never back.
package maker

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Maker is a registered maker that does not run Hallmark.
type Maker struct {
	ID         string
	OperatorID string // the operator whose onboarding trusts it
	Name       string // a slug, unique per operator
	// Anchors are the maker's root CAs; Intermediates the CAs between them and the device
	// certificates, offered to chain building beside what a device presents.
	Anchors, Intermediates []*x509.Certificate
	// CRLURLs and OCSPURLs, when any is set, replace the sources the device certificates
	// name (cRLDistributionPoints, OCSP in authorityInformationAccess).
	CRLURLs, OCSPURLs []string
	// ManifestKeys are the PEM "PUBLIC KEY" blocks a signed manifest of this maker must
	// verify with (one of them).
	ManifestKeys []string
	// BuildRecordKeys are the PEM "PUBLIC KEY" blocks the maker signs build records and the
	// first link of a custody voucher with (its key history, internal/custodyvoucher).
	BuildRecordKeys []string
	Policy          Policy
	CreatedBy       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// MaxCerts bounds the anchors and intermediates of one maker, and MaxURLs its explicit
// sources of each kind.
const (
	MaxCerts        = 16
	MaxURLs         = 8
	MaxManifestKeys = 8
)

// Validate checks a maker's registration: a name, one or more CA anchors, CA
// intermediates, http(s) sources, and a valid policy.
func (m Maker) Validate() error {
	if len(m.Anchors) == 0 {
		return failure.New(failure.Invalid, "maker %s: at least one anchor (the maker's root CA certificate) is required", m.Name)
	}
	if len(m.Anchors)+len(m.Intermediates) > MaxCerts {
		return failure.New(failure.Invalid, "maker %s: at most %d anchors and intermediates", m.Name, MaxCerts)
	}
	for _, c := range slices.Concat(m.Anchors, m.Intermediates) {
		if !c.IsCA || !c.BasicConstraintsValid {
			return failure.New(failure.Invalid, "maker %s: %s is not a CA certificate", m.Name, c.Subject)
		}
	}
	if len(m.CRLURLs) > MaxURLs || len(m.OCSPURLs) > MaxURLs {
		return failure.New(failure.Invalid, "maker %s: at most %d CRL and %d OCSP URLs", m.Name, MaxURLs, MaxURLs)
	}
	for _, u := range slices.Concat(m.CRLURLs, m.OCSPURLs) {
		if err := CheckURL(u); err != nil {
			return err
		}
	}
	if len(m.ManifestKeys) > MaxManifestKeys {
		return failure.New(failure.Invalid, "maker %s: at most %d manifest keys", m.Name, MaxManifestKeys)
	}
	if len(m.BuildRecordKeys) > MaxManifestKeys {
		return failure.New(failure.Invalid, "maker %s: at most %d build-record keys", m.Name, MaxManifestKeys)
	}
	return m.Policy.Validate()
}

// CheckURL accepts an absolute http(s) URL with a host and no user information or fragment:
// the only kind of revocation source that is fetched.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return failure.New(failure.Invalid, "revocation source %q: must be an http(s)://host[:port]/path URL without user information or fragment", raw)
	}
	return nil
}

// AnchorOf returns the anchor of m that is c (the same certificate), if any.
func (m Maker) AnchorOf(c *x509.Certificate) bool {
	return slices.ContainsFunc(m.Anchors, func(a *x509.Certificate) bool { return a.Equal(c) })
}

// Mode is what onboarding does when a device's revocation status is unknown.
type Mode string

// The modes. FailClosed is the default.
const (
	FailClosed Mode = "fail-closed"
	FailOpen   Mode = "fail-open"
)

// Policy is an operator's onboarding policy for one maker's devices, checked before the
// environment's policy.
type Policy struct {
	// Revocation is the mode when no source gives a usable answer ("" is FailClosed).
	Revocation Mode `json:"revocation,omitempty"`
	// RequireManifest admits only devices listed in the maker's active manifest.
	RequireManifest bool `json:"require_manifest,omitempty"`
	// RequireHardwareModuleName admits only factory certificates with a hardwareModuleName
	// (RFC 4108) subject alternative name.
	RequireHardwareModuleName bool `json:"require_hardware_module_name,omitempty"`
	// KeyTypes, when set, lists the factory key types admitted (KeyType names).
	KeyTypes []string `json:"key_types,omitempty"`
}

// Key type names (KeyType).
var keyTypes = []string{"ecdsa-p256", "ecdsa-p384", "ed25519", "rsa"}

// Validate refuses an unknown mode or key type.
func (p Policy) Validate() error {
	switch p.Revocation {
	case "", FailClosed, FailOpen:
	default:
		return failure.New(failure.Invalid, "maker policy: revocation must be %q or %q, not %q", FailClosed, FailOpen, p.Revocation)
	}
	for _, k := range p.KeyTypes {
		if !slices.Contains(keyTypes, k) {
			return failure.New(failure.Invalid, "maker policy: key type %q is not one of %s", k, strings.Join(keyTypes, ", "))
		}
	}
	return nil
}

// Mode is the revocation mode, FailClosed when unset.
func (p Policy) Mode() Mode {
	if p.Revocation == "" {
		return FailClosed
	}
	return p.Revocation
}

// KeyType names a public key as Policy.KeyTypes does; "" for another kind.
func KeyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ecdsa-p256"
		case elliptic.P384():
			return "ecdsa-p384"
		}
	case ed25519.PublicKey:
		return "ed25519"
	case *rsa.PublicKey:
		return "rsa"
	}
	return ""
}

// The rules of a maker's policy; a Refusal names the one that failed.
const (
	RuleHardwareModuleName = "maker.require_hardware_module_name"
	RuleKeyType            = "maker.key_types"
	RuleManifest           = "maker.require_manifest"
)

// Refusal is a device refused by its maker's policy. It is failure.Denied and names the
// rule.
type Refusal struct {
	Rule string
	Msg  string
}

func (e *Refusal) Error() string { return e.Msg }

// FailureKind classifies the refusal.
func (e *Refusal) FailureKind() failure.Kind { return failure.Denied }

// Check applies the rules that read the factory certificate alone (hardwareModuleName, key
// types); the manifest rule needs the manifest and is the caller's.
func (p Policy) Check(makerName string, factory *x509.Certificate, hasHardwareModuleName bool) error {
	if p.RequireHardwareModuleName && !hasHardwareModuleName {
		return &Refusal{Rule: RuleHardwareModuleName, Msg: fmt.Sprintf("%s: maker %s requires a hardwareModuleName in the factory certificate, and it has none", RuleHardwareModuleName, makerName)}
	}
	if len(p.KeyTypes) > 0 {
		kt := KeyType(factory.PublicKey)
		if !slices.Contains(p.KeyTypes, kt) {
			if kt == "" {
				kt = fmt.Sprintf("%T", factory.PublicKey)
			}
			return &Refusal{Rule: RuleKeyType, Msg: fmt.Sprintf("%s: maker %s admits factory keys of type %s, not %s", RuleKeyType, makerName, strings.Join(p.KeyTypes, ", "), kt)}
		}
	}
	return nil
}

// SPKISHA256 is the SHA-256 of a certificate's DER SubjectPublicKeyInfo: how a manifest
// names a device key.
func SPKISHA256(c *x509.Certificate) [32]byte { return sha256.Sum256(c.RawSubjectPublicKeyInfo) }
