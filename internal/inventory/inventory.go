// Package inventory shows devices with both identity stages, their certificates, build
// record and custody chain, to the parties allowed to see them: the maker, the holder, and
// auditors. Another party's device is reported as not found, not as forbidden, so that its
// existence does not leak.
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
		d, err := tx.Devices().GetDevice(id)
		if err != nil {
			return err
		}
		if ok, err := governance.CanSeeDevice(tx, a, d); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "device %s: not found", id)
		}
		v.Device = d
		if v.Certificates, err = tx.Certificates().ListDeviceCerts(id); err != nil {
			return err
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
		if v.Lineage, err = tx.Evidence().ListEvidence(id); err != nil {
			return err
		}
		v.SupportGrants, err = tx.SupportGrants().ListGrants(store.GrantFilter{DeviceID: id, Limit: 100})
		if v.SupportGrants == nil {
			v.SupportGrants = []grant.Grant{}
		}
		return err
	})
	return v, err
}

// List returns devices the caller may see, filtered and paginated by ID.
func (s *Service) List(ctx context.Context, a audit.Actor, f store.DeviceFilter) ([]device.Device, error) {
	var out []device.Device
	err := s.st.View(ctx, func(tx store.Tx) error {
		auditor, err := governance.IsAuditor(tx, a)
		if err != nil {
			return err
		}
		if !auditor {
			f.VisibleTo = a.PartyID
		}
		out, err = tx.Devices().ListDevices(f)
		return err
	})
	return out, err
}
