package sqlstore

import "github.com/hallmark-id/hallmark/internal/store"

// Principal lineage (migration 0031). Rows are written by a trigger on every insert into
// principals, in the same transaction, and triggers refuse to change or delete one: the store
// only reads them, so a deleted principal's creator stays known to the independent-approver
// rule (internal/governance).

func (p parties) PrincipalLineage(id string) (store.PrincipalLineage, error) {
	var v store.PrincipalLineage
	var at int64
	err := p.t.queryRow(`SELECT principal_id, party_id, created_by, created_at FROM principal_lineage WHERE principal_id = ?`, id).
		Scan(&v.PrincipalID, &v.PartyID, &v.CreatedBy, &at)
	if err != nil {
		return store.PrincipalLineage{}, notFound(err, "lineage of principal "+id)
	}
	v.CreatedAt = fromMicros(at)
	return v, nil
}
