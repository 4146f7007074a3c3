package authority

import (
	"context"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// OwnedHierarchy asks for a root and issuing CA of one party, in one stage.
type OwnedHierarchy struct {
	PartyID               string
	Kind                  party.Kind      // the kind the party must be
	Stage                 ownership.Stage // the stage whose duty the caller must own
	Duty                  ownership.Duty  // that duty; Issue when empty
	Scope                 ownership.Scope // the party's scope: manufacturer:ID or operator:ID
	Name                  string
	Algorithm             keys.Algorithm
	RootLife, IssuingLife time.Duration
	CRLPartitions         int    // the issuing CA's; 0 takes the default
	FactoryValidity       string // the issuing CA's (HierarchyRequest.FactoryValidity)
}

// CreateOwnedHierarchy is the governed form of CreateHierarchy that both stages use: it checks
// the name, the party's kind and the caller's issue duty over the party's scope, then creates
// the two CAs, each with its ca.create audit event.
func (a *Authority) CreateOwnedHierarchy(ctx context.Context, actor audit.Actor, r OwnedHierarchy) (root, issuing ca.CA, err error) {
	if err := party.ValidSlug("CA name", r.Name); err != nil {
		return root, issuing, err
	}
	var p party.Party
	if err := a.c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if p, err = governance.RequireKind(tx, r.PartyID, r.Kind); err != nil {
			return err
		}
		duty := r.Duty
		if duty == "" {
			duty = ownership.Issue
		}
		return governance.Require(tx, actor, r.Stage, duty, ownership.Chain{r.Scope})
	}); err != nil {
		return root, issuing, err
	}
	return a.CreateHierarchy(ctx, HierarchyRequest{
		PartyID: p.ID, Organization: p.Name, Stage: string(r.Stage), Name: r.Name, Algorithm: r.Algorithm,
		RootLife: r.RootLife, IssuingLife: r.IssuingLife, CRLPartitions: r.CRLPartitions, FactoryValidity: r.FactoryValidity,
	}, func(tx store.Tx, c ca.CA) error {
		detail := map[string]any{"role": c.Role, "name": c.Name, "subject": c.Cert.Subject.String(), "crl_partitions": c.CRLPartitions}
		if c.FactoryValidity != "" {
			detail["factory_validity"] = c.FactoryValidity
		}
		_, err := tx.Audit().Append(governance.Event(actor, a.c.Now(), "ca.create", r.Stage, r.Scope.String(), "ca:"+c.ID, detail))
		return err
	})
}
