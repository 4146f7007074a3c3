package sqlstore

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

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

func (p parties) DeploymentCreations(partyID string, since time.Time) ([]time.Time, error) {
	rows, err := p.t.query(`SELECT l.created_at FROM principal_lineage l JOIN principal_lineage c ON c.principal_id = l.created_by
WHERE l.party_id = ? AND c.party_id = ? AND l.created_at >= ? ORDER BY l.created_at, l.principal_id LIMIT 1000`, partyID, party.Deployment, micros(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, err
		}
		out = append(out, fromMicros(at))
	}
	return out, rows.Err()
}
