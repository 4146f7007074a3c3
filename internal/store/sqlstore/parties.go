package sqlstore

import (
	"database/sql"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"

	"time"
)

type parties struct{ t *tx }

func (p parties) CreateParty(v party.Party) error {
	if v.ID == party.Deployment {
		return fmt.Errorf("party %q: %w", v.ID, store.ErrConflict)
	}
	_, err := p.t.exec(`INSERT INTO parties (id, name, kind, created_at) VALUES (?, ?, ?, ?)`,
		v.ID, v.Name, string(v.Kind), micros(v.CreatedAt))
	return err
}

// GetParty and ListParties never return the deployment scope's row (migration 0020).
func (p parties) GetParty(id string) (party.Party, error) {
	var v party.Party
	var kind string
	var at int64
	err := p.t.queryRow(`SELECT id, name, kind, created_at FROM parties WHERE id = ? AND id <> '*'`, id).Scan(&v.ID, &v.Name, &kind, &at)
	if err != nil {
		return v, notFound(err, "party "+id)
	}
	v.Kind, v.CreatedAt = party.Kind(kind), fromMicros(at)
	return v, nil
}

func (p parties) ListParties() ([]party.Party, error) {
	rows, err := p.t.query(`SELECT id, name, kind, created_at FROM parties WHERE id <> '*' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []party.Party
	for rows.Next() {
		var v party.Party
		var kind string
		var at int64
		if err := rows.Scan(&v.ID, &v.Name, &kind, &at); err != nil {
			return nil, err
		}
		v.Kind, v.CreatedAt = party.Kind(kind), fromMicros(at)
		out = append(out, v)
	}
	return out, rows.Err()
}

type owners struct{ t *tx }

func (o owners) SetCell(c ownership.Cell, by string, at time.Time) error {
	_, err := o.t.exec(`INSERT INTO ownership (stage, duty, scope_kind, scope_id, party_id, granted_by, granted_at) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (stage, duty, scope_kind, scope_id) DO UPDATE SET party_id = excluded.party_id, granted_by = excluded.granted_by, granted_at = excluded.granted_at`,
		string(c.Stage), string(c.Duty), string(c.Scope.Kind), c.Scope.ID, c.PartyID, by, micros(at))
	return err
}

func (o owners) DeleteCell(k ownership.Key) error {
	return o.t.execOne(store.ErrNotFound, `DELETE FROM ownership WHERE stage = ? AND duty = ? AND scope_kind = ? AND scope_id = ?`,
		string(k.Stage), string(k.Duty), string(k.Scope.Kind), k.Scope.ID)
}

func (o owners) Owner(k ownership.Key) (string, bool, error) {
	var p string
	err := o.t.queryRow(`SELECT party_id FROM ownership WHERE stage = ? AND duty = ? AND scope_kind = ? AND scope_id = ?`,
		string(k.Stage), string(k.Duty), string(k.Scope.Kind), k.Scope.ID).Scan(&p)
	if err == sql.ErrNoRows {
		return "", false, nil
	}
	return p, err == nil, err
}

func (o owners) ListCells() ([]ownership.Cell, error) {
	rows, err := o.t.query(`SELECT stage, duty, scope_kind, scope_id, party_id FROM ownership ORDER BY scope_kind, scope_id, stage, duty`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ownership.Cell
	for rows.Next() {
		var c ownership.Cell
		var stage, duty, kind string
		if err := rows.Scan(&stage, &duty, &kind, &c.Scope.ID, &c.PartyID); err != nil {
			return nil, err
		}
		c.Stage, c.Duty, c.Scope.Kind = ownership.Stage(stage), ownership.Duty(duty), ownership.ScopeKind(kind)
		out = append(out, c)
	}
	return out, rows.Err()
}
