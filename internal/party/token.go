package party

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Token is one bearer credential of a principal, as stored: everything but the secret, of
// which only the SHA-256 is kept. A principal may hold several at once: a new token and, for
// the overlap of a rotation, the ones it superseded.
type Token struct {
	ID          string    `json:"id"`
	PrincipalID string    `json:"principal_id"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by,omitempty"` // the principal that minted it
	// ExpiresAt is when the token stops working. It is nil only for a token carried over from
	// before migration 0020 until the server's first start gives it one (UpgradeExpiry); such
	// a token does not authenticate.
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// SupersededBy is the token that replaced this one in a rotation; the rotation moved
	// ExpiresAt to the end of its overlap.
	SupersededBy string `json:"superseded_by,omitempty"`
	// Handover marks a hand-over token: one a deployment administrator minted for a principal
	// of a party, or one minted in a request authenticated by a hand-over token (whoever held
	// that token holds this one). It lives at most HandoverTokenLifetime (migration 0033).
	Handover bool `json:"handover,omitempty"`
}

// TokenState is where a token is in its life at a given instant.
type TokenState string

// Token states. Only Active and Overlap authenticate.
const (
	TokenActive  TokenState = "active"  // valid and not superseded
	TokenOverlap TokenState = "overlap" // superseded by a rotation, valid until its overlap ends
	TokenExpired TokenState = "expired"
	TokenRevoked TokenState = "revoked"
	TokenPending TokenState = "upgrade-pending" // from before migration 0020, no expiry yet
)

// State says where t is at now.
func (t Token) State(now time.Time) TokenState {
	switch {
	case t.RevokedAt != nil: // for good, whatever the clock says
		return TokenRevoked
	case t.ExpiresAt == nil:
		return TokenPending
	case !now.Before(*t.ExpiresAt):
		return TokenExpired
	case t.SupersededBy != "":
		return TokenOverlap
	}
	return TokenActive
}

// Valid reports whether t authenticates at now.
func (t Token) Valid(now time.Time) bool {
	s := t.State(now)
	return s == TokenActive || s == TokenOverlap
}

// Token lifetimes. Every token expires: a lifetime is at most the deployment's maximum
// (config principals.token_lifetime, DefaultTokenLifetime unless set), which is itself at most
// MaxTokenLifetime.
const (
	DefaultTokenLifetime = 90 * 24 * time.Hour
	MinTokenLifetime     = time.Hour
	MaxTokenLifetime     = 366 * 24 * time.Hour
	// DefaultMaxOverlap bounds how long a rotated token keeps working beside its successor.
	DefaultMaxOverlap = 7 * 24 * time.Hour
	// HandoverTokenLifetime bounds, and is the default of, a hand-over token: one a deployment
	// administrator mints for a principal of a party (a party's first administrator, or any
	// token under break-glass). The deployment administrator is shown it and hands it over; the
	// party rotates it to end that (docs/governance.md, *Roles*).
	HandoverTokenLifetime = 72 * time.Hour
	// HandoverLimit and HandoverWindow bound how often a deployment administrator may give a
	// party a first administrator (a new hand-over): at most HandoverLimit principals of the
	// party created by a deployment administrator (first administrators, and any created under
	// break-glass) in the HandoverWindow before, counted from the principal lineage, which
	// keeps deleted principals (migration 0031). Without it, a party whose hand-over expires
	// unrotated could be given a new one every HandoverTokenLifetime for ever, and a deployment
	// administrator keep acting as a party it does not belong to (docs/governance.md, *Roles*).
	HandoverLimit  = 3
	HandoverWindow = 30 * 24 * time.Hour
)

// CheckLifetime validates a requested token lifetime against the deployment maximum; zero
// asks for the maximum.
func CheckLifetime(d, maximum time.Duration) (time.Duration, error) {
	if d == 0 {
		return maximum, nil
	}
	if d < MinTokenLifetime || d > maximum {
		return 0, failure.New(failure.Invalid, "a token lifetime must be between %s and %s (this deployment's maximum), not %s", MinTokenLifetime, maximum, d)
	}
	return d, nil
}

// CheckOverlap validates the overlap of a rotation: how long the superseded tokens keep
// working, from 0 (they stop at once) to maximum.
func CheckOverlap(d, maximum time.Duration) error {
	if d < 0 || d > maximum {
		return failure.New(failure.Invalid, "the overlap must be between 0s and %s, not %s", maximum, d)
	}
	return nil
}
