// Package inventory shows devices with both identity stages, their certificates, build
// record and custody chain, to the parties allowed to see them: the maker, the holder, and
// auditors. Another party's device is reported as not found, not as forbidden, so that its
// existence does not leak. Of a device's operational stage (its environment, operational
// certificates, lineage and support grants) a party sees only what belongs to environments it
// operates (governance.OperationalSight): a maker keeps the manufacturing view of the devices
// it made once they leave it.
package inventory

import (
	"context"
	"encoding/json"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Service reads inventory.
type Service struct{ st store.Store }

// New returns a Service.
func New(st store.Store) *Service { return &Service{st: st} }

// DeviceView is one device with everything Hallmark knows of it.
type DeviceView struct {
	device.Device
	Certificates []ca.Cert            `json:"certificates"`
	BuildRecord  json.RawMessage      `json:"build_record,omitempty"`
	Custody      []device.CustodyLink `json:"custody"`
	// Lineage is what each operational certificate was issued on.
	Lineage []environment.Evidence `json:"lineage"`
	// FactoryLineage is the device's factory identities, oldest first (lineage.go).
	FactoryLineage []FactoryLink `json:"factory_lineage"`
	// SupportGrants are the support grants that reach or reached the device (named, or by lot).
	SupportGrants []grant.Grant `json:"support_grants"`
	// Origin and Maker are set for a device of a maker that does not run Hallmark: where it
	// comes from, and the registered maker.
	Origin *maker.Origin `json:"-"`
	Maker  *maker.Maker  `json:"-"`
}

// Get returns a device the caller may see.
func (s *Service) Get(ctx context.Context, a audit.Actor, id string) (DeviceView, error) {
	var v DeviceView
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		v = DeviceView{}
		d, err := tx.Devices().GetDevice(id)
		if err != nil {
			return err
		}
		if ok, err := governance.CanSeeDevice(tx, a, d); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "device %s: not found", id)
		}
		sight, err := governance.OperationalSightOf(tx, a)
		if err != nil {
			return err
		}
		if v.Device, err = redact(sight, d); err != nil {
			return err
		}
		certs, err := tx.Certificates().ListDeviceCerts(id)
		if err != nil {
			return err
		}
		v.Certificates, v.Lineage = []ca.Cert{}, []environment.Evidence{}
		v.FactoryLineage = factoryLineage(certs, d.FactoryCert)
		for _, c := range certs {
			if ok, err := sight.Certificate(c); err != nil {
				return err
			} else if ok {
				v.Certificates = append(v.Certificates, c)
			}
		}
		if br, err := tx.BuildRecords().LatestBuildRecord(id); err == nil {
			v.BuildRecord = br.Envelope
		} else if !failure.Is(err, failure.NotFound) {
			return err
		}
		if d.External() {
			o, m, err := makers.Origin(tx, id)
			if err != nil {
				return err
			}
			v.Origin, v.Maker = &o, &m
		}
		if v.Custody, err = tx.Custody().CustodyChain(id); err != nil {
			return err
		}
		evs, err := tx.Evidence().ListEvidence(id)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if ok, err := sight.Environment(e.EnvironmentID); err != nil {
				return err
			} else if ok {
				v.Lineage = append(v.Lineage, e)
			}
		}
		grants, err := tx.SupportGrants().ListGrants(store.GrantFilter{DeviceID: id, Limit: 100})
		v.SupportGrants = []grant.Grant{}
		for _, g := range grants {
			if sight.Grant(g) {
				v.SupportGrants = append(v.SupportGrants, g)
			}
		}
		return err
	})
	return v, err
}

// DeviceFilter selects what List returns; zero fields match everything. It is the store's
// filter, named here so that a caller of the service (the API) need not import the store.
type DeviceFilter = store.DeviceFilter

// redact clears the device's environment and operational certificate unless the sight shows
// its environment's records.
func redact(sight *governance.OperationalSight, d device.Device) (device.Device, error) {
	ok, err := sight.Environment(d.EnvironmentID)
	if err != nil || !ok {
		d.EnvironmentID, d.OperationalCert = "", ""
	}
	return d, err
}

// List returns devices the caller may see, filtered and paginated by ID, each with its
// environment and operational certificate only when the caller operates that environment.
// The filters on the operational stage follow the same rule: a party filters by environment
// only by one it operates, and by operational certificate expiry only among the devices it
// holds; otherwise nothing matches.
func (s *Service) List(ctx context.Context, a audit.Actor, f store.DeviceFilter) ([]device.Device, error) {
	var out []device.Device
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		f := f
		out = nil
		sight, err := governance.OperationalSightOf(tx, a)
		if err != nil {
			return err
		}
		if !sight.All() {
			f.VisibleTo = a.PartyID
			if ok, err := sight.Environment(f.EnvironmentID); err != nil || f.EnvironmentID != "" && !ok {
				return err
			}
			if !f.ExpiringBefore.IsZero() {
				if f.CustodianID != "" && f.CustodianID != a.PartyID {
					return nil
				}
				f.CustodianID = a.PartyID
			}
		}
		ds, err := tx.Devices().ListDevices(f)
		if err != nil {
			return err
		}
		for _, d := range ds {
			d, err := redact(sight, d)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}
