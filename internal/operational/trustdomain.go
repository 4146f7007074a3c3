package operational

import (
	"fmt"

	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// RuleTrustDomainOwned names the rule that an environment names only a SPIFFE trust domain its
// operator holds: the first operator whose environment names a domain claims it for good.
const RuleTrustDomainOwned = "environment:trust-domain-owned"

// TrustDomainOwnedError refuses an environment naming a trust domain another operator claimed:
// its devices' and support engineers' SPIFFE IDs would be in that operator's domain, and a
// relying party that trusts a shared root, or federates bundles by trust domain, would take
// them for that operator's. A conflict (409) that names its rule, so the refusal is recorded
// (refusals.Classify). It names the domain only, not the operator that holds it.
type TrustDomainOwnedError struct{ Domain string }

func (e *TrustDomainOwnedError) Error() string {
	return fmt.Sprintf("trust domain %q is held by another operator: the first operator whose environment names a trust domain holds it for good, and only its environments may name it (rule %s); choose a trust domain of your own, e.g. under a DNS name you control",
		e.Domain, RuleTrustDomainOwned)
}

// FailureKind makes it a 409.
func (e *TrustDomainOwnedError) FailureKind() failure.Kind { return failure.Conflict }

// FailureRule names the rule for the refusals report.
func (e *TrustDomainOwnedError) FailureRule() string { return RuleTrustDomainOwned }

// claimTrustDomain claims environment e's trust domain for its operator, or finds the
// operator's own claim; another operator's claim refuses e (TrustDomainOwnedError). The claim
// is never released: certificates issued in the domain name it until they expire, and relying
// parties keep trusting its name after its environments stop issuing, so a domain given to
// another operator later would let it issue identities those parties take for the first
// operator's.
func claimTrustDomain(tx store.Tx, e environment.Environment) error {
	c, err := tx.Environments().ClaimTrustDomain(e.TrustDomain, e.OperatorID, e.ID, e.CreatedAt)
	if err != nil {
		return err
	}
	if c.OperatorID != e.OperatorID {
		return &TrustDomainOwnedError{Domain: e.TrustDomain}
	}
	return nil
}
