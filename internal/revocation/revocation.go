// Package revocation holds RFC 5280 reason codes (section 5.3.1) and which revocation path
// may use which. The two paths of PRODUCT.md are separate on purpose: the operator revokes an
// operational identity after a runtime compromise; the manufacturer revokes factory
// identities after a manufacturing compromise. certificateHold is never chosen by a caller:
// Hallmark uses it for the suspension cascade, and only a re-admission lifts it.
package revocation

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Reason is an RFC 5280 CRLReason.
type Reason int

// Reason codes (RFC 5280 section 5.3.1; 7 is unused).
const (
	Unspecified          Reason = 0
	KeyCompromise        Reason = 1
	CACompromise         Reason = 2
	AffiliationChanged   Reason = 3
	Superseded           Reason = 4
	CessationOfOperation Reason = 5
	CertificateHold      Reason = 6
	RemoveFromCRL        Reason = 8
	PrivilegeWithdrawn   Reason = 9
	AACompromise         Reason = 10
)

var names = map[Reason]string{
	Unspecified: "unspecified", KeyCompromise: "keyCompromise", CACompromise: "cACompromise",
	AffiliationChanged: "affiliationChanged", Superseded: "superseded", CessationOfOperation: "cessationOfOperation",
	CertificateHold: "certificateHold", RemoveFromCRL: "removeFromCRL", PrivilegeWithdrawn: "privilegeWithdrawn", AACompromise: "aACompromise",
}

func (r Reason) String() string {
	if n, ok := names[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Path is a revocation path.
type Path string

// The two paths.
const (
	Runtime       Path = "runtime"       // operator, one operational identity
	Manufacturing Path = "manufacturing" // manufacturer, factory identities in bulk
	Support       Path = "support"       // ending a support grant early
)

var allowed = map[Path][]Reason{
	Runtime:       {Unspecified, KeyCompromise, AffiliationChanged, Superseded, CessationOfOperation, PrivilegeWithdrawn},
	Manufacturing: {Unspecified, KeyCompromise, CACompromise, AffiliationChanged, Superseded, CessationOfOperation},
	Support:       {Unspecified, KeyCompromise, AffiliationChanged, CessationOfOperation, PrivilegeWithdrawn},
}

// Parse reads a reason by its RFC 5280 name (case-insensitive) and checks the path may use it.
func Parse(p Path, name string) (Reason, error) {
	for r, n := range names {
		if strings.EqualFold(n, name) {
			return r, Check(p, r)
		}
	}
	return 0, failure.New(failure.Invalid, "revocation reason %q is not an RFC 5280 reason; the %s path accepts %s", name, p, Allowed(p))
}

// Check refuses a reason the path may not use.
func Check(p Path, r Reason) error {
	for _, a := range allowed[p] {
		if a == r {
			return nil
		}
	}
	return failure.New(failure.Invalid, "reason %s is not allowed on the %s revocation path; use one of %s", r, p, Allowed(p))
}

// Allowed lists the reason names a path accepts.
func Allowed(p Path) string {
	var out []string
	for _, r := range allowed[p] {
		out = append(out, names[r])
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
