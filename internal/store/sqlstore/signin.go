package sqlstore

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
)

// Sign-in providers, bindings, flows and sessions (migration 0016_signin.sql).

func (t *tx) Signin() store.Signin { return signin{t} }

type signin struct{ t *tx }

var _ store.Signin = signin{}

func (s signin) PutProvider(p store.SigninProvider) error {
	_, err := s.t.exec(`INSERT INTO signin_providers (party_id, issuer, client_id, client_secret_env, claim, redirect_uris, updated_by, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (party_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id, client_secret_env = excluded.client_secret_env,
  claim = excluded.claim, redirect_uris = excluded.redirect_uris, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		p.PartyID, p.Issuer, p.ClientID, p.ClientSecretEnv, p.Claim, strings.Join(p.RedirectURIs, "\n"), p.UpdatedBy, micros(p.UpdatedAt))
	return err
}

func (s signin) Provider(partyID string) (store.SigninProvider, error) {
	var p store.SigninProvider
	var uris string
	var at int64
	err := s.t.queryRow(`SELECT party_id, issuer, client_id, client_secret_env, claim, redirect_uris, updated_by, updated_at FROM signin_providers WHERE party_id = ?`, partyID).
		Scan(&p.PartyID, &p.Issuer, &p.ClientID, &p.ClientSecretEnv, &p.Claim, &uris, &p.UpdatedBy, &at)
	if err != nil {
		return p, notFound(err, "sign-in provider of party "+partyID)
	}
	if uris != "" {
		p.RedirectURIs = strings.Split(uris, "\n")
	}
	p.UpdatedAt = fromMicros(at)
	return p, nil
}

func (s signin) PutBinding(b store.SigninBinding) error {
	_, err := s.t.exec(`INSERT INTO signin_bindings (party_id, claim_value, principal_id, created_by, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (party_id, claim_value) DO UPDATE SET principal_id = excluded.principal_id, created_by = excluded.created_by, created_at = excluded.created_at`,
		b.PartyID, b.ClaimValue, b.PrincipalID, b.CreatedBy, micros(b.CreatedAt))
	return err
}

func (s signin) DeleteBinding(partyID, claimValue string) error {
	return s.t.execOne(fmt.Errorf("binding %q of party %s: %w", claimValue, partyID, store.ErrNotFound),
		`DELETE FROM signin_bindings WHERE party_id = ? AND claim_value = ?`, partyID, claimValue)
}

const bindingCols = `party_id, claim_value, principal_id, created_by, created_at`

func scanBinding(sc interface{ Scan(...any) error }) (store.SigninBinding, error) {
	var b store.SigninBinding
	var at int64
	err := sc.Scan(&b.PartyID, &b.ClaimValue, &b.PrincipalID, &b.CreatedBy, &at)
	b.CreatedAt = fromMicros(at)
	return b, err
}

func (s signin) Binding(partyID, claimValue string) (store.SigninBinding, error) {
	b, err := scanBinding(s.t.queryRow(`SELECT `+bindingCols+` FROM signin_bindings WHERE party_id = ? AND claim_value = ?`, partyID, claimValue))
	return b, notFound(err, fmt.Sprintf("binding %q of party %s", claimValue, partyID))
}

func (s signin) ListBindings(partyID string) ([]store.SigninBinding, error) {
	return list(s.t, scanBinding, `SELECT `+bindingCols+` FROM signin_bindings WHERE party_id = ? ORDER BY claim_value`, partyID)
}

// exempt runs a flow write without marking the transaction as changing identity state:
// flows are nonces, like challenges.
func (s signin) exempt(fn func() error) error {
	was := s.t.changed
	err := fn()
	s.t.changed = was
	return err
}

func (s signin) CreateFlow(f store.SigninFlow, now time.Time, max int) error {
	return s.exempt(func() error {
		if _, err := s.t.exec(`DELETE FROM signin_flows WHERE party_id = ? AND expires_at <= ?`, f.PartyID, micros(now)); err != nil {
			return err
		}
		var n int
		if err := s.t.queryRow(`SELECT COUNT(*) FROM (SELECT 1 FROM signin_flows WHERE party_id = ? LIMIT ?) live`, f.PartyID, max).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return fmt.Errorf("party %s has %d sign-ins in progress: %w", f.PartyID, n, store.ErrConflict)
		}
		_, err := s.t.exec(`INSERT INTO signin_flows (state_hash, party_id, nonce, verifier, redirect_uri, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			f.StateHash, f.PartyID, f.Nonce, f.Verifier, f.RedirectURI, micros(f.ExpiresAt))
		return err
	})
}

func (s signin) TakeFlow(stateHash []byte) (store.SigninFlow, error) {
	var f store.SigninFlow
	err := s.exempt(func() error {
		var exp int64
		err := s.t.queryRow(`SELECT state_hash, party_id, nonce, verifier, redirect_uri, expires_at FROM signin_flows WHERE state_hash = ?`, stateHash).
			Scan(&f.StateHash, &f.PartyID, &f.Nonce, &f.Verifier, &f.RedirectURI, &exp)
		if err != nil {
			return notFound(err, "sign-in flow")
		}
		f.ExpiresAt = fromMicros(exp)
		return s.t.execOne(fmt.Errorf("sign-in flow: %w", store.ErrNotFound), `DELETE FROM signin_flows WHERE state_hash = ?`, stateHash)
	})
	return f, err
}

const sessionCols = `id, token_hash, principal_id, party_id, method, created_at, expires_at, revoked_at`

func scanSession(sc interface{ Scan(...any) error }) (store.Session, error) {
	var v store.Session
	var created, expires int64
	var revoked sql.NullInt64
	err := sc.Scan(&v.ID, &v.TokenHash, &v.PrincipalID, &v.PartyID, &v.Method, &created, &expires, &revoked)
	v.CreatedAt, v.ExpiresAt, v.RevokedAt = fromMicros(created), fromMicros(expires), fromNullMicros(revoked)
	return v, err
}

func (s signin) CreateSession(v store.Session) error {
	_, err := s.t.exec(`INSERT INTO signin_sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
		v.ID, v.TokenHash, v.PrincipalID, v.PartyID, v.Method, micros(v.CreatedAt), micros(v.ExpiresAt))
	return err
}

func (s signin) SessionByTokenHash(hash []byte) (store.Session, error) {
	v, err := scanSession(s.t.queryRow(`SELECT `+sessionCols+` FROM signin_sessions WHERE token_hash = ?`, hash))
	return v, notFound(err, "session")
}

func (s signin) GetSession(id string) (store.Session, error) {
	v, err := scanSession(s.t.queryRow(`SELECT `+sessionCols+` FROM signin_sessions WHERE id = ?`, id))
	return v, notFound(err, "session "+id)
}

func (s signin) RevokeSession(id string, at time.Time) error {
	return s.t.execOne(fmt.Errorf("live session %s: %w", id, store.ErrNotFound),
		`UPDATE signin_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(at), id)
}
