// Package pkcs11 is the keys.Provider that keeps keys in a PKCS#11 token: a hardware security
// module, or SoftHSM2 in tests. Private keys are generated in the token, marked sensitive and
// not extractable, and used only through the token's sign operation: no key bytes ever reach
// Hallmark's memory, so there is nothing here to leak.
//
// Invariants:
//   - A key Hallmark makes under an ID (Provider.Create) carries that ID as both CKA_ID and
//     CKA_LABEL, so its key URI is "pkcs11:token=T;id=ID;object=ID". A key made by URI
//     (CreateURI, for key ceremonies) carries the URI's object as CKA_LABEL and its id, or 16
//     random bytes, as CKA_ID. Keys are found by CKA_ID, which is unique: a second key with the
//     same CKA_ID is never created, and a token that holds two is refused with a clear error.
//   - Sessions are pooled (at most Config.MaxSessions at once, waiting up to SessionWait for
//     one). A session the token invalidated is dropped, never reused; when the token or the
//     link to it fails (device removed, connection lost) the module is initialised again, at
//     most once a second, and every operation meanwhile fails with failure.Unavailable. A
//     signature is retried once after such a failure; creating a key never is.
//   - A PIN the token refuses is never tried again by this process, so that a wrong PIN cannot
//     lock the token: every later operation fails with failure.Unavailable until restart.
//   - The PIN is a keys.Secret: no error, log line or String shows it.
//
// The implementation uses cgo (github.com/miekg/pkcs11) and is built only with -tags pkcs11
// and CGO_ENABLED=1; in other builds Open fails with a message that says how to build it
// (docs/keys.md). The URI parser (uri.go) is pure Go and always built.
package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
)

// Defaults for Config.
const (
	DefaultMaxSessions = 16
	DefaultSessionWait = 10 * time.Second
	MaxMaxSessions     = 1024
)

// Config says which token to use and how to log in.
type Config struct {
	// ModulePath is the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
	ModulePath string
	// Token is the token's label; Serial its serial number. One of them is required; with both,
	// the token must match both.
	Token  string
	Serial string
	// PIN is the user PIN. It is kept for logging in again after the token comes back.
	PIN keys.Secret
	// MaxSessions bounds the sessions open at once (default DefaultMaxSessions).
	MaxSessions int
	// SessionWait is the longest an operation waits for a free session (default
	// DefaultSessionWait); past it the operation fails with failure.Unavailable.
	SessionWait time.Duration
}

func (c *Config) check() error {
	if c.ModulePath == "" {
		return failure.New(failure.Invalid, "keys/pkcs11: no module path: name the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so")
	}
	if c.Token == "" && c.Serial == "" {
		return failure.New(failure.Invalid, "keys/pkcs11: no token: give its label or its serial number")
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxSessions < 1 || c.MaxSessions > MaxMaxSessions {
		return failure.New(failure.Invalid, "keys/pkcs11: max sessions must be 1 to %d, not %d", MaxMaxSessions, c.MaxSessions)
	}
	if c.SessionWait == 0 {
		c.SessionWait = DefaultSessionWait
	}
	if c.SessionWait < 0 {
		return failure.New(failure.Invalid, "keys/pkcs11: session wait must be positive, not %s", c.SessionWait)
	}
	return nil
}

// Available reports whether this binary can open PKCS#11 tokens (it was built with cgo and
// -tags pkcs11).
func Available() bool { return available }

// ErrNotBuilt is why Open fails in a binary built without PKCS#11 support.
var ErrNotBuilt = errors.New("keys/pkcs11: this hallmark was built without PKCS#11 support; build it with CGO_ENABLED=1 go build -tags pkcs11 ./cmd/hallmark (docs/keys.md)")

// Provider keeps keys in one PKCS#11 token. It is safe for concurrent use. Close it when done.
type Provider struct {
	b     backend
	token string // the label keys' URIs carry
}

var (
	_ keys.Provider = (*Provider)(nil)
	_ keys.Locator  = (*Provider)(nil)
)

// backend is what the cgo build implements (module.go).
type backend interface {
	// generate makes a key pair with CKA_ID id and CKA_LABEL label; failure.Conflict if a
	// private key with CKA_ID id exists.
	generate(id []byte, label string, alg keys.Algorithm) (crypto.Signer, error)
	// find returns the private key with CKA_ID id (when id is not empty) and CKA_LABEL label
	// (when not empty), and the CKA_ID and CKA_LABEL it carries.
	find(id []byte, label string) (s crypto.Signer, gotID []byte, gotLabel string, err error)
	label() string
	serial() string
	modulePath() string
	stats() Stats
	close() error
}

// Stats counts what a Provider did, for metrics: operations by name ("sign", "create", "find",
// "login") and result: "ok", or the reason it failed: "pin" (refused PIN), "device" (token or
// link failed), "session" (session invalidated), "busy" (no free session in time),
// "not_found", "other".
type Stats = keys.Stats

// OpResult is a key of Stats.Ops.
type OpResult = keys.OpResult

// Open logs in to the token cfg names and returns a Provider over it. A wrong PIN, a missing
// token or module fail here, with a message that says which.
func Open(cfg Config) (*Provider, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	b, err := openBackend(cfg)
	if err != nil {
		return nil, err
	}
	return &Provider{b: b, token: b.label()}, nil
}

// Close logs out and releases the module once no Provider uses it.
func (p *Provider) Close() error { return p.b.close() }

// Stats returns the operation counts and whether the token is reachable.
func (p *Provider) Stats() Stats { return p.b.stats() }

// Create generates a key of algorithm alg in the token under id (CKA_ID and CKA_LABEL id).
func (p *Provider) Create(ctx context.Context, id string, alg keys.Algorithm) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidID(id); err != nil {
		return nil, err
	}
	if err := alg.Validate(); err != nil {
		return nil, err
	}
	return p.b.generate([]byte(id), id, alg)
}

// CreateURI generates a key of algorithm alg named by a key URI, for key ceremonies. The URI
// must name this provider's token and give the new key's object (CKA_LABEL); its id (CKA_ID)
// is taken when given, else 16 random bytes. It returns the new key's canonical URI.
func (p *Provider) CreateURI(ctx context.Context, uri string, alg keys.Algorithm) (crypto.Signer, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	u, err := p.parseKeyURI(uri, false)
	if err != nil {
		return nil, "", err
	}
	if u.Object == "" {
		return nil, "", failure.New(failure.Invalid, "keys/pkcs11: a key URI that creates a key must give its object (label), e.g. %s;object=issuing-2026", p.tokenURI())
	}
	if err := alg.Validate(); err != nil {
		return nil, "", err
	}
	if len(u.ID) == 0 {
		u.ID = make([]byte, 16)
		if _, err := rand.Read(u.ID); err != nil {
			return nil, "", err
		}
	}
	s, err := p.b.generate(u.ID, u.Object, alg)
	if err != nil {
		return nil, "", err
	}
	return s, p.keyURI(u.ID, u.Object), nil
}

// Signer returns the key Hallmark made under id.
func (p *Provider) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := keys.ValidID(id); err != nil {
		return nil, err
	}
	s, _, _, err := p.b.find([]byte(id), "")
	return s, err
}

// Import refuses: a private key is never sent to the server to be put in an HSM. Generate the
// key in the token (a key ceremony, docs/ceremony.md) and import the CA by key URI.
func (p *Provider) Import(context.Context, string, []byte, []byte) (crypto.Signer, error) {
	return nil, failure.New(failure.Invalid, "keys/pkcs11: this server keeps CA keys in an HSM and does not take private keys over its API; "+
		"create the key in the token and import the CA by certificate and key URI (docs/ceremony.md)")
}

// Locate returns the key a key URI names in this provider's token. The URI names a key only:
// pin-value and pin-source are refused, and a module-path, if given, must be this provider's.
// The key is looked up by id, by object, or by both; the canonical URI returned carries the
// token label, the key's CKA_ID and its CKA_LABEL.
func (p *Provider) Locate(ctx context.Context, uri string) (crypto.Signer, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	u, err := p.parseKeyURI(uri, true)
	if err != nil {
		return nil, "", err
	}
	if len(u.ID) == 0 && u.Object == "" {
		return nil, "", failure.New(failure.Invalid, "keys/pkcs11: the key URI %s names no key: give its id or object", u.String())
	}
	s, id, label, err := p.b.find(u.ID, u.Object)
	if err != nil {
		return nil, "", err
	}
	return s, p.keyURI(id, label), nil
}

// URI returns the key URI of the key Hallmark made under id.
func (p *Provider) URI(id string) string { return p.keyURI([]byte(id), id) }

func (p *Provider) keyURI(id []byte, label string) string {
	return URI{Token: p.token, ID: id, Object: label}.String()
}

func (p *Provider) tokenURI() string { return URI{Token: p.token}.String() }

// parseKeyURI parses a key URI and checks that it names this provider's token. forServer
// refuses pin-source as well as pin-value (a URI a server is given names a key, nothing more).
func (p *Provider) parseKeyURI(uri string, forServer bool) (URI, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return URI{}, err
	}
	if u.PinValue {
		return URI{}, failure.New(failure.Invalid, "keys/pkcs11: a key URI may not carry pin-value: never put a PIN in a URI")
	}
	if forServer && u.PinSource != "" {
		return URI{}, failure.New(failure.Invalid, "keys/pkcs11: a key URI given to the server may not carry pin-source: the server logs in with its own configured PIN")
	}
	if u.Type == "public" {
		return URI{}, failure.New(failure.Invalid, "keys/pkcs11: the key URI names a public key (type=public); name the private key")
	}
	if u.Token == "" && u.Serial == "" {
		return URI{}, failure.New(failure.Invalid, "keys/pkcs11: the key URI names no token; add token=%s", p.token)
	}
	if u.Token != "" && u.Token != p.token {
		return URI{}, failure.New(failure.Invalid, "keys/pkcs11: the key URI names token %q, but this server's keys are in token %q", u.Token, p.token)
	}
	if u.Serial != "" && u.Serial != p.b.serial() {
		return URI{}, failure.New(failure.Invalid, "keys/pkcs11: the key URI names token serial %q, but this server's token has serial %q", u.Serial, p.b.serial())
	}
	if u.ModulePath != "" && u.ModulePath != p.b.modulePath() {
		return URI{}, failure.New(failure.Invalid, "keys/pkcs11: the key URI names module %s, but this server uses %s", u.ModulePath, p.b.modulePath())
	}
	return u, nil
}

// String describes the provider without secrets, for logs.
func (p *Provider) String() string {
	return fmt.Sprintf("pkcs11 token %q (module %s)", p.token, p.b.modulePath())
}
