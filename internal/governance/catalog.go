package governance

import (
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/store"
)

// CatalogSight is what one party may see of the catalog (docs/governance.md, Visibility): a
// lot is visible to a party with a cell over it (over the lot, its model, its manufacturer or
// the deployment) or with custody of a device of it; a model is visible to a party with a
// cell over it (over the model, its manufacturer or the deployment) or that sees one of its
// lots. Auditors see everything; a deployment administrator, which belongs to no party, sees
// none of it. Another party's lot or model is reported as not found.
type CatalogSight struct {
	all        bool
	scopes     map[ownership.Scope]bool
	lots       map[string]bool // lots held, and lots with a cell of the party's own
	heldModels map[string]bool // models of those lots
}

// SightOf reads what the actor may see of manufacturer mfr's catalog ("" for every
// manufacturer): one read of the ownership matrix, and one index probe per lot of mfr.
func SightOf(tx store.Tx, a audit.Actor, mfr string) (CatalogSight, error) {
	all, err := IsAuditor(tx, a)
	if err != nil || all {
		return CatalogSight{all: all}, err
	}
	v := CatalogSight{scopes: map[ownership.Scope]bool{}, lots: map[string]bool{}, heldModels: map[string]bool{}}
	cells, err := tx.Ownership().ListCells()
	if err != nil {
		return v, err
	}
	for _, c := range cells {
		if c.PartyID == a.PartyID {
			v.scopes[c.Scope] = true
		}
	}
	if v.scopes[ownership.DeploymentScope] {
		v.all = true
		return v, nil
	}
	held, err := tx.Catalog().HeldLots(a.PartyID, mfr)
	if err != nil {
		return v, err
	}
	for _, l := range held {
		v.lots[l.ID], v.heldModels[l.ModelID] = true, true
	}
	// A cell over a lot shows its model too: its holder issues devices of that model.
	for s := range v.scopes {
		if s.Kind != ownership.Lot || v.lots[s.ID] {
			continue
		}
		l, err := tx.Catalog().GetLot(s.ID)
		if err != nil {
			continue // a cell over a lot that is gone shows nothing
		}
		v.lots[l.ID], v.heldModels[l.ModelID] = true, true
	}
	return v, nil
}

// Lot reports whether the lot is visible.
func (v CatalogSight) Lot(l device.Lot) bool {
	return v.all || v.lots[l.ID] || v.scopes[ownership.Scope{Kind: ownership.Model, ID: l.ModelID}] ||
		v.scopes[ownership.Scope{Kind: ownership.Manufacturer, ID: l.ManufacturerID}]
}

// Model reports whether the model is visible.
func (v CatalogSight) Model(m device.Model) bool {
	return v.all || v.heldModels[m.ID] || v.scopes[ownership.Scope{Kind: ownership.Model, ID: m.ID}] ||
		v.scopes[ownership.Scope{Kind: ownership.Manufacturer, ID: m.ManufacturerID}]
}
