// Package reports computes the security reports of issue 7 from the store: inventory with both
// identity stages, rotation compliance, certificates expiring soon, drift from the build
// record, and the standards mapping (standards.go). It has no SQL and no HTTP.
//
// Scope: auditors and administrators (governance.IsAuditor) see the whole deployment; any other
// party sees the devices it made or holds and the devices in environments it operates.
package reports

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Service computes reports.
type Service struct {
	st  store.Store
	now func() time.Time
}

// New returns a Service; now defaults to time.Now in UTC.
func New(st store.Store, now func() time.Time) *Service {
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{st: st, now: now}
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
		sc, err := scopeOf(tx, a)
		if err != nil {
			return err
		}
		// Page through the store until limit visible devices are found (environment scope
		// can add devices the VisibleTo filter would not select).
		f := store.DeviceFilter{After: after, Limit: 1000}
		if !sc.all && len(sc.envs) == 0 {
			f.VisibleTo = a.PartyID
		}
		for len(page.Items) < limit {
			ds, err := tx.Devices().ListDevices(f)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if !sc.sees(d) {
					continue
				}
				dd, err := load(tx, d, false)
				if err != nil {
					return err
				}
				page.Items = append(page.Items, dd.inventoryRow())
				if len(page.Items) == limit {
					page.NextAfter = d.ID
					break
				}
			}
			if len(ds) < 1000 || len(page.Items) == limit {
				break
			}
			f.After = ds[len(ds)-1].ID
		}
		return nil
	})
	return page, err
}

// scope is what a party may see.
type scope struct {
	all   bool
	party string
	envs  map[string]bool // environments the party operates
}

func (sc scope) sees(d device.Device) bool {
	return sc.all || d.ManufacturerID == sc.party || d.CustodianID == sc.party || (d.EnvironmentID != "" && sc.envs[d.EnvironmentID])
}

func scopeOf(tx store.Tx, a audit.Actor) (scope, error) {
	auditor, err := governance.IsAuditor(tx, a)
	if err != nil {
		return scope{}, err
	}
	sc := scope{all: auditor, party: a.PartyID, envs: map[string]bool{}}
	if !auditor {
		envs, err := tx.Environments().ListEnvironments(a.PartyID)
		if err != nil {
			return scope{}, err
		}
		for _, e := range envs {
			sc.envs[e.ID] = true
		}
	}
	return sc, nil
}

// deviceData is one device with its certificates and newest evidence.
type deviceData struct {
	device.Device
	factory, op *ca.Cert
	certs       []ca.Cert
	latest      *environment.Evidence // evidence of the current operational certificate, else the newest
}

func load(tx store.Tx, d device.Device, withEvidence bool) (deviceData, error) {
	dd := deviceData{Device: d}
	certs, err := tx.Certificates().ListDeviceCerts(d.ID)
	if err != nil {
		return dd, err
	}
	dd.certs = certs
	for i := range certs {
		switch certs[i].SerialHex {
		case d.FactoryCert:
			dd.factory = &certs[i]
		case d.OperationalCert:
			if d.OperationalCert != "" {
				dd.op = &certs[i]
			}
		}
	}
	if withEvidence {
		evs, err := tx.Evidence().ListEvidence(d.ID)
		if err != nil {
			return dd, err
		}
		for i := range evs {
			e := &evs[i]
			switch {
			case dd.latest == nil,
				e.Serial == d.OperationalCert && dd.latest.Serial != d.OperationalCert,
				dd.latest.Serial != d.OperationalCert && e.CreatedAt.After(dd.latest.CreatedAt):
				dd.latest = e
			}
		}
	}
	return dd, nil
}

func summary(c *ca.Cert) *CertSummary {
	if c == nil {
		return nil
	}
	return &CertSummary{Serial: c.SerialHex, State: c.State, NotAfter: c.NotAfter}
}

func (dd deviceData) inventoryRow() InventoryRow {
	return InventoryRow{DeviceID: dd.ID, Serial: dd.Device.Serial, ManufacturerID: dd.ManufacturerID, State: dd.State, CustodianID: dd.CustodianID,
		EnvironmentID: dd.EnvironmentID, Factory: summary(dd.factory), Operational: summary(dd.op)}
}

// issuedAt is when a certificate was signed (its not-before when the issue time is unknown).
func issuedAt(c *ca.Cert) time.Time {
	if c.IssuedAt != nil {
		return *c.IssuedAt
	}
	return c.NotBefore
}

// snapshot is every device and environment in the actor's scope.
type snapshot struct {
	scope
	devices []deviceData
	envs    map[string]environment.Environment
	envIDs  []string // sorted
}

func (s *Service) snapshot(tx store.Tx, a audit.Actor, withEvidence bool) (snapshot, error) {
	sc, err := scopeOf(tx, a)
	if err != nil {
		return snapshot{}, err
	}
	snap := snapshot{scope: sc, envs: map[string]environment.Environment{}}
	operator := ""
	if !sc.all {
		operator = a.PartyID
	}
	envs, err := tx.Environments().ListEnvironments(operator)
	if err != nil {
		return snap, err
	}
	for _, e := range envs {
		snap.envs[e.ID] = e
		snap.envIDs = append(snap.envIDs, e.ID)
	}
	f := store.DeviceFilter{Limit: 1000}
	if !sc.all && len(sc.envs) == 0 {
		f.VisibleTo = a.PartyID
	}
	for {
		ds, err := tx.Devices().ListDevices(f)
		if err != nil {
			return snap, err
		}
		for _, d := range ds {
			if !sc.sees(d) {
				continue
			}
			dd, err := load(tx, d, withEvidence)
			if err != nil {
				return snap, err
			}
			snap.devices = append(snap.devices, dd)
			if e, ok := snap.envs[d.EnvironmentID]; d.EnvironmentID != "" && !ok {
				// A device this party holds in another operator's environment.
				if e, err = tx.Environments().GetEnvironment(d.EnvironmentID); err == nil {
					snap.envs[e.ID] = e
					snap.envIDs = append(snap.envIDs, e.ID)
				} else if !failure.Is(err, failure.NotFound) {
					return snap, err
				}
			}
		}
		if len(ds) < 1000 {
			break
		}
		f.After = ds[len(ds)-1].ID
	}
	sort.Strings(snap.envIDs)
	return snap, nil
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

// Rotation is the rotation compliance report. The trend over time is not computed yet.
type Rotation struct {
	GeneratedAt  time.Time     `json:"generated_at"`
	Active       int           `json:"active"`
	Compliant    int           `json:"compliant"`
	Share        float64       `json:"share"`
	Environments []RotationEnv `json:"environments"`
	Overdue      []Overdue     `json:"overdue"`
}

// Rotation reports the share of active operational identities renewed within their
// environment's max_age: an active device whose current operational certificate was issued
// less than max_age ago is compliant.
func (s *Service) Rotation(ctx context.Context, a audit.Actor) (Rotation, error) {
	now := s.now()
	out := Rotation{GeneratedAt: now, Environments: []RotationEnv{}, Overdue: []Overdue{}}
	err := s.st.View(ctx, func(tx store.Tx) error {
		snap, err := s.snapshot(tx, a, false)
		if err != nil {
			return err
		}
		out.compute(snap, now)
		return nil
	})
	return out, err
}

func (out *Rotation) compute(snap snapshot, now time.Time) {
	per := map[string]*RotationEnv{}
	for _, id := range snap.envIDs {
		e := snap.envs[id]
		per[id] = &RotationEnv{EnvironmentID: id, Name: e.Name, OperatorID: e.OperatorID, MaxAge: e.MaxAge}
	}
	for _, dd := range snap.devices {
		re, ok := per[dd.EnvironmentID]
		if dd.State != device.Active || !ok {
			continue
		}
		re.Active++
		out.Active++
		var age time.Duration
		var at time.Time
		if dd.op != nil {
			at = issuedAt(dd.op)
			age = now.Sub(at)
		}
		if dd.op != nil && age < time.Duration(re.MaxAge) {
			re.Compliant++
			out.Compliant++
			continue
		}
		o := Overdue{DeviceID: dd.ID, EnvironmentID: dd.EnvironmentID, IssuedAt: at, Age: Duration(age.Truncate(time.Second)), MaxAge: re.MaxAge}
		if dd.op != nil {
			o.Serial = dd.op.SerialHex
		}
		out.Overdue = append(out.Overdue, o)
	}
	for _, id := range snap.envIDs {
		re := per[id]
		re.Share = share(re.Compliant, re.Active)
		out.Environments = append(out.Environments, *re)
	}
	out.Share = share(out.Compliant, out.Active)
	sort.Slice(out.Overdue, func(i, j int) bool { return out.Overdue[i].Age > out.Overdue[j].Age })
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
	Items         []Expiring `json:"items"`
}

// ExpiringReport lists current, unrevoked operational certificates that end before
// GeneratedAt + Within, grouped by environment and owner (operator).
type ExpiringReport struct {
	GeneratedAt time.Time       `json:"generated_at"`
	Within      Duration        `json:"within"`
	Count       int             `json:"count"`
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
	out := ExpiringReport{GeneratedAt: now, Within: Duration(within), Groups: []ExpiringGroup{}}
	err := s.st.View(ctx, func(tx store.Tx) error {
		snap, err := s.snapshot(tx, a, false)
		if err != nil {
			return err
		}
		out.compute(snap, now)
		return nil
	})
	return out, err
}

func (out *ExpiringReport) compute(snap snapshot, now time.Time) {
	groups := map[string]*ExpiringGroup{}
	end := now.Add(time.Duration(out.Within))
	for _, dd := range snap.devices {
		if dd.op == nil || dd.op.State != ca.Issued || !dd.op.NotAfter.Before(end) {
			continue
		}
		e := snap.envs[dd.EnvironmentID]
		g, ok := groups[dd.EnvironmentID]
		if !ok {
			g = &ExpiringGroup{EnvironmentID: dd.EnvironmentID, Name: e.Name, OperatorID: e.OperatorID}
			groups[dd.EnvironmentID] = g
		}
		g.Items = append(g.Items, Expiring{DeviceID: dd.ID, Serial: dd.op.SerialHex, NotAfter: dd.op.NotAfter,
			Remaining: Duration(dd.op.NotAfter.Sub(now).Truncate(time.Second)), DeviceState: string(dd.State), EnvironmentID: dd.EnvironmentID, OperatorID: e.OperatorID})
		out.Count++
	}
	for _, g := range groups {
		sort.Slice(g.Items, func(i, j int) bool { return g.Items[i].NotAfter.Before(g.Items[j].NotAfter) })
		out.Groups = append(out.Groups, *g)
	}
	sort.Slice(out.Groups, func(i, j int) bool {
		if out.Groups[i].OperatorID != out.Groups[j].OperatorID {
			return out.Groups[i].OperatorID < out.Groups[j].OperatorID
		}
		return out.Groups[i].EnvironmentID < out.Groups[j].EnvironmentID
	})
}

// reportedFacts are the facts a device reported at its newest issuance.
type reportedFacts struct {
	FirmwareDigest   string `json:"firmware_digest"`
	HardwareRevision string `json:"hardware_revision"`
}

func factsOf(raw json.RawMessage) (reportedFacts, bool) {
	var f reportedFacts
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil {
		return f, false
	}
	return f, true
}
