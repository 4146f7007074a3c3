package keys

import (
	"context"
	"crypto"
	"slices"
	"strings"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Kind is what a key is for. A deployment may keep each kind in its own backend (docs/keys.md):
// CA keys in a TPM, say, and the Ed25519 audit key, which a TPM cannot hold, in files.
type Kind string

// The kinds of keys Hallmark signs with.
const (
	KindCA          Kind = "ca"           // roots and issuing CAs: IDs "ca-…", or key URIs
	KindBuildRecord Kind = "build_record" // manufacturers' build-record keys: "brk-…"
	KindAudit       Kind = "audit"        // the audit log's checkpoint keys: "audit-checkpoint…" (Ed25519)
	KindOCSP        Kind = "ocsp"         // delegated OCSP responders: "ocsp-…"
	KindOther       Kind = ""             // anything else (the dev server's TLS keys): the default backend
)

// Kinds lists the kinds a deployment can place, in a stable order.
func Kinds() []Kind { return []Kind{KindCA, KindBuildRecord, KindAudit, KindOCSP} }

// KindOf returns the kind of the key under id, by the prefix each service gives its IDs.
func KindOf(id string) Kind {
	switch {
	case strings.HasPrefix(id, "ca-"):
		return KindCA
	case strings.HasPrefix(id, "brk-"):
		return KindBuildRecord
	case id == "audit-checkpoint" || strings.HasPrefix(id, "audit-checkpoint-"):
		return KindAudit
	case strings.HasPrefix(id, "ocsp-"):
		return KindOCSP
	}
	return KindOther
}

// Router is a Provider that keeps each kind of key in its own backend, and resolves key URIs by
// their scheme. It owns none of its backends: close them yourself.
type Router struct {
	def      Provider
	byKind   map[Kind]Provider
	byScheme map[string]Locator
}

var (
	_ Provider = (*Router)(nil)
	_ Locator  = (*Router)(nil)
)

// NewRouter returns a Router: keys of a kind in byKind go to that backend, others to def; a
// key URI goes to the Locator byScheme names for its scheme ("pkcs11", "tpmkms").
func NewRouter(def Provider, byKind map[Kind]Provider, byScheme map[string]Locator) *Router {
	return &Router{def: def, byKind: byKind, byScheme: byScheme}
}

// For returns the backend that keeps keys of kind k.
func (r *Router) For(k Kind) Provider {
	if p, ok := r.byKind[k]; ok {
		return p
	}
	return r.def
}

// Create makes the key in the backend its kind lives in.
func (r *Router) Create(ctx context.Context, id string, alg Algorithm) (crypto.Signer, error) {
	return r.For(KindOf(id)).Create(ctx, id, alg)
}

// Signer finds the key in the backend its kind lives in.
func (r *Router) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	return r.For(KindOf(id)).Signer(ctx, id)
}

// Import stores the key in the backend its kind lives in (which may refuse: an HSM or TPM
// takes no private keys).
func (r *Router) Import(ctx context.Context, id string, pemData, passphrase []byte) (crypto.Signer, error) {
	return r.For(KindOf(id)).Import(ctx, id, pemData, passphrase)
}

// Locate resolves a key URI through the backend for its scheme.
func (r *Router) Locate(ctx context.Context, uri string) (crypto.Signer, string, error) {
	scheme, _, _ := strings.Cut(uri, ":")
	l, ok := r.byScheme[strings.ToLower(scheme)]
	if !ok {
		names := make([]string, 0, len(r.byScheme))
		for s := range r.byScheme {
			names = append(names, s+":")
		}
		return nil, "", failure.New(failure.Invalid, "keys: no configured key backend resolves %q key URIs (this server resolves %s; docs/keys.md)",
			scheme, strings.Join(slices.Sorted(slices.Values(names)), ", "))
	}
	return l.Locate(ctx, uri)
}

// URI returns the key URI of the key made under id, from the backend its kind lives in, or ""
// when that backend names keys by ID only (files).
func (r *Router) URI(id string) string {
	if l, ok := r.For(KindOf(id)).(Locator); ok {
		return l.URI(id)
	}
	return ""
}
