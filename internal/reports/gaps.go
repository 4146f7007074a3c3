package reports

import (
	"context"
	"sort"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// The governance gaps report: every place where an identity has nobody answerable for it, or
// where the check on an action is not independent of the actor. It reads the matrix, the
// catalog and the environments whole (they are small) and counts devices in one grouped query,
// so its cost grows with the number of scopes, not of devices.

// GapsReport lists the gaps of one deployment (or, for a party that is not an auditor, of its
// own scopes and principals).
type GapsReport struct {
	GeneratedAt time.Time `json:"generated_at"`
	IdleAfter   string    `json:"idle_after"`
	// Unowned are the scopes where a duty resolves to nobody.
	Unowned []UnownedDuty `json:"unowned"`
	// Devices are devices whose current stage has no renewal or revocation owner.
	Devices []DevicesWithoutOwner `json:"devices_without_owner"`
	// Lifetimes are environments whose certificate lifetime exceeds a maximum.
	Lifetimes []LifetimeGap `json:"lifetimes"`
	// Grants are active support grants without a bound the environment still allows.
	Grants []GrantGap `json:"support_grants"`
	// Idle are principals not used within IdleAfter (or never).
	Idle []IdlePrincipal `json:"idle_principals"`
	// SelfApproval are duties whose approvals are decided inside the party that acts.
	SelfApproval []SelfApproval `json:"self_approval"`
	Total        int            `json:"total"`
	// CAExpiry are CAs in service ending within 90 days, or ended, without a successor
	// (caexpiry.go).
	CAExpiry []CAExpiryGap `json:"ca_expiry"`
	// MakerSources are revocation sources of makers that do not run Hallmark that fail, or
	// hold no fresh CRL (makersources.go).
	MakerSources []MakerSourceGap `json:"maker_sources"`
	// ChangeRules are parties' change rules no change can meet (changerules.go).
	ChangeRules []ChangeRuleGap `json:"change_rules"`
	// Handover are principals whose only working tokens a deployment administrator minted
	// (handover.go).
	Handover []HandoverGap `json:"handover"`
	// TrustDomains are environments whose SPIFFE trust domain another operator holds
	// (trustdomains.go).
	TrustDomains []TrustDomainGap `json:"trust_domains"`
}

// UnownedDuty is a (stage, duty) over a scope that no party owns.
type UnownedDuty struct {
	Scope string          `json:"scope"`
	Stage ownership.Stage `json:"stage"`
	Duty  ownership.Duty  `json:"duty"`
}

// DevicesWithoutOwner counts the devices of one scope whose current stage lacks an owner.
type DevicesWithoutOwner struct {
	Scope   string          `json:"scope"`
	Stage   ownership.Stage `json:"stage"`
	Duty    ownership.Duty  `json:"duty"`
	Devices int             `json:"devices"`
}

// LifetimeGap is an environment whose certificate lifetime exceeds a maximum.
type LifetimeGap struct {
	EnvironmentID string `json:"environment_id"`
	Name          string `json:"name"`
	OperatorID    string `json:"operator_id"`
	Lifetime      string `json:"lifetime"`
	Limit         string `json:"limit"`
	Why           string `json:"why"`
}

// GrantGap is an active support grant without a time bound the environment allows.
type GrantGap struct {
	GrantID       string    `json:"grant_id"`
	EnvironmentID string    `json:"environment_id"`
	Requester     string    `json:"requester_party"`
	NotAfter      time.Time `json:"not_after"`
	Window        string    `json:"window"`
	Limit         string    `json:"limit"`
}

// IdlePrincipal is a principal without recent use.
type IdlePrincipal struct {
	PrincipalID string     `json:"principal_id"`
	PartyID     string     `json:"party_id"`
	Name        string     `json:"name"`
	Admin       bool       `json:"admin"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// SelfApproval is a duty whose approval requests are decided by the same party that owns it,
// under a rule that does not ask for another party: only the person differs.
type SelfApproval struct {
	Scope   string        `json:"scope"`
	Kind    approval.Kind `json:"approval_kind"`
	Duty    string        `json:"duty"`
	PartyID string        `json:"party_id"`
}

// GapsOptions tune the report.
type GapsOptions struct {
	IdleAfter   time.Duration // default 90 days
	MaxLifetime time.Duration // the deployment's cap on operational lifetimes; 0: not checked
}

// Gaps computes the governance gaps report.
func (s *Service) Gaps(ctx context.Context, a audit.Actor, o GapsOptions) (GapsReport, error) {
	if o.IdleAfter <= 0 {
		o.IdleAfter = 90 * 24 * time.Hour
	}
	now := s.now()
	r := GapsReport{GeneratedAt: now, IdleAfter: o.IdleAfter.String(), Unowned: []UnownedDuty{}, Devices: []DevicesWithoutOwner{},
		Lifetimes: []LifetimeGap{}, Grants: []GrantGap{}, Idle: []IdlePrincipal{}, SelfApproval: []SelfApproval{}, CAExpiry: []CAExpiryGap{},
		MakerSources: []MakerSourceGap{}, ChangeRules: []ChangeRuleGap{}, Handover: []HandoverGap{}, TrustDomains: []TrustDomainGap{}}
	err := s.st.View(ctx, func(tx store.Tx) error {
		all, err := governance.IsAuditor(tx, a)
		if err != nil {
			return err
		}
		w, err := loadWorld(tx)
		if err != nil {
			return err
		}
		mine := func(partyID string) bool { return all || partyID == a.PartyID }
		r.unowned(w, mine)
		if err := r.devices(tx, w, mine); err != nil {
			return err
		}
		r.lifetimes(w, mine, o.MaxLifetime)
		if err := r.grants(tx, w, mine, now); err != nil {
			return err
		}
		if err := r.idle(tx, w, mine, now, o.IdleAfter); err != nil {
			return err
		}
		if err := r.caExpiry(tx, mine, now); err != nil {
			return err
		}
		if err := r.makerSources(tx, mine, now); err != nil {
			return err
		}
		if err := r.changeRules(tx, w, mine, now); err != nil {
			return err
		}
		if err := r.handovers(tx, w, mine, governance.IsDeploymentAdmin(a), now); err != nil {
			return err
		}
		if err := r.trustDomains(tx, w, mine); err != nil {
			return err
		}
		return r.selfApproval(tx, w, mine)
	})
	r.Total = len(r.Unowned) + len(r.Devices) + len(r.Lifetimes) + len(r.Grants) + len(r.Idle) + len(r.SelfApproval) + len(r.CAExpiry) + len(r.MakerSources) + len(r.ChangeRules) + len(r.Handover) + len(r.TrustDomains)
	return r, err
}

// world is the matrix and every scope, read once.
type world struct {
	cells   map[ownership.Key]string
	parties []party.Party
	models  []device.Model
	lots    []device.Lot
	envs    []environment.Environment
}

func loadWorld(tx store.Tx) (world, error) {
	w := world{cells: map[ownership.Key]string{}}
	cells, err := tx.Ownership().ListCells()
	if err != nil {
		return w, err
	}
	for _, c := range cells {
		w.cells[ownership.Key{Stage: c.Stage, Duty: c.Duty, Scope: c.Scope}] = c.PartyID
	}
	if w.parties, err = tx.Parties().ListParties(); err != nil {
		return w, err
	}
	for _, p := range w.parties {
		if p.Kind != party.Manufacturer {
			continue
		}
		ms, err := tx.Catalog().ListModels(p.ID)
		if err != nil {
			return w, err
		}
		w.models = append(w.models, ms...)
		ls, err := tx.Catalog().ListLots(p.ID)
		if err != nil {
			return w, err
		}
		w.lots = append(w.lots, ls...)
	}
	w.envs, err = tx.Environments().ListEnvironments("")
	return w, err
}

func (w world) owner(stage ownership.Stage, duty ownership.Duty, chain ownership.Chain) (string, bool) {
	p, _, ok := ownership.Resolve(stage, duty, chain, func(k ownership.Key) (string, bool) {
		p, found := w.cells[k]
		return p, found
	})
	return p, ok
}

func envChain(e environment.Environment) ownership.Chain {
	return ownership.Chain{{Kind: ownership.Environment, ID: e.ID}, {Kind: ownership.Operator, ID: e.OperatorID}}
}

// expected are the duties each kind of scope needs an owner for.
var (
	manufacturingDuties = []ownership.Duty{ownership.Issue, ownership.Revoke, ownership.Approve}
	operationalDuties   = []ownership.Duty{ownership.Issue, ownership.Renew, ownership.Revoke, ownership.Approve}
)

func (r *GapsReport) unowned(w world, mine func(string) bool) {
	add := func(chain ownership.Chain, stage ownership.Stage, duties ...ownership.Duty) {
		for _, d := range duties {
			if _, ok := w.owner(stage, d, chain); !ok {
				r.Unowned = append(r.Unowned, UnownedDuty{Scope: chain[0].String(), Stage: stage, Duty: d})
			}
		}
	}
	// Audit of every stage is owned over the deployment; a gap there is everyone's.
	for _, st := range []ownership.Stage{ownership.Manufacturing, ownership.Operational, ownership.Support} {
		add(ownership.Chain{ownership.DeploymentScope}, st, ownership.Audit)
	}
	for _, p := range w.parties {
		if !mine(p.ID) {
			continue
		}
		switch p.Kind {
		case party.Manufacturer:
			add(governance.ManufacturerChain(p.ID), ownership.Manufacturing, manufacturingDuties...)
		case party.Operator:
			chain := ownership.Chain{{Kind: ownership.Operator, ID: p.ID}}
			add(chain, ownership.Operational, operationalDuties...)
			add(chain, ownership.Support, ownership.Approve)
		case party.SupportVendor:
			add(ownership.Chain{{Kind: ownership.Vendor, ID: p.ID}}, ownership.Support, ownership.Issue)
		}
	}
	for _, m := range w.models {
		if mine(m.ManufacturerID) {
			add(governance.ModelChain(m), ownership.Manufacturing, manufacturingDuties...)
		}
	}
	for _, l := range w.lots {
		if mine(l.ManufacturerID) {
			add(governance.LotChain(l), ownership.Manufacturing, manufacturingDuties...)
		}
	}
	for _, e := range w.envs {
		if mine(e.OperatorID) {
			add(envChain(e), ownership.Operational, operationalDuties...)
			add(envChain(e), ownership.Support, ownership.Approve)
		}
	}
	r.Unowned = dedupeUnowned(r.Unowned)
}

// dedupeUnowned keeps one row per scope and duty (a party scope and its own chain may both
// report the same cell).
func dedupeUnowned(in []UnownedDuty) []UnownedDuty {
	seen := map[UnownedDuty]bool{}
	out := in[:0]
	for _, u := range in {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// devices counts, per lot or environment, the devices whose current stage has no owner of
// renewal (operational stage only: factory identities are not renewed) or revocation.
func (r *GapsReport) devices(tx store.Tx, w world, mine func(string) bool) error {
	counts, err := tx.GovernanceReads().DeviceCounts()
	if err != nil {
		return err
	}
	lots := map[string]device.Lot{}
	for _, l := range w.lots {
		lots[l.ID] = l
	}
	envs := map[string]environment.Environment{}
	for _, e := range w.envs {
		envs[e.ID] = e
	}
	type key struct {
		scope string
		stage ownership.Stage
		duty  ownership.Duty
	}
	agg := map[key]int{}
	for _, c := range counts {
		operationalStage := c.EnvironmentID != "" && (c.State == string(device.Active) || c.State == string(device.Suspended) || c.State == string(device.Quarantined))
		if operationalStage {
			e, ok := envs[c.EnvironmentID]
			if !ok || !mine(e.OperatorID) {
				continue
			}
			for _, d := range []ownership.Duty{ownership.Renew, ownership.Revoke} {
				if _, owned := w.owner(ownership.Operational, d, envChain(e)); !owned {
					agg[key{"environment:" + e.ID, ownership.Operational, d}] += c.Devices
				}
			}
			continue
		}
		l, ok := lots[c.LotID]
		if !ok || !mine(l.ManufacturerID) || c.State == string(device.FactoryRevoked) {
			continue
		}
		if _, owned := w.owner(ownership.Manufacturing, ownership.Revoke, governance.LotChain(l)); !owned {
			agg[key{"lot:" + l.ID, ownership.Manufacturing, ownership.Revoke}] += c.Devices
		}
	}
	for k, n := range agg {
		r.Devices = append(r.Devices, DevicesWithoutOwner{Scope: k.scope, Stage: k.stage, Duty: k.duty, Devices: n})
	}
	sort.Slice(r.Devices, func(i, j int) bool {
		a, b := r.Devices[i], r.Devices[j]
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		return a.Duty < b.Duty
	})
	return nil
}

func (r *GapsReport) lifetimes(w world, mine func(string) bool, cap time.Duration) {
	for _, e := range w.envs {
		if !mine(e.OperatorID) {
			continue
		}
		life := time.Duration(e.Lifetime)
		if age := time.Duration(e.MaxAge); life > age {
			r.Lifetimes = append(r.Lifetimes, LifetimeGap{EnvironmentID: e.ID, Name: e.Name, OperatorID: e.OperatorID, Lifetime: life.String(), Limit: age.String(),
				Why: "a certificate outlives the environment's maximum rotation age"})
		}
		if cap > 0 && life > cap {
			r.Lifetimes = append(r.Lifetimes, LifetimeGap{EnvironmentID: e.ID, Name: e.Name, OperatorID: e.OperatorID, Lifetime: life.String(), Limit: cap.String(),
				Why: "over the deployment's maximum operational lifetime"})
		}
	}
}

func (r *GapsReport) grants(tx store.Tx, w world, mine func(string) bool, now time.Time) error {
	envs := map[string]environment.Environment{}
	for _, e := range w.envs {
		envs[e.ID] = e
	}
	gs, err := tx.SupportGrants().ListGrants(store.GrantFilter{State: grant.Active, Limit: 1000})
	if err != nil {
		return err
	}
	for _, g := range gs {
		if !mine(g.OperatorID) && !mine(g.RequesterParty) || !now.Before(g.NotAfter) {
			continue
		}
		limit := time.Duration(envs[g.EnvironmentID].SupportMaxWindow)
		window := g.NotAfter.Sub(g.NotBefore)
		if g.NotAfter.IsZero() || (limit > 0 && window > limit) {
			r.Grants = append(r.Grants, GrantGap{GrantID: g.ID, EnvironmentID: g.EnvironmentID, Requester: g.RequesterParty, NotAfter: g.NotAfter, Window: window.String(), Limit: limit.String()})
		}
	}
	return nil
}

func (r *GapsReport) idle(tx store.Tx, w world, mine func(string) bool, now time.Time, after time.Duration) error {
	ps, err := tx.Parties().ListPrincipals("")
	if err != nil {
		return err
	}
	for _, p := range ps {
		if !mine(p.PartyID) {
			continue
		}
		last := p.CreatedAt
		if p.LastUsedAt != nil {
			last = *p.LastUsedAt
		}
		if now.Sub(last) > after {
			r.Idle = append(r.Idle, IdlePrincipal{PrincipalID: p.ID, PartyID: p.PartyID, Name: p.Name, Admin: p.Admin, LastUsedAt: p.LastUsedAt, CreatedAt: p.CreatedAt})
		}
	}
	return nil
}

// selfApproval finds, for each kind of approval whose rule does not ask for another party, the
// scopes where the party owning the approved duty also owns its approval.
func (r *GapsReport) selfApproval(tx store.Tx, w world, mine func(string) bool) error {
	// Each kind's rule is read once, not once per scope: a deployment has many lots.
	otherParty := map[approval.Kind]bool{}
	for _, k := range []approval.Kind{approval.RevokeCA, approval.Repair, approval.Readmit, approval.Onboard, approval.Reorigin} {
		rule, err := governance.RuleFor(tx, k)
		if err != nil {
			return err
		}
		otherParty[k] = rule.OtherParty
	}
	check := func(k approval.Kind, stage ownership.Stage, duty ownership.Duty, chain ownership.Chain) {
		if otherParty[k] {
			return
		}
		actor, ok1 := w.owner(stage, duty, chain)
		approver, ok2 := w.owner(k.Stage(), ownership.Approve, chain)
		if ok1 && ok2 && actor == approver && mine(actor) {
			r.SelfApproval = append(r.SelfApproval, SelfApproval{Scope: chain[0].String(), Kind: k, Duty: string(stage) + "/" + string(duty), PartyID: actor})
		}
	}
	for _, p := range w.parties {
		if p.Kind == party.Manufacturer {
			check(approval.RevokeCA, ownership.Manufacturing, ownership.Revoke, governance.ManufacturerChain(p.ID))
		}
	}
	// A repair is asked for with manufacturing/issue over the device's lot.
	for _, l := range w.lots {
		check(approval.Repair, ownership.Manufacturing, ownership.Issue, governance.LotChain(l))
	}
	// A re-admission, an onboarding and a maker device's reorigin are asked for with
	// operational/issue over the device's environment.
	for _, e := range w.envs {
		for _, k := range []approval.Kind{approval.Readmit, approval.Onboard, approval.Reorigin} {
			check(k, ownership.Operational, ownership.Issue, envChain(e))
		}
	}
	return nil
}
