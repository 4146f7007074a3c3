// Package party defines the organisations (parties) that share a Hallmark deployment and the
// principals (people and service accounts) that act for them.
//
// Invariants: a principal belongs to exactly one party, or to the deployment scope (Deployment),
// for its whole life; a party's kind never changes (ownership defaults depend on it); tokens are
// never stored, only their SHA-256, and every token expires (token.go).
package party

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"regexp"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Kind is what an organisation does in a device's life.
type Kind string

// The party kinds of PRODUCT.md.
const (
	Manufacturer         Kind = "manufacturer"
	ContractManufacturer Kind = "contract-manufacturer"
	Distributor          Kind = "distributor"
	Integrator           Kind = "integrator"
	Operator             Kind = "operator"
	SupportVendor        Kind = "support-vendor"
	Auditor              Kind = "auditor"
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{Manufacturer, ContractManufacturer, Distributor, Integrator, Operator, SupportVendor, Auditor}

// ParseKind validates a kind name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", failure.New(failure.Invalid, "party kind %q is not one of %s", s, joinKinds())
}

func joinKinds() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Party is an organisation.
type Party struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      Kind      `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
}

// PrincipalKind distinguishes people from service accounts (a factory station, a gateway).
type PrincipalKind string

// Principal kinds.
const (
	Person  PrincipalKind = "person"
	Service PrincipalKind = "service"
)

// ParsePrincipalKind validates a principal kind.
func ParsePrincipalKind(s string) (PrincipalKind, error) {
	switch PrincipalKind(s) {
	case Person, Service:
		return PrincipalKind(s), nil
	}
	return "", failure.New(failure.Invalid, "principal kind %q is not person or service", s)
}

// Deployment is the PartyID of deployment administrators: the deployment scope, which is no
// party. No party can have this ID (it is not a slug), nothing is owned by, held by or
// transferred to it, and the store lists no party of this ID. A deployment administrator
// creates parties and their first administrators and sets deployment-wide settings; it never
// acts as a party (docs/governance.md, *Roles*).
const Deployment = "*"

// Principal is a person or service account of one party, or a deployment administrator
// (PartyID Deployment).
type Principal struct {
	ID      string        `json:"id"`
	PartyID string        `json:"party_id"`
	Name    string        `json:"name"`
	Kind    PrincipalKind `json:"kind"`
	// Admin marks an administrator: of its party (manages the party's principals, their tokens
	// and duty limits), or, with PartyID Deployment, of the deployment.
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy is the principal that created this one ("" for a bootstrap administrator and
	// principals from before migration 0020); AccessID is the break-glass access it was
	// created under, if any.
	CreatedBy  string     `json:"created_by,omitempty"`
	AccessID   string     `json:"access_id,omitempty"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"` // a disabled principal cannot authenticate
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// TokenID is the token a request authenticated with (set by authentication only).
	TokenID string `json:"-"`
}

// DeploymentAdmin reports whether p is a deployment administrator.
func (p Principal) DeploymentAdmin() bool { return p.PartyID == Deployment && p.Admin }

var slug = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidSlug checks a caller-chosen identifier (party IDs, names of models and lots):
// lowercase letters, digits and hyphens, 1 to 63 characters, starting with a letter or digit.
func ValidSlug(what, s string) error {
	if !slug.MatchString(s) {
		return failure.New(failure.Invalid, "%s %q must be 1-63 lowercase letters, digits or hyphens, starting with a letter or digit", what, s)
	}
	return nil
}

// ValidName checks a display name.
func ValidName(what, s string) error {
	if strings.TrimSpace(s) == "" || len(s) > 200 {
		return failure.New(failure.Invalid, "%s must be 1-200 characters", what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return failure.New(failure.Invalid, "%s contains a control character", what)
		}
	}
	return nil
}

// TokenPrefix marks Hallmark bearer tokens so that secret scanners can find leaked ones.
const TokenPrefix = "hmk_"

// NewToken returns a fresh bearer token (about 130 bits from the CSPRNG) and the hash to store.
func NewToken() (token string, hash [32]byte) {
	token = TokenPrefix + rand.Text()
	return token, HashToken(token)
}

// HashToken is the only form in which a token is stored. Tokens carry enough entropy that a
// fast hash is right here; a slow password hash would only add latency to every request.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// TokenMatches compares in constant time.
func TokenMatches(token string, hash []byte) bool {
	h := HashToken(token)
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}

// NewID returns an identifier with a type prefix, e.g. "dev_01k974872kqx2ngx2eaodoifuc": the
// creation time in milliseconds (10 characters of base32hex, which sort as the times do), then
// 16 random characters (80 bits). IDs are unique through the random part; the time only
// orders them.
//
// Why the time leads: IDs are the keys of the devices table and of the indexes that list a
// custodian's, lot's, manufacturer's and environment's devices, and of the build records. A
// random key lands each new row on a random leaf page of every one of those B-trees, so one
// group commit writes a page per row and index, and a large fleet's indexes fall out of the
// page cache. A key that grows with time lands on the index's right edge (or the right edge of
// its lot's range), which the rows of one commit share (BENCHMARKS.md, issue 21's seventh
// round). An ID says when its object was made, which its record says anyway to whoever may
// see it; IDs are not credentials.
func NewID(prefix string) string {
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(max(time.Now().UnixMilli(), 0))<<14) // 50 bits on top
	return prefix + "_" + strings.ToLower(base32.HexEncoding.EncodeToString(ms[:])[:10]+rand.Text()[:16])
}
