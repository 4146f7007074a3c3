package sqlstore

import (
	"database/sql"

	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"

	"time"
)

type parties struct{ t *tx }

func (p parties) CreateParty(v party.Party) error {
	_, err := p.t.exec(`INSERT INTO parties (id, name, kind, created_at) VALUES (?, ?, ?, ?)`,
		v.ID, v.Name, string(v.Kind), micros(v.CreatedAt))
	return err
}

func (p parties) GetParty(id string) (party.Party, error) {
	var v party.Party
	var kind string
	var at int64
	err := p.t.queryRow(`SELECT id, name, kind, created_at FROM parties WHERE id = ?`, id).Scan(&v.ID, &v.Name, &kind, &at)
	if err != nil {
		return v, notFound(err, "party "+id)
	}
	v.Kind, v.CreatedAt = party.Kind(kind), fromMicros(at)
	return v, nil
}

func (p parties) ListParties() ([]party.Party, error) {
	rows, err := p.t.query(`SELECT id, name, kind, created_at FROM parties ORDER BY id`)
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

func (p parties) CreatePrincipal(v party.Principal, hash []byte) error {
	_, err := p.t.exec(`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.PartyID, v.Name, string(v.Kind), boolInt(v.Admin), hash, micros(v.CreatedAt))
	return err
}

const principalCols = `id, party_id, name, kind, admin, created_at, last_used_at`

func scanPrincipal(s interface{ Scan(...any) error }) (party.Principal, error) {
	var v party.Principal
	var kind string
	var admin int
	var at int64
	var used sql.NullInt64
	if err := s.Scan(&v.ID, &v.PartyID, &v.Name, &kind, &admin, &at, &used); err != nil {
		return v, err
	}
	v.Kind, v.Admin, v.CreatedAt, v.LastUsedAt = party.PrincipalKind(kind), admin == 1, fromMicros(at), fromNullMicros(used)
	return v, nil
}

func (p parties) PrincipalByTokenHash(hash []byte) (party.Principal, error) {
	v, err := scanPrincipal(p.t.queryRow(`SELECT `+principalCols+` FROM principals WHERE token_hash = ?`, hash))
	return v, notFound(err, "principal")
}

func (p parties) GetPrincipal(id string) (party.Principal, error) {
	v, err := scanPrincipal(p.t.queryRow(`SELECT `+principalCols+` FROM principals WHERE id = ?`, id))
	return v, notFound(err, "principal "+id)
}

func (p parties) ListPrincipals(partyID string) ([]party.Principal, error) {
	q, args := `SELECT `+principalCols+` FROM principals ORDER BY party_id, name`, []any{}
	if partyID != "" {
		q, args = `SELECT `+principalCols+` FROM principals WHERE party_id = ? ORDER BY name`, []any{partyID}
	}
	rows, err := p.t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []party.Principal
	for rows.Next() {
		v, err := scanPrincipal(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (p parties) RotateToken(id string, hash []byte) error {
	return p.t.execOne(store.ErrNotFound, `UPDATE principals SET token_hash = ? WHERE id = ?`, hash, id)
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
