package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

func (t *tx) ChangeRules() store.ChangeRules { return changeRules{t} }
func (t *tx) Waivers() store.Waivers         { return waivers{t} }

type changeRules struct{ t *tx }

func (c changeRules) ChangeRule(partyID string, k approval.Kind) (approval.ChangeRule, bool, error) {
	r := approval.ChangeRule{PartyID: partyID, Kind: k}
	var quorum string
	var secs int64
	err := c.t.queryRow(`SELECT quorum, expiry_seconds FROM change_rules WHERE party_id = ? AND kind = ?`, partyID, string(k)).Scan(&quorum, &secs)
	if err == sql.ErrNoRows {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	r.Expiry = time.Duration(secs) * time.Second
	if err := json.Unmarshal([]byte(quorum), &r.Quorum); err != nil {
		return r, false, fmt.Errorf("change rule %s/%s: stored quorum: %w", partyID, k, err)
	}
	return r, true, nil
}

func (c changeRules) SetChangeRule(r approval.ChangeRule, by string, at time.Time) error {
	q := r.Quorum
	if q == nil {
		q = []approval.Need{}
	}
	b, err := json.Marshal(q)
	if err != nil {
		return err
	}
	if _, err := c.t.exec(`DELETE FROM change_rules WHERE party_id = ? AND kind = ?`, r.PartyID, string(r.Kind)); err != nil {
		return err
	}
	_, err = c.t.exec(`INSERT INTO change_rules (party_id, kind, quorum, expiry_seconds, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.PartyID, string(r.Kind), string(b), int64(r.Expiry/time.Second), by, micros(at))
	return err
}

func (c changeRules) ApproverGroups(partyID string) (map[string]approval.Group, error) {
	gs, err := list(c.t, func(s interface{ Scan(...any) error }) (approval.Group, error) {
		g := approval.Group{PartyID: partyID}
		var members string
		if err := s.Scan(&g.Name, &members); err != nil {
			return g, err
		}
		return g, json.Unmarshal([]byte(members), &g.Members)
	}, `SELECT name, members FROM approver_groups WHERE party_id = ? ORDER BY name`, partyID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]approval.Group, len(gs))
	for _, g := range gs {
		out[g.Name] = g
	}
	return out, nil
}

func (c changeRules) SetApproverGroup(g approval.Group, by string, at time.Time) error {
	m := g.Members
	if m == nil {
		m = []string{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := c.t.exec(`DELETE FROM approver_groups WHERE party_id = ? AND name = ?`, g.PartyID, g.Name); err != nil {
		return err
	}
	_, err = c.t.exec(`INSERT INTO approver_groups (party_id, name, members, set_by, set_at) VALUES (?, ?, ?, ?, ?)`,
		g.PartyID, g.Name, string(b), by, micros(at))
	return err
}

type waivers struct{ t *tx }

const waiverCols = `id, party_id, device_id, environment_id, rule, reason, approval_id, requested_by, not_after, created_at`

func (w waivers) CreateWaiver(v waiver.Waiver) error {
	_, err := w.t.exec(`INSERT INTO waivers (`+waiverCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.PartyID, v.DeviceID, v.EnvironmentID, v.Rule, v.Reason, v.ApprovalID, v.RequestedBy, micros(v.NotAfter), micros(v.CreatedAt))
	return err
}

func (w waivers) ListWaivers(f store.WaiverFilter) ([]waiver.Waiver, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var active int64
	if f.ActiveAt != nil {
		active = micros(*f.ActiveAt)
	}
	return list(w.t, func(s interface{ Scan(...any) error }) (waiver.Waiver, error) {
		var v waiver.Waiver
		var notAfter, created int64
		err := s.Scan(&v.ID, &v.PartyID, &v.DeviceID, &v.EnvironmentID, &v.Rule, &v.Reason, &v.ApprovalID, &v.RequestedBy, &notAfter, &created)
		v.NotAfter, v.CreatedAt = fromMicros(notAfter), fromMicros(created)
		return v, err
	}, `SELECT `+waiverCols+` FROM waivers WHERE (? = '' OR party_id = ?) AND (? = '' OR device_id = ?) AND not_after > ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, f.Party, f.Party, f.DeviceID, f.DeviceID, active, limit)
}

func (e envs) UpdateEnvironment(v environment.Environment) error {
	services, err := json.Marshal(v.Services)
	if err != nil {
		return err
	}
	return e.t.execOne(fmt.Errorf("environment %s: %w", v.ID, store.ErrNotFound),
		`UPDATE environments SET issuing_ca_id = ?, lifetime_seconds = ?, max_age_seconds = ?, services = ? WHERE id = ?`,
		v.IssuingCAID, int64(time.Duration(v.Lifetime)/time.Second), int64(time.Duration(v.MaxAge)/time.Second), string(services), v.ID)
}
