// Package reports computes the security reports of issue 7 from the store: inventory with both
// identity stages, rotation compliance, certificates expiring soon, drift from the build
// record, and the standards mapping (standards.go). It has no SQL and no HTTP.
//
// Scope: auditors (governance.IsAuditor) see the whole deployment; any other party sees the
// devices it made or holds, and of their operational stage (environment, operational
// certificate, reported facts: the rotation, expiring and drift reports, the inventory's
// operational columns) only what happens in environments it operates: a maker does not see
// what an operator does with the devices it made (docs/governance.md, Visibility). A
// deployment administrator sees no device, but sees Hallmark's own credentials
// (credentials.go) and the standards counts.
package reports

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Service computes reports.
type Service struct {
	st  store.Store
	now func() time.Time
	// tokenLifetime is the deployment's longest principal token lifetime (credentials.go).
	tokenLifetime time.Duration
	// verified remembers which build records verified under which key history (verified.go).
	verified *verifiedSet
	// drift remembers drift reports per scope and per device (driftmemo.go).
	drift *driftCache
	// timed remembers the summary, expiring and rotation reports per scope (timememo.go).
	timed *timedCache
}

// New returns a Service; now defaults to time.Now in UTC.
func New(st store.Store, now func() time.Time) *Service {
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{st: st, now: now, tokenLifetime: party.DefaultTokenLifetime, verified: newVerifiedSet(maxVerified), drift: newDriftCache(), timed: newTimedCache()}
}

// SetTokenLifetime sets the longest principal token lifetime the credential checks hold
// tokens to (config principals.token_lifetime); zero keeps party.DefaultTokenLifetime. Call it
// before serving.
func (s *Service) SetTokenLifetime(d time.Duration) {
	if d > 0 {
		s.tokenLifetime = d
	}
}

// CertSummary is one certificate of a device as reports show it.
type CertSummary struct {
	Serial   string       `json:"serial"`
	State    ca.CertState `json:"state"`
	NotAfter time.Time    `json:"not_after"`
}

// InventoryRow is one device with both identity stages.
type InventoryRow struct {
	DeviceID       string       `json:"device_id"`
	Serial         string       `json:"serial"`
	ManufacturerID string       `json:"manufacturer_id"`
	State          device.State `json:"state"`
	CustodianID    string       `json:"custodian_id"`
	EnvironmentID  string       `json:"environment_id,omitempty"`
	Factory        *CertSummary `json:"factory,omitempty"`
	Operational    *CertSummary `json:"operational,omitempty"`
}

// InventoryPage is one page of the inventory report.
type InventoryPage struct {
	Items     []InventoryRow `json:"items"`
	NextAfter string         `json:"next_after,omitempty"`
}

// Inventory returns one page (after, limit as /v1/devices: limit 0 means 1000) of devices with
// both identity stages.
func (s *Service) Inventory(ctx context.Context, a audit.Actor, after string, limit int) (InventoryPage, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	page := InventoryPage{Items: []InventoryRow{}}
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		page = InventoryPage{Items: []InventoryRow{}}
		sc, err := scopeOf(tx, a)
		if err != nil {
			return err
		}
		items, err := tx.Reports().Inventory(sc, after, limit)
		if err != nil {
			return err
		}
		own, err := ownEnvironments(tx, sc)
		if err != nil {
			return err
		}
		for _, it := range items {
			d := it.Device
			row := InventoryRow{DeviceID: d.ID, Serial: d.Serial, ManufacturerID: d.ManufacturerID, State: d.State,
				CustodianID: d.CustodianID, Factory: summary(it.Factory)}
			if sc.All || own[d.EnvironmentID] { // the operational stage is its operator's to see
				row.EnvironmentID, row.Operational = d.EnvironmentID, summary(it.Operational)
			}
			page.Items = append(page.Items, row)
		}
		if len(items) == limit {
			page.NextAfter = items[len(items)-1].Device.ID
		}
		return nil
	})
	return page, err
}

// opScopeOf is what a party may see of the operational stage: everything for auditors and
// administrators, otherwise the devices it holds in environments it operates. A maker does not see
// what an operator does with the devices it made (docs/governance.md, Visibility).
func opScopeOf(tx store.Tx, a audit.Actor) (store.ReportScope, error) {
	sc, err := scopeOf(tx, a)
	sc.Operational = !sc.All
	return sc, err
}

// ownEnvironments are the IDs of the environments the scope's party operates (none for an
// auditor's scope, which sees every one).
func ownEnvironments(tx store.Tx, sc store.ReportScope) (map[string]bool, error) {
	out := map[string]bool{}
	if sc.All {
		return out, nil
	}
	envs, err := tx.Environments().ListEnvironments(sc.PartyID)
	for _, e := range envs {
		out[e.ID] = true
	}
	return out, err
}

// scopeOf is what a party may see: everything for auditors, otherwise the
// devices it made or holds and those in environments it operates (filtered in the store).
func scopeOf(tx store.Tx, a audit.Actor) (store.ReportScope, error) {
	auditor, err := governance.IsAuditor(tx, a)
	if err != nil {
		return store.ReportScope{}, err
	}
	return store.ReportScope{All: auditor, PartyID: a.PartyID}, nil
}

func summary(c *store.CertInfo) *CertSummary {
	if c == nil {
		return nil
	}
	return &CertSummary{Serial: c.Serial, State: c.State, NotAfter: c.NotAfter}
}

// environments returns the environments a report names: those the party operates (all for
// auditors) and the given others (environments of devices it holds), by ID.
func environments(tx store.Tx, sc store.ReportScope, others ...string) (map[string]environment.Environment, error) {
	operator := sc.PartyID
	if sc.All {
		operator = ""
	}
	envs, err := tx.Environments().ListEnvironments(operator)
	if err != nil {
		return nil, err
	}
	out := make(map[string]environment.Environment, len(envs))
	for _, e := range envs {
		out[e.ID] = e
	}
	for _, id := range others {
		if _, ok := out[id]; ok || id == "" {
			continue
		}
		e, err := tx.Environments().GetEnvironment(id)
		if failure.Is(err, failure.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = e
	}
	return out, nil
}

func sortedIDs(envs map[string]environment.Environment) []string {
	ids := make([]string, 0, len(envs))
	for id := range envs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Duration is a time.Duration shown in JSON as a Go duration string.
type Duration = environment.Duration

// RotationEnv is rotation compliance of one environment.
type RotationEnv struct {
	EnvironmentID string   `json:"environment_id"`
	Name          string   `json:"name"`
	OperatorID    string   `json:"operator_id"`
	MaxAge        Duration `json:"max_age"`
	Active        int      `json:"active"`
	Compliant     int      `json:"compliant"`
	Share         float64  `json:"share"` // compliant / active; 1 when there are no active devices
}

// Overdue is an active device whose operational certificate is older than its environment's
// maximum age.
type Overdue struct {
	DeviceID      string    `json:"device_id"`
	EnvironmentID string    `json:"environment_id"`
	Serial        string    `json:"serial"`
	IssuedAt      time.Time `json:"issued_at"`
	Age           Duration  `json:"age"`
	MaxAge        Duration  `json:"max_age"`
}

// MaxOverdue bounds the overdue identities a rotation report lists (oldest first);
// OverdueCount counts them all.
const MaxOverdue = 1000

// Rotation is the rotation compliance report.
type Rotation struct {
	GeneratedAt  time.Time     `json:"generated_at"`
	Active       int           `json:"active"`
	Compliant    int           `json:"compliant"`
	Share        float64       `json:"share"`
	Environments []RotationEnv `json:"environments"`
	// Overdue lists at most MaxOverdue overdue identities, those never issued or issued
	// longest ago first; OverdueCount counts them all (Active − Compliant).
	Overdue      []Overdue `json:"overdue"`
	OverdueCount int       `json:"overdue_count"`
	// Trend is compliance at past instants, oldest first, when asked for (TrendOptions).
	Trend []TrendPoint `json:"trend,omitempty"`
	// Credentials are Hallmark's own: principal tokens and CA certificates (credentials.go),
	// the caller's party's, or all for auditors and deployment administrators.
	Credentials Credentials `json:"credentials"`
}

// TrendOptions asks for the rotation trend: compliance every Every over the Since before now
// (both zero: no trend). The instants are now, now − Every, ... back to now − Since.
type TrendOptions struct {
	Since, Every time.Duration
}

// MaxTrendPoints bounds the instants of one trend.
const MaxTrendPoints = 1000

// TrendPoint is rotation compliance at one past instant, computed from certificate history:
// a device counts when its operational certificate current at that instant (the newest issued
// by then) was not revoked by then, and is compliant when that certificate was issued less
// than its environment's max_age before the instant.
type TrendPoint struct {
	At           time.Time  `json:"at"`
	Active       int        `json:"active"`
	Compliant    int        `json:"compliant"`
	Share        float64    `json:"share"`
	Environments []TrendEnv `json:"environments"`
}

// TrendEnv is one environment's compliance at a trend instant.
type TrendEnv struct {
	EnvironmentID string  `json:"environment_id"`
	Active        int     `json:"active"`
	Compliant     int     `json:"compliant"`
	Share         float64 `json:"share"`
}

// instants returns the trend instants, oldest first.
func (o TrendOptions) instants(now time.Time) ([]time.Time, error) {
	if o.Since == 0 && o.Every == 0 {
		return nil, nil
	}
	if o.Since <= 0 || o.Every <= 0 {
		return nil, failure.New(failure.Invalid, "a trend needs both since and every, positive, such as since=30d and every=1d")
	}
	if o.Since/o.Every+1 > MaxTrendPoints {
		return nil, failure.New(failure.Invalid, "since %s every %s makes more than %d points", o.Since, o.Every, MaxTrendPoints)
	}
	n := int(o.Since/o.Every) + 1
	out := make([]time.Time, n)
	for i := range out {
		out[n-1-i] = now.Add(-time.Duration(i) * o.Every)
	}
	return out, nil
}

// Rotation reports the share of active operational identities renewed within their
// environment's max_age: an active device whose current operational certificate was issued
// less than max_age ago is compliant. With a TrendOptions it adds the trend.
func (s *Service) Rotation(ctx context.Context, a audit.Actor, trend TrendOptions) (Rotation, error) {
	now := s.now()
	out := Rotation{GeneratedAt: now, Environments: []RotationEnv{}, Overdue: []Overdue{}}
	at, err := trend.instants(now)
	if err != nil {
		return out, err
	}
	err = s.st.View(ctx, func(tx store.Tx) error {
		mark, err := markFor(ctx, tx)
		if err != nil {
			return err
		}
		sc, err := opScopeOf(tx, a)
		if err != nil {
			return err
		}
		compute := func() (Rotation, error) {
			r := out
			return r, r.compute(tx, sc, now)
		}
		if out, err = timedReport(ctx, s, tx, timedKey{kind: "rotation", scope: sc}, mark, now, nil, compute, refreshRotation); err != nil {
			return err
		}
		credParty := a.PartyID
		if sc.All || governance.IsDeploymentAdmin(a) {
			credParty = ""
		}
		if out.Credentials, err = credentials(tx, credParty, credParty, s.tokenLifetime, now); err != nil {
			return err
		}
		switch round := roundOf(ctx); {
		case at == nil:
		case round != nil: // a snapshot round's parties share one read of the trend
			out.Trend, err = round.trend(tx, sc, trend, at)
		default:
			out.Trend, err = trendOf(tx, sc, at)
		}
		return err
	})
	return out, err
}

// refreshRotation is r at now: its overdue identities' ages from their issue times, in copies
// of its lists.
func refreshRotation(r Rotation, now time.Time) Rotation {
	r.GeneratedAt = now
	r.Environments = append([]RotationEnv{}, r.Environments...)
	r.Overdue = append([]Overdue{}, r.Overdue...)
	for i, o := range r.Overdue {
		if !o.IssuedAt.IsZero() {
			r.Overdue[i].Age = Duration(now.Sub(o.IssuedAt).Truncate(time.Second))
		}
	}
	return r
}

// markFor is the change mark of tx when ctx accepts remembered reports (ReuseUnchanged), read
// before anything else of the report; the zero mark otherwise (not read).
func markFor(ctx context.Context, tx store.Tx) (driftMark, error) {
	if !reusing(ctx) {
		return driftMark{}, nil
	}
	return readDriftMark(tx)
}

func (out *Rotation) compute(tx store.Tx, sc store.ReportScope, now time.Time) error {
	counts, err := tx.Reports().Rotation(sc, now)
	if err != nil {
		return err
	}
	ids := make([]string, len(counts))
	for i, c := range counts {
		ids[i] = c.EnvironmentID
	}
	envs, err := environments(tx, sc, ids...)
	if err != nil {
		return err
	}
	per := map[string]store.RotationCount{}
	for _, c := range counts {
		per[c.EnvironmentID] = c
	}
	for _, id := range sortedIDs(envs) {
		e, c := envs[id], per[id]
		out.Environments = append(out.Environments, RotationEnv{EnvironmentID: id, Name: e.Name, OperatorID: e.OperatorID, MaxAge: e.MaxAge,
			Active: c.Active, Compliant: c.Compliant, Share: share(c.Compliant, c.Active)})
		out.Active += c.Active
		out.Compliant += c.Compliant
	}
	out.Share = share(out.Compliant, out.Active)
	out.OverdueCount = out.Active - out.Compliant
	overdue, err := tx.Reports().Overdue(sc, now, MaxOverdue)
	if err != nil {
		return err
	}
	for _, o := range overdue {
		v := Overdue{DeviceID: o.DeviceID, EnvironmentID: o.EnvironmentID, Serial: o.Serial, MaxAge: Duration(o.MaxAge)}
		if o.IssuedAt != nil {
			v.IssuedAt = *o.IssuedAt
			v.Age = Duration(now.Sub(v.IssuedAt).Truncate(time.Second))
		}
		out.Overdue = append(out.Overdue, v)
	}
	return nil
}

func trendOf(tx store.Tx, sc store.ReportScope, at []time.Time) ([]TrendPoint, error) {
	counts, err := tx.Reports().RotationTrend(sc, at)
	if err != nil {
		return nil, err
	}
	return trendPoints(counts, at), nil
}

// trendPoints makes the trend at instants at of counts ordered by instant and environment.
func trendPoints(counts []store.TrendCount, at []time.Time) []TrendPoint {
	points := make([]TrendPoint, len(at))
	idx := make(map[int64]int, len(at))
	for i, t := range at {
		points[i] = TrendPoint{At: t, Environments: []TrendEnv{}}
		idx[t.UnixMicro()] = i
	}
	for _, c := range counts {
		i, ok := idx[c.At.UnixMicro()]
		if !ok {
			continue
		}
		p := &points[i]
		p.Environments = append(p.Environments, TrendEnv{EnvironmentID: c.EnvironmentID, Active: c.Active, Compliant: c.Compliant, Share: share(c.Compliant, c.Active)})
		p.Active += c.Active
		p.Compliant += c.Compliant
	}
	for i := range points {
		points[i].Share = share(points[i].Compliant, points[i].Active)
	}
	return points
}

func share(n, of int) float64 {
	if of == 0 {
		return 1
	}
	return float64(n) / float64(of)
}

// Expiring is one operational certificate that ends within the window.
type Expiring struct {
	DeviceID      string    `json:"device_id"`
	Serial        string    `json:"serial"`
	NotAfter      time.Time `json:"not_after"`
	Remaining     Duration  `json:"remaining"` // negative: already expired
	DeviceState   string    `json:"device_state"`
	EnvironmentID string    `json:"environment_id"`
	OperatorID    string    `json:"operator_id"`
}

// ExpiringGroup is the expiring certificates of one environment and its operator.
type ExpiringGroup struct {
	EnvironmentID string     `json:"environment_id"`
	Name          string     `json:"name"`
	OperatorID    string     `json:"operator_id"`
	Count         int        `json:"count"` // all of this group's, listed or not
	Items         []Expiring `json:"items"`
}

// MaxExpiring bounds the certificates an expiring report lists (soonest first); the counts
// cover them all.
const MaxExpiring = 1000

// ExpiringReport lists current, unrevoked operational certificates that end before
// GeneratedAt + Within, grouped by environment and owner (operator). Count counts them all;
// Truncated says that only the MaxExpiring soonest are listed.
type ExpiringReport struct {
	GeneratedAt time.Time       `json:"generated_at"`
	Within      Duration        `json:"within"`
	Count       int             `json:"count"`
	Truncated   bool            `json:"truncated,omitempty"`
	Groups      []ExpiringGroup `json:"groups"`
}

// Expiring returns the operational certificates expiring within the window (72h when zero).
func (s *Service) Expiring(ctx context.Context, a audit.Actor, within time.Duration) (ExpiringReport, error) {
	if within == 0 {
		within = 72 * time.Hour
	}
	if within < 0 {
		return ExpiringReport{}, failure.New(failure.Invalid, "within must be positive, such as 72h")
	}
	now := s.now()
	var out ExpiringReport
	err := s.st.View(ctx, func(tx store.Tx) error {
		mark, err := markFor(ctx, tx)
		if err != nil {
			return err
		}
		sc, err := opScopeOf(tx, a)
		if err != nil {
			return err
		}
		out, err = timedReport(ctx, s, tx, timedKey{kind: "expiring", scope: sc, window: within}, mark, now, []time.Duration{within},
			func() (ExpiringReport, error) { return expiring(tx, sc, now, within) }, refreshExpiring)
		return err
	})
	return out, err
}

// refreshExpiring is r at now: its certificates' remaining times from their ends, in copies of
// its lists.
func refreshExpiring(r ExpiringReport, now time.Time) ExpiringReport {
	r.GeneratedAt = now
	r.Groups = append([]ExpiringGroup{}, r.Groups...)
	for i := range r.Groups {
		g := &r.Groups[i]
		g.Items = append([]Expiring{}, g.Items...)
		for j := range g.Items {
			g.Items[j].Remaining = Duration(g.Items[j].NotAfter.Sub(now).Truncate(time.Second))
		}
	}
	return r
}

// expiring computes the expiring report of scope sc at now.
func expiring(tx store.Tx, sc store.ReportScope, now time.Time, within time.Duration) (ExpiringReport, error) {
	out := ExpiringReport{GeneratedAt: now, Within: Duration(within), Groups: []ExpiringGroup{}}
	err := func() error {
		end := now.Add(within)
		counts, err := tx.Reports().ExpiringCounts(sc, end)
		if err != nil {
			return err
		}
		items, err := tx.Reports().Expiring(sc, end, MaxExpiring)
		if err != nil {
			return err
		}
		ids := make([]string, len(counts))
		for i, c := range counts {
			ids[i] = c.EnvironmentID
		}
		envs, err := environments(tx, sc, ids...)
		if err != nil {
			return err
		}
		groups := map[string]*ExpiringGroup{}
		for _, c := range counts {
			e := envs[c.EnvironmentID]
			groups[c.EnvironmentID] = &ExpiringGroup{EnvironmentID: c.EnvironmentID, Name: e.Name, OperatorID: e.OperatorID, Count: c.Count, Items: []Expiring{}}
			out.Count += c.Count
		}
		for _, it := range items {
			g, ok := groups[it.EnvironmentID]
			if !ok { // counted and listed in separate statements of one transaction: cannot happen
				continue
			}
			g.Items = append(g.Items, Expiring{DeviceID: it.DeviceID, Serial: it.Serial, NotAfter: it.NotAfter, Remaining: Duration(it.NotAfter.Sub(now).Truncate(time.Second)),
				DeviceState: string(it.DeviceState), EnvironmentID: it.EnvironmentID, OperatorID: g.OperatorID})
		}
		out.Truncated = len(items) < out.Count
		for _, g := range groups {
			out.Groups = append(out.Groups, *g)
		}
		sort.Slice(out.Groups, func(i, j int) bool {
			if out.Groups[i].OperatorID != out.Groups[j].OperatorID {
				return out.Groups[i].OperatorID < out.Groups[j].OperatorID
			}
			return out.Groups[i].EnvironmentID < out.Groups[j].EnvironmentID
		})
		return nil
	}()
	return out, err
}

// Summary is the inventory summary: device counts by state and by environment.
type Summary struct {
	GeneratedAt time.Time      `json:"generated_at"`
	Devices     int            `json:"devices"`
	ByState     map[string]int `json:"by_state"`
	// Active and Compliant are rotation compliance over all environments.
	Active    int     `json:"active"`
	Compliant int     `json:"compliant"`
	Share     float64 `json:"share"`
	// Expiring24h counts current operational certificates ending within 24 hours.
	Expiring24h int `json:"expiring_24h"`
}

// Summary counts the devices the caller may see by state, with rotation compliance and the
// certificates expiring within a day; every figure is one aggregate query.
func (s *Service) Summary(ctx context.Context, a audit.Actor) (Summary, error) {
	now := s.now()
	var out Summary
	err := s.st.View(ctx, func(tx store.Tx) error {
		mark, err := markFor(ctx, tx)
		if err != nil {
			return err
		}
		sc, err := scopeOf(tx, a)
		if err != nil {
			return err
		}
		out, err = timedReport(ctx, s, tx, timedKey{kind: "summary", scope: sc}, mark, now, []time.Duration{24 * time.Hour},
			func() (Summary, error) { return summaryOf(tx, sc, now) }, refreshSummary)
		return err
	})
	return out, err
}

// refreshSummary is r at now, with a copy of its map.
func refreshSummary(r Summary, now time.Time) Summary {
	r.GeneratedAt = now
	by := make(map[string]int, len(r.ByState))
	for k, v := range r.ByState {
		by[k] = v
	}
	r.ByState = by
	return r
}

// summaryOf computes the summary of scope sc at now.
func summaryOf(tx store.Tx, sc store.ReportScope, now time.Time) (Summary, error) {
	out := Summary{GeneratedAt: now, ByState: map[string]int{}}
	err := func() error {
		// The state counts alone: the certificate facts Reports.Summary also counts are the
		// standards checks' (they were 83% of this report's store time, for nothing shown).
		by, err := tx.Reports().DeviceStates(sc)
		if err != nil {
			return err
		}
		for st, n := range by {
			out.Devices += n
			out.ByState[string(st)] = n
		}
		op := sc
		op.Operational = !sc.All
		rot, err := tx.Reports().Rotation(op, now)
		if err != nil {
			return err
		}
		for _, c := range rot {
			out.Active += c.Active
			out.Compliant += c.Compliant
		}
		out.Share = share(out.Compliant, out.Active)
		exp, err := tx.Reports().ExpiringCounts(op, now.Add(24*time.Hour))
		for _, c := range exp {
			out.Expiring24h += c.Count
		}
		return err
	}()
	return out, err
}

// factsOf reads the facts a device reported at an issuance, as its evidence stored them.
func factsOf(raw json.RawMessage) (environment.Facts, bool) {
	var f environment.Facts
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil {
		return f, false
	}
	return f, true
}

// ParseSpan reads a span of time for the trend: a whole number of days ("30d") or weeks
// ("2w"), or a Go duration ("12h"). It must be positive.
func ParseSpan(s string) (time.Duration, error) {
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		unit = 7 * 24 * time.Hour
	}
	var d time.Duration
	if unit != 0 {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n <= 0 || n > 100*366 {
			return 0, failure.New(failure.Invalid, "%q is not a span such as 30d, 2w or 12h", s)
		}
		d = time.Duration(n) * unit
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return 0, failure.New(failure.Invalid, "%q is not a span such as 30d, 2w or 12h", s)
		}
	}
	return d, nil
}
