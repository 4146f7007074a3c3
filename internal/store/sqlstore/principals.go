package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Principals and their tokens (migration 0020). principals.token_hash predates the tokens
// table and is never read: a new principal gets random bytes there to satisfy its NOT NULL
// UNIQUE constraint.

const principalCols = `p.id, p.party_id, p.name, p.kind, p.admin, p.created_at, p.created_by, p.access_id, p.disabled_at, p.last_used_at`

func scanPrincipal(s interface{ Scan(...any) error }, extra ...any) (party.Principal, error) {
	var v party.Principal
	var kind string
	var admin int
	var at int64
	var disabled, used sql.NullInt64
	dest := append([]any{&v.ID, &v.PartyID, &v.Name, &kind, &admin, &at, &v.CreatedBy, &v.AccessID, &disabled, &used}, extra...)
	if err := s.Scan(dest...); err != nil {
		return v, err
	}
	v.Kind, v.Admin, v.CreatedAt = party.PrincipalKind(kind), admin == 1, fromMicros(at)
	v.DisabledAt, v.LastUsedAt = fromNullMicros(disabled), fromNullMicros(used)
	return v, nil
}

func (p parties) CreatePrincipal(v party.Principal) error {
	filler := make([]byte, 32)
	if _, err := rand.Read(filler); err != nil {
		return err
	}
	_, err := p.t.exec(`INSERT INTO principals (id, party_id, name, kind, admin, token_hash, created_at, created_by, access_id, disabled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.PartyID, v.Name, string(v.Kind), boolInt(v.Admin), filler, micros(v.CreatedAt), v.CreatedBy, v.AccessID, nullMicros(v.DisabledAt))
	return err
}

func (p parties) GetPrincipal(id string) (party.Principal, error) {
	v, err := scanPrincipal(p.t.queryRow(`SELECT `+principalCols+` FROM principals p WHERE p.id = ?`, id))
	return v, notFound(err, "principal "+id)
}

func (p parties) ListPrincipals(partyID string) ([]party.Principal, error) {
	q, args := `SELECT `+principalCols+` FROM principals p ORDER BY p.party_id, p.name`, []any{}
	if partyID != "" {
		q, args = `SELECT `+principalCols+` FROM principals p WHERE p.party_id = ? ORDER BY p.name`, []any{partyID}
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

func (p parties) LiveAdmins(partyID string, now time.Time) (int, error) {
	var n int
	err := p.t.queryRow(`SELECT COUNT(*) FROM principals p
WHERE p.party_id = ? AND p.admin = 1 AND p.disabled_at IS NULL AND (
  EXISTS (SELECT 1 FROM principal_tokens t WHERE t.principal_id = p.id AND t.revoked_at IS NULL AND t.expires_at > ?)
  OR EXISTS (SELECT 1 FROM signin_bindings b JOIN signin_providers v ON v.party_id = b.party_id WHERE b.principal_id = p.id AND b.party_id = p.party_id))`,
		partyID, micros(now)).Scan(&n)
	return n, err
}

func (p parties) SetDisabled(id string, at *time.Time) error {
	return p.t.execOne(store.ErrNotFound, `UPDATE principals SET disabled_at = ? WHERE id = ?`, nullMicros(at), id)
}

func (p parties) DeletePrincipal(id string) error {
	if _, err := p.t.exec(`DELETE FROM principal_duties WHERE principal_id = ?`, id); err != nil {
		return err
	}
	if _, err := p.t.exec(`DELETE FROM principal_tokens WHERE principal_id = ?`, id); err != nil {
		return err
	}
	// Its sign-in bindings and sessions (migration 0016) go with it: a deleted principal
	// cannot sign in, and no session of it authenticates again.
	if _, err := p.t.exec(`DELETE FROM signin_bindings WHERE principal_id = ?`, id); err != nil {
		return err
	}
	if _, err := p.t.exec(`DELETE FROM signin_sessions WHERE principal_id = ?`, id); err != nil {
		return err
	}
	return p.t.execOne(store.ErrNotFound, `DELETE FROM principals WHERE id = ?`, id)
}

const tokenCols = `t.id, t.principal_id, t.created_at, t.created_by, t.expires_at, t.last_used_at, t.revoked_at, t.superseded_by, t.handover`

func scanToken(s interface{ Scan(...any) error }) (party.Token, error) {
	var v party.Token
	var at int64
	var exp, used, revoked sql.NullInt64
	var handover int
	if err := s.Scan(&v.ID, &v.PrincipalID, &at, &v.CreatedBy, &exp, &used, &revoked, &v.SupersededBy, &handover); err != nil {
		return v, err
	}
	v.CreatedAt, v.ExpiresAt, v.LastUsedAt, v.RevokedAt = fromMicros(at), fromNullMicros(exp), fromNullMicros(used), fromNullMicros(revoked)
	v.Handover = handover == 1
	return v, nil
}

func (p parties) CreateToken(v party.Token, hash []byte) error {
	_, err := p.t.exec(`INSERT INTO principal_tokens (id, principal_id, token_hash, created_at, created_by, expires_at, superseded_by, handover) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.PrincipalID, hash, micros(v.CreatedAt), v.CreatedBy, nullMicros(v.ExpiresAt), v.SupersededBy, boolInt(v.Handover))
	return err
}

func (p parties) TokenByHash(hash []byte) (party.Principal, party.Token, error) {
	var tok party.Token
	var exp, used, revoked sql.NullInt64
	var at int64
	var handover int
	v, err := scanPrincipal(p.t.queryRow(`SELECT `+principalCols+`, t.id, t.created_at, t.created_by, t.expires_at, t.last_used_at, t.revoked_at, t.superseded_by, t.handover
FROM principal_tokens t JOIN principals p ON p.id = t.principal_id WHERE t.token_hash = ?`, hash),
		&tok.ID, &at, &tok.CreatedBy, &exp, &used, &revoked, &tok.SupersededBy, &handover)
	if err != nil {
		return v, tok, notFound(err, "token")
	}
	tok.PrincipalID, tok.CreatedAt, tok.Handover = v.ID, fromMicros(at), handover == 1
	tok.ExpiresAt, tok.LastUsedAt, tok.RevokedAt = fromNullMicros(exp), fromNullMicros(used), fromNullMicros(revoked)
	return v, tok, nil
}

func (p parties) GetToken(id string) (party.Token, error) {
	v, err := scanToken(p.t.queryRow(`SELECT `+tokenCols+` FROM principal_tokens t WHERE t.id = ?`, id))
	return v, notFound(err, "token "+id)
}

func (p parties) ListTokens(f store.TokenFilter) ([]store.PrincipalToken, error) {
	q := `SELECT ` + tokenCols + `, ` + principalCols + ` FROM principal_tokens t JOIN principals p ON p.id = t.principal_id WHERE 1 = 1`
	var args []any
	if f.PrincipalID != "" {
		q += ` AND t.principal_id = ?`
		args = append(args, f.PrincipalID)
	}
	if f.PartyID != "" {
		q += ` AND p.party_id = ?`
		args = append(args, f.PartyID)
	}
	if !f.LiveAt.IsZero() {
		q += ` AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`
		args = append(args, micros(f.LiveAt))
	}
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 10000
	}
	q += ` ORDER BY p.party_id, p.name, t.created_at DESC, t.id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := p.t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.PrincipalToken
	for rows.Next() {
		var v party.Token
		var at int64
		var exp, used, revoked sql.NullInt64
		var handover int
		pr, err := scanPrincipalAfter(rows, &v.ID, &v.PrincipalID, &at, &v.CreatedBy, &exp, &used, &revoked, &v.SupersededBy, &handover)
		if err != nil {
			return nil, err
		}
		v.CreatedAt, v.ExpiresAt, v.LastUsedAt, v.RevokedAt = fromMicros(at), fromNullMicros(exp), fromNullMicros(used), fromNullMicros(revoked)
		v.Handover = handover == 1
		out = append(out, store.PrincipalToken{Token: v, Principal: pr})
	}
	return out, rows.Err()
}

// scanPrincipalAfter scans leading columns into lead and then a principal.
func scanPrincipalAfter(rows *sql.Rows, lead ...any) (party.Principal, error) {
	return scanPrincipal(prefixed{rows, lead})
}

type prefixed struct {
	rows *sql.Rows
	lead []any
}

func (s prefixed) Scan(dest ...any) error {
	return s.rows.Scan(append(append([]any{}, s.lead...), dest...)...)
}

func (p parties) SupersedeTokens(principalID, newID string, now, until time.Time) (int, error) {
	res, err := p.t.exec(`UPDATE principal_tokens SET superseded_by = ?, expires_at = CASE WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END
WHERE principal_id = ? AND id <> ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
		newID, micros(until), micros(until), principalID, newID, micros(now))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (p parties) RevokeToken(id string, at time.Time) error {
	err := p.t.execOne(errNoRow, `UPDATE principal_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(at), id)
	if !errors.Is(err, errNoRow) {
		return err
	}
	if _, err := p.GetToken(id); err != nil {
		return err
	}
	return fmt.Errorf("token %s is revoked already: %w", id, store.ErrConflict)
}

var errNoRow = errors.New("no row changed")

func (p parties) LegacyTokens() (int, error) {
	var n int
	err := p.t.queryRow(`SELECT COUNT(*) FROM principal_tokens WHERE expires_at IS NULL`).Scan(&n)
	return n, err
}

func (p parties) SetLegacyExpiry(at time.Time) (int, error) {
	res, err := p.t.exec(`UPDATE principal_tokens SET expires_at = ? WHERE expires_at IS NULL`, micros(at))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// TouchToken records use of a token and its principal outside any audited transaction.
func (s *Store) TouchToken(ctx context.Context, principalID, tokenID string, at time.Time) error {
	if _, err := s.writer.ExecContext(ctx, s.d.Rebind(`UPDATE principal_tokens SET last_used_at = ? WHERE id = ?`), micros(at), tokenID); err != nil {
		return err
	}
	return s.TouchPrincipal(ctx, principalID, at)
}

const accessCols = `id, party_id, principal_id, reason, duration_seconds, state, requested_at, expires_at, decided_by, decided_at, comment, until_at, ended_at, ended_by`

func scanAccess(s interface{ Scan(...any) error }) (party.Access, error) {
	var v party.Access
	var secs, req, exp int64
	var state string
	var decided, until, ended sql.NullInt64
	if err := s.Scan(&v.ID, &v.PartyID, &v.PrincipalID, &v.Reason, &secs, &state, &req, &exp, &v.DecidedBy, &decided, &v.Comment, &until, &ended, &v.EndedBy); err != nil {
		return v, err
	}
	v.Duration, v.State = time.Duration(secs)*time.Second, party.AccessState(state)
	v.RequestedAt, v.ExpiresAt = fromMicros(req), fromMicros(exp)
	v.DecidedAt, v.Until, v.EndedAt = fromNullMicros(decided), fromNullMicros(until), fromNullMicros(ended)
	return v, nil
}

func (p parties) CreateAccess(v party.Access) error {
	_, err := p.t.exec(`INSERT INTO party_access (`+accessCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.PartyID, v.PrincipalID, v.Reason, int64(v.Duration/time.Second), string(v.State), micros(v.RequestedAt), micros(v.ExpiresAt),
		v.DecidedBy, nullMicros(v.DecidedAt), v.Comment, nullMicros(v.Until), nullMicros(v.EndedAt), v.EndedBy)
	return err
}

func (p parties) GetAccess(id string) (party.Access, error) {
	v, err := scanAccess(p.t.queryRow(`SELECT `+accessCols+` FROM party_access WHERE id = ?`, id))
	return v, notFound(err, "break-glass request "+id)
}

func (p parties) UpdateAccess(v party.Access, expect party.AccessState) error {
	return p.t.execOne(store.ErrConflict, `UPDATE party_access SET state = ?, decided_by = ?, decided_at = ?, comment = ?, until_at = ?, ended_at = ?, ended_by = ? WHERE id = ? AND state = ?`,
		string(v.State), v.DecidedBy, nullMicros(v.DecidedAt), v.Comment, nullMicros(v.Until), nullMicros(v.EndedAt), v.EndedBy, v.ID, string(expect))
}

func (p parties) ListAccess(f store.AccessFilter) ([]party.Access, error) {
	q, args := `SELECT `+accessCols+` FROM party_access WHERE 1 = 1`, []any{}
	if f.PartyID != "" {
		q += ` AND party_id = ?`
		args = append(args, f.PartyID)
	}
	if f.PrincipalID != "" {
		q += ` AND principal_id = ?`
		args = append(args, f.PrincipalID)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	q += ` ORDER BY requested_at DESC, id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := p.t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []party.Access
	for rows.Next() {
		v, err := scanAccess(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
