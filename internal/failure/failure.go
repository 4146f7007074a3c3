// Package failure classifies errors into the few kinds that callers act on.
//
// The core and the services return errors wrapped with %w that say which step failed; where
// the cause is one a caller can act on, the error carries a Kind. Only the web edge
// (internal/httpapi) and the CLI turn kinds into HTTP statuses, problem types and exit codes.
package failure

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the class of a failure.
type Kind int

// The kinds. The zero value means "unclassified", which the edge treats as an internal error.
const (
	Unclassified    Kind = iota
	Invalid              // the input is malformed or breaks a rule; retrying it unchanged fails again
	NotFound             // the thing named does not exist, or the caller may not know that it does
	Conflict             // the state changed under the caller, or the thing already exists
	Denied               // the caller is authenticated but may not do this
	Unauthenticated      // the caller did not prove who it is
	Unavailable          // a dependency is down or overloaded; retrying later may succeed
	TooLarge             // the input exceeds a size limit
	Pending              // accepted but waiting for someone's decision; ask again later
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not-found"
	case Conflict:
		return "conflict"
	case Denied:
		return "denied"
	case Unauthenticated:
		return "unauthenticated"
	case Unavailable:
		return "unavailable"
	case TooLarge:
		return "too-large"
	case Pending:
		return "pending"
	default:
		return "internal"
	}
}

// Error is an error with a kind. Msg is safe to show to the caller.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // optional cause, not shown to callers
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// FailureKind reports the kind; any error type may implement it to be classified.
func (e *Error) FailureKind() Kind { return e.Kind }

// New returns an error of kind k with a formatted message.
func New(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k whose message is msg and whose cause is err.
func Wrap(k Kind, err error, msg string) error {
	return &Error{Kind: k, Msg: msg, Err: err}
}

// Kinded is implemented by errors that carry a kind.
type Kinded interface{ FailureKind() Kind }

// Named is implemented by errors that carry a kind by its name (Kind.String(): "invalid",
// "not-found", ...) because they cannot import this package: the problem details of the
// public API package (api.Problem) and the errors of the public client.
type Named interface{ KindName() string }

// KindOf returns the kind of the first error in err's chain that has one, by type (Kinded)
// or else by name (Named).
func KindOf(err error) Kind {
	var k Kinded
	if errors.As(err, &k) {
		return k.FailureKind()
	}
	var n Named
	if errors.As(err, &n) {
		return ParseKind(n.KindName())
	}
	return Unclassified
}

// ParseKind returns the kind whose String is name, and Unclassified for any other name.
func ParseKind(name string) Kind {
	for k := Invalid; k <= Pending; k++ {
		if k.String() == name {
			return k
		}
	}
	return Unclassified
}

// Is reports whether err is of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// PendingError says that a request waits for a decision (an approval) and when to ask again.
type PendingError struct {
	Msg        string
	Ref        string        // what it waits for, e.g. an approval ID
	RetryAfter time.Duration // when asking again is useful
}

func (e *PendingError) Error() string { return e.Msg }

// FailureKind classifies the error.
func (e *PendingError) FailureKind() Kind { return Pending }

// Ruled is implemented by refusals that can name the rule that failed: an ownership cell, a
// separation-of-duties rule, a policy rule, a manifest check. The name is short and stable
// enough to count and group refusals by (internal/refusals).
type Ruled interface{ FailureRule() string }

// RuleOf returns the rule named by the first error in err's chain that names one, or "".
func RuleOf(err error) string {
	var r Ruled
	if errors.As(err, &r) {
		return r.FailureRule()
	}
	return ""
}
