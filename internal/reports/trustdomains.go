package reports

import (
	"fmt"
	"sort"

	"github.com/hallmark-id/hallmark/internal/store"
)

// TrustDomainGap is an environment whose SPIFFE trust domain another operator holds: both
// named it before trust domains were claimed (migration 0035), which gave the domain to the
// operator whose environment named it first. The environment keeps issuing, so its devices'
// and support engineers' SPIFFE IDs are in the holder's domain, and a relying party that
// trusts the holder's domain accepts them. New environments cannot do this (rule
// environment:trust-domain-owned).
//
// The environment's operator sees its environment, not the holder; the holder sees that an
// environment of another operator names its domain, not which; auditors see both.
type TrustDomainGap struct {
	TrustDomain   string `json:"trust_domain"`
	EnvironmentID string `json:"environment_id,omitempty"`
	Name          string `json:"name,omitempty"`
	OperatorID    string `json:"operator_id,omitempty"`
	HolderID      string `json:"holder_id,omitempty"`
	Why           string `json:"why"`
}

// trustDomains lists the environments whose trust domain another operator holds.
func (r *GapsReport) trustDomains(tx store.Tx, w world, mine func(string) bool) error {
	claims, err := tx.Environments().ListTrustDomains()
	if err != nil {
		return fmt.Errorf("listing the trust domain claims: %w", err)
	}
	holder := make(map[string]string, len(claims))
	for _, c := range claims {
		holder[c.Name] = c.OperatorID
	}
	for _, e := range w.envs {
		h, ok := holder[e.TrustDomain]
		if !ok || h == e.OperatorID {
			continue
		}
		seeEnv, seeHolder := mine(e.OperatorID), mine(h)
		if !seeEnv && !seeHolder {
			continue
		}
		g := TrustDomainGap{TrustDomain: e.TrustDomain}
		switch {
		case seeEnv && seeHolder:
			g.EnvironmentID, g.Name, g.OperatorID, g.HolderID = e.ID, e.Name, e.OperatorID, h
			g.Why = fmt.Sprintf("environment %s of %s names trust domain %s, which %s holds (it named it first): its SPIFFE IDs are in %s's domain", e.Name, e.OperatorID, e.TrustDomain, h, h)
		case seeEnv:
			g.EnvironmentID, g.Name, g.OperatorID = e.ID, e.Name, e.OperatorID
			g.Why = fmt.Sprintf("environment %s names trust domain %s, which another operator holds (it named it first): relying parties that trust that operator's domain accept this environment's SPIFFE IDs; create an environment in a trust domain of your own and onboard its devices there", e.Name, e.TrustDomain)
		default:
			g.HolderID = h
			g.Why = fmt.Sprintf("an environment of another operator names your trust domain %s (it did before trust domains were claimed): its SPIFFE IDs are in your domain, and relying parties that trust your domain accept them", e.TrustDomain)
		}
		r.TrustDomains = append(r.TrustDomains, g)
	}
	sort.SliceStable(r.TrustDomains, func(i, j int) bool {
		a, b := r.TrustDomains[i], r.TrustDomains[j]
		if a.TrustDomain != b.TrustDomain {
			return a.TrustDomain < b.TrustDomain
		}
		return a.EnvironmentID < b.EnvironmentID
	})
	return nil
}
