// Package keys is the contract between Hallmark and the places CA private keys live.
//
// Invariants:
//   - A key is only ever handed out as a crypto.Signer, through a Provider, under an ID the caller
//     chose. The signers this package and its backends return are opaque: they expose Public and
//     Sign, never the private key value, so no code outside internal/keys sees key bytes.
//   - Key material is never written in clear: the only serialised form this package produces is an
//     encrypted PKCS#8 PEM (MarshalEncryptedPEM).
//   - Weak or unknown keys are refused when they enter (ParsePrivateKeyPEM, Provider.Import): RSA
//     below 2048 bits, elliptic curves other than P-256 and P-384, and anything that cannot sign.
//
// Backends live in sub-packages: internal/keys/file (encrypted PEM files, the default) and
// internal/keys/pkcs11 (HSMs, built with cgo and -tags pkcs11; docs/keys.md). Errors carry
// internal/failure kinds: Invalid for bad input, NotFound for an unknown ID, Conflict for an ID
// that is taken, Unavailable when the place keys live cannot be reached.
//
// A key is named either by an ID the provider chose the place for (ValidID) or, for a key made
// outside Hallmark such as in a key ceremony, by a key URI (RFC 7512 for PKCS#11) that a
// Locator resolves. Load takes either.
package keys

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Algorithm names a key type a Provider can create.
type Algorithm string

// The algorithms a Provider can create.
const (
	ECDSAP256 Algorithm = "ecdsa-p256"
	ECDSAP384 Algorithm = "ecdsa-p384"
	Ed25519   Algorithm = "ed25519"
	RSA3072   Algorithm = "rsa-3072"
)

// Algorithms lists every valid Algorithm, in a stable order.
func Algorithms() []Algorithm { return []Algorithm{ECDSAP256, ECDSAP384, Ed25519, RSA3072} }

// Validate returns a failure.Invalid error unless a is one of Algorithms.
func (a Algorithm) Validate() error {
	switch a {
	case ECDSAP256, ECDSAP384, Ed25519, RSA3072:
		return nil
	}
	names := make([]string, 0, 4)
	for _, x := range Algorithms() {
		names = append(names, string(x))
	}
	return failure.New(failure.Invalid, "keys: unknown key algorithm %q (want one of %s)", string(a), strings.Join(names, ", "))
}

// ParseAlgorithm parses a name such as "ecdsa-p256"; case and surrounding space are ignored.
func ParseAlgorithm(s string) (Algorithm, error) {
	a := Algorithm(strings.ToLower(strings.TrimSpace(s)))
	if err := a.Validate(); err != nil {
		return "", err
	}
	return a, nil
}

// Provider creates, loads and imports CA keys. The ID is chosen by the caller (for example
// "ca-<id>") and must satisfy ValidID. Implementations are safe for concurrent use.
type Provider interface {
	// Create makes a new key of the given algorithm under id. It fails with failure.Conflict if
	// id already names a key, and never replaces one.
	Create(ctx context.Context, id string, alg Algorithm) (crypto.Signer, error)
	// Signer returns the key stored under id, or a failure.NotFound error.
	Signer(ctx context.Context, id string) (crypto.Signer, error)
	// Import stores an existing key under id. pemData holds one private key as PKCS#8
	// ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or PBES2-encrypted
	// PKCS#8 ("ENCRYPTED PRIVATE KEY", opened with passphrase). The key is stored under the
	// provider's own protection, not the passphrase it came with. Weak, unknown and malformed keys
	// fail with failure.Invalid (see ParsePrivateKeyPEM); a taken id with failure.Conflict.
	Import(ctx context.Context, id string, pemData, passphrase []byte) (crypto.Signer, error)
}

// MaxIDLen is the longest valid key ID.
const MaxIDLen = 128

// ValidID reports, as a failure.Invalid error, whether id is not a valid key ID: 1 to 128
// characters from [a-z0-9._-], starting with a letter or digit. Such IDs are safe as file names
// and PKCS#11 labels.
func ValidID(id string) error {
	if id == "" {
		return failure.New(failure.Invalid, "keys: empty key id")
	}
	if len(id) > MaxIDLen {
		return failure.New(failure.Invalid, "keys: key id is %d characters long, more than %d", len(id), MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return failure.New(failure.Invalid, "keys: invalid key id %q: use a-z, 0-9, '.', '_' and '-', starting with a letter or digit", id)
		}
	}
	return nil
}

// Secret holds a passphrase or other secret. However it is printed, logged or marshalled it
// shows as "[redacted]"; convert it to []byte to use it.
type Secret []byte

const redacted = "[redacted]"

var (
	_ slog.LogValuer = Secret(nil)
	_ fmt.Stringer   = Secret(nil)
	_ fmt.GoStringer = Secret(nil)
	_ fmt.Formatter  = Secret(nil)
)

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that no verb (%d, %x, %v, ...) prints the bytes.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText implements encoding.TextMarshaler (and so JSON) without revealing the secret.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalText implements encoding.TextUnmarshaler: the text is the secret, not base64.
func (s *Secret) UnmarshalText(b []byte) error {
	*s = append(Secret(nil), b...)
	return nil
}

// Locator is implemented by providers that reach keys made outside Hallmark, named by a key
// URI such as "pkcs11:token=hallmark;id=%01%02;object=issuing-2026" (RFC 7512). A key URI
// given to a server names a key only: the module, the token's PIN and any other way in are the
// server's own configuration, never part of the URI.
type Locator interface {
	// Locate returns the key uri names and the canonical form of uri, which is what to record
	// (for example as a CA's key ID) and give to Locate again later. A URI that does not parse,
	// carries a PIN or names another token fails with failure.Invalid; a key that is not there
	// with failure.NotFound; an unreachable device with failure.Unavailable.
	Locate(ctx context.Context, uri string) (s crypto.Signer, canonical string, err error)
	// URI returns the key URI of the key a provider made under id (see Provider.Create), for
	// operators and audit records. It does not check that the key exists.
	URI(id string) string
}

// IsURI reports whether name is a key URI rather than a key ID. Key IDs cannot contain ':'
// (ValidID), so a name with a scheme is a URI.
func IsURI(name string) bool {
	i := strings.IndexByte(name, ':')
	return i > 0 && ValidID(name[:i]) == nil
}

// Load returns the key name names: through p.Signer for a key ID, through p's Locator for a
// key URI. A URI given to a provider that is no Locator fails with failure.Invalid.
func Load(ctx context.Context, p Provider, name string) (crypto.Signer, error) {
	if !IsURI(name) {
		return p.Signer(ctx, name)
	}
	l, ok := p.(Locator)
	if !ok {
		return nil, failure.New(failure.Invalid, "keys: the configured key backend does not resolve key URIs such as %q; configure an HSM backend (docs/keys.md)", name)
	}
	s, _, err := l.Locate(ctx, name)
	return s, err
}

// Stats counts what a key backend that reaches a device (an HSM, a TPM) did, for metrics.
type Stats struct {
	// Ops counts operations by name ("sign", "create", "find", "login", "open") and result:
	// "ok", or the reason it failed ("pin", "device", "session", "busy", "not_found", ...).
	Ops map[OpResult]uint64
	// Up is false from a failure of the device or the link to it until an operation succeeds
	// again.
	Up bool
}

// OpResult is a key of Stats.Ops.
type OpResult struct{ Op, Result string }
