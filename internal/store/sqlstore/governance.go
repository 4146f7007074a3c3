package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/store"
)

func (t *tx) Approvals() store.Approvals         { return approvals{t} }
func (t *tx) SupportGrants() store.SupportGrants { return grants{t} }
func (t *tx) Duties() store.Duties               { return duties{t} }
func (t *tx) GovernanceReads() store.GovernanceReads {
	return govReads{t}
}

type govReads struct{ t *tx }

func (g govReads) DeviceCounts() ([]store.DeviceCount, error) {
	return list(g.t, func(s interface{ Scan(...any) error }) (store.DeviceCount, error) {
		var c store.DeviceCount
		return c, s.Scan(&c.LotID, &c.EnvironmentID, &c.State, &c.Devices)
	}, `SELECT COALESCE(lot_id, ''), environment_id, state, COUNT(*) FROM devices GROUP BY lot_id, environment_id, state ORDER BY lot_id, environment_id, state`)
}

type approvals struct{ t *tx }

const approvalCols = `id, kind, state, requester_party, requester_principal, approver_party, scope, subject, reason, until_at, payload, approvers, other_party, decisions, created_at, expires_at, decided_at, executed_at, quorum`

func approvalArgs(r approval.Request) ([]any, error) {
	dec, err := json.Marshal(r.Decisions)
	if err != nil {
		return nil, err
	}
	payload := string(r.Payload)
	if payload == "" {
		payload = "{}"
	}
	quorum := []byte("[]")
	if len(r.Quorum) > 0 {
		if quorum, err = json.Marshal(r.Quorum); err != nil {
			return nil, err
		}
	}
	return []any{r.ID, string(r.Kind), string(r.State), r.RequesterParty, r.RequesterPrincipal, r.ApproverParty, r.Scope, r.Subject, r.Reason,
		nullMicros(r.Until), payload, r.Approvers, boolInt(r.OtherParty), string(dec), micros(r.CreatedAt), micros(r.ExpiresAt),
		nullMicros(r.DecidedAt), nullMicros(r.ExecutedAt), string(quorum)}, nil
}

func scanApproval(s interface{ Scan(...any) error }) (approval.Request, error) {
	var r approval.Request
	var kind, state, payload, dec, quorum string
	var until, decided, executed sql.NullInt64
	var other int
	var created, expires int64
	if err := s.Scan(&r.ID, &kind, &state, &r.RequesterParty, &r.RequesterPrincipal, &r.ApproverParty, &r.Scope, &r.Subject, &r.Reason,
		&until, &payload, &r.Approvers, &other, &dec, &created, &expires, &decided, &executed, &quorum); err != nil {
		return r, err
	}
	if quorum != "[]" {
		if err := json.Unmarshal([]byte(quorum), &r.Quorum); err != nil {
			return r, fmt.Errorf("approval %s: stored quorum: %w", r.ID, err)
		}
	}
	r.Kind, r.State, r.OtherParty = approval.Kind(kind), approval.State(state), other != 0
	r.Until, r.DecidedAt, r.ExecutedAt = fromNullMicros(until), fromNullMicros(decided), fromNullMicros(executed)
	r.CreatedAt, r.ExpiresAt = fromMicros(created), fromMicros(expires)
	if payload != "{}" {
		r.Payload = json.RawMessage(payload)
	}
	return r, json.Unmarshal([]byte(dec), &r.Decisions)
}

func (a approvals) CreateApproval(r approval.Request) error {
	args, err := approvalArgs(r)
	if err != nil {
		return err
	}
	_, err = a.t.exec(`INSERT INTO approvals (`+approvalCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	return err
}

func (a approvals) GetApproval(id string) (approval.Request, error) {
	r, err := scanApproval(a.t.queryRow(`SELECT `+approvalCols+` FROM approvals WHERE id = ?`, id))
	return r, notFound(err, "approval "+id)
}

func (a approvals) UpdateApproval(r approval.Request, expect approval.State) error {
	dec, err := json.Marshal(r.Decisions)
	if err != nil {
		return err
	}
	return a.t.execOne(fmt.Errorf("approval %s is no longer %s: %w", r.ID, expect, store.ErrConflict),
		`UPDATE approvals SET state = ?, decisions = ?, decided_at = ?, executed_at = ? WHERE id = ? AND state = ?`,
		string(r.State), string(dec), nullMicros(r.DecidedAt), nullMicros(r.ExecutedAt), r.ID, string(expect))
}

func (a approvals) ListApprovals(f store.ApprovalFilter) ([]approval.Request, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return list(a.t, scanApproval, `SELECT `+approvalCols+` FROM approvals
		WHERE (? = '' OR kind = ?) AND (? = '' OR requester_party = ? OR approver_party = ?) AND (? = '' OR subject = ?) AND (? = '' OR state = ?)
		ORDER BY created_at DESC, id DESC LIMIT ?`,
		string(f.Kind), string(f.Kind), f.Party, f.Party, f.Party, f.Subject, f.Subject, string(f.State), string(f.State), limit)
}

func (a approvals) Rule(k approval.Kind) (approval.Rule, bool, error) {
	r := approval.Rule{Kind: k}
	var other int
	var secs int64
	err := a.t.queryRow(`SELECT approvers, other_party, expiry_seconds FROM approval_rules WHERE kind = ?`, string(k)).Scan(&r.Approvers, &other, &secs)
	if err == sql.ErrNoRows {
		return r, false, nil
	}
	r.OtherParty, r.Expiry = other != 0, time.Duration(secs)*time.Second
	return r, err == nil, err
}

func (a approvals) SetRule(r approval.Rule, by string, at time.Time) error {
	if _, err := a.t.exec(`DELETE FROM approval_rules WHERE kind = ?`, string(r.Kind)); err != nil {
		return err
	}
	_, err := a.t.exec(`INSERT INTO approval_rules (kind, approvers, other_party, expiry_seconds, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)`,
		string(r.Kind), r.Approvers, boolInt(r.OtherParty), int64(r.Expiry/time.Second), by, micros(at))
	return err
}

type grants struct{ t *tx }

const grantCols = `id, approval_id, requester_party, requester_principal, engineer, environment_id, operator_id, lot_id, reason, not_before, not_after, state, csr, cert_serial, created_at, revoked_at, revoked_by`

func (g grants) scan(s interface{ Scan(...any) error }) (grant.Grant, error) {
	var v grant.Grant
	var state string
	var nb, na, created int64
	var revoked sql.NullInt64
	if err := s.Scan(&v.ID, &v.ApprovalID, &v.RequesterParty, &v.RequesterPrincipal, &v.Engineer, &v.EnvironmentID, &v.OperatorID, &v.LotID, &v.Reason,
		&nb, &na, &state, &v.CSR, &v.CertSerial, &created, &revoked, &v.RevokedBy); err != nil {
		return v, err
	}
	v.State, v.NotBefore, v.NotAfter, v.CreatedAt, v.RevokedAt = grant.State(state), fromMicros(nb), fromMicros(na), fromMicros(created), fromNullMicros(revoked)
	return v, nil
}

func (g grants) devices(v *grant.Grant) error {
	ids, err := list(g.t, func(s interface{ Scan(...any) error }) (string, error) {
		var id string
		return id, s.Scan(&id)
	}, `SELECT device_id FROM support_grant_devices WHERE grant_id = ? ORDER BY device_id`, v.ID)
	v.Devices = ids
	return err
}

func (g grants) CreateGrant(v grant.Grant) error {
	if _, err := g.t.exec(`INSERT INTO support_grants (`+grantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.ApprovalID, v.RequesterParty, v.RequesterPrincipal, v.Engineer, v.EnvironmentID, v.OperatorID, v.LotID, v.Reason,
		micros(v.NotBefore), micros(v.NotAfter), string(v.State), v.CSR, v.CertSerial, micros(v.CreatedAt), nullMicros(v.RevokedAt), v.RevokedBy); err != nil {
		return err
	}
	for _, d := range v.Devices {
		if _, err := g.t.exec(`INSERT INTO support_grant_devices (grant_id, device_id) VALUES (?, ?)`, v.ID, d); err != nil {
			return err
		}
	}
	return nil
}

func (g grants) GetGrant(id string) (grant.Grant, error) {
	v, err := g.scan(g.t.queryRow(`SELECT `+grantCols+` FROM support_grants WHERE id = ?`, id))
	if err != nil {
		return v, notFound(err, "support grant "+id)
	}
	return v, g.devices(&v)
}

func (g grants) GrantBySerial(serial string) (grant.Grant, error) {
	v, err := g.scan(g.t.queryRow(`SELECT `+grantCols+` FROM support_grants WHERE cert_serial = ? AND cert_serial <> ''`, serial))
	if err != nil {
		return v, notFound(err, "support grant of certificate "+serial)
	}
	return v, g.devices(&v)
}

func (g grants) UpdateGrant(v grant.Grant, expect grant.State) error {
	return g.t.execOne(fmt.Errorf("support grant %s is no longer %s: %w", v.ID, expect, store.ErrConflict),
		`UPDATE support_grants SET state = ?, cert_serial = ?, revoked_at = ?, revoked_by = ? WHERE id = ? AND state = ?`,
		string(v.State), v.CertSerial, nullMicros(v.RevokedAt), v.RevokedBy, v.ID, string(expect))
}

func (g grants) ListGrants(f store.GrantFilter) ([]grant.Grant, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	out, err := list(g.t, g.scan, `SELECT `+grantCols+` FROM support_grants g
		WHERE (? = '' OR environment_id = ?) AND (? = '' OR requester_party = ? OR operator_id = ?) AND (? = '' OR lot_id = ?) AND (? = '' OR state = ?)
		AND (? = '' OR EXISTS (SELECT 1 FROM support_grant_devices x WHERE x.grant_id = g.id AND x.device_id = ?)
		     OR EXISTS (SELECT 1 FROM devices d WHERE d.id = ? AND g.lot_id <> '' AND d.lot_id = g.lot_id AND d.environment_id = g.environment_id))
		ORDER BY created_at DESC, id DESC LIMIT ?`,
		f.EnvironmentID, f.EnvironmentID, f.Party, f.Party, f.Party, f.LotID, f.LotID, string(f.State), string(f.State), f.DeviceID, f.DeviceID, f.DeviceID, limit)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if err := g.devices(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type duties struct{ t *tx }

func (d duties) ListSoDRules() ([]store.SoDRule, error) {
	return list(d.t, func(s interface{ Scan(...any) error }) (store.SoDRule, error) {
		var r store.SoDRule
		var as, ad, bs, bd string
		var at int64
		err := s.Scan(&r.ID, &as, &ad, &bs, &bd, &r.By, &at)
		r.A, r.B, r.At = ownership.Pair{Stage: ownership.Stage(as), Duty: ownership.Duty(ad)}, ownership.Pair{Stage: ownership.Stage(bs), Duty: ownership.Duty(bd)}, fromMicros(at)
		return r, err
	}, `SELECT id, a_stage, a_duty, b_stage, b_duty, created_by, created_at FROM sod_rules ORDER BY id`)
}

func (d duties) CreateSoDRule(r store.SoDRule) error {
	_, err := d.t.exec(`INSERT INTO sod_rules (id, a_stage, a_duty, b_stage, b_duty, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, string(r.A.Stage), string(r.A.Duty), string(r.B.Stage), string(r.B.Duty), r.By, micros(r.At))
	return err
}

func (d duties) DeleteSoDRule(id string) error {
	return d.t.execOne(fmt.Errorf("separation-of-duties rule %s: %w", id, store.ErrNotFound), `DELETE FROM sod_rules WHERE id = ?`, id)
}

func (d duties) PrincipalDuties(principalID string) ([]ownership.Pair, error) {
	return list(d.t, func(s interface{ Scan(...any) error }) (ownership.Pair, error) {
		var st, du string
		err := s.Scan(&st, &du)
		return ownership.Pair{Stage: ownership.Stage(st), Duty: ownership.Duty(du)}, err
	}, `SELECT stage, duty FROM principal_duties WHERE principal_id = ? ORDER BY stage, duty`, principalID)
}

func (d duties) SetPrincipalDuties(principalID string, ds []ownership.Pair) error {
	if _, err := d.t.exec(`DELETE FROM principal_duties WHERE principal_id = ?`, principalID); err != nil {
		return err
	}
	for _, p := range ds {
		if _, err := d.t.exec(`INSERT INTO principal_duties (principal_id, stage, duty) VALUES (?, ?, ?)`, principalID, string(p.Stage), string(p.Duty)); err != nil {
			return err
		}
	}
	return nil
}
