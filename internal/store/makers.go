package store

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/maker"
)

// Makers stores makers that do not run Hallmark, their manifests, and the origin of each of
// their devices (internal/maker).
type Makers interface {
	// CreateMaker stores a registration; ErrConflict when the operator has a maker of that
	// name.
	CreateMaker(m maker.Maker) error
	GetMaker(id string) (maker.Maker, error)
	// ListMakers returns the operator's makers by name ("" lists every operator's).
	ListMakers(operatorID string) ([]maker.Maker, error)
	// UpdateMaker writes m's sources, manifest keys, build-record keys, policy, intermediates
	// and UpdatedAt.
	UpdateMaker(m maker.Maker) error

	// AddManifest stores an upload (its state as given).
	AddManifest(m maker.Manifest) error
	// GetManifest returns an upload with its content.
	GetManifest(id string) (maker.Manifest, error)
	// ListManifests returns a maker's uploads, newest first, without content.
	ListManifests(makerID string) ([]maker.Manifest, error)
	// ActiveManifest returns the maker's active manifest with its content; ErrNotFound when
	// it has none.
	ActiveManifest(makerID string) (maker.Manifest, error)
	// SetManifestState moves an upload to state: activating one supersedes the maker's
	// active manifest in the same statement set. ErrConflict unless the upload is pending
	// (or, for ManifestActive, pending); approvalID is recorded when not "".
	SetManifestState(id string, state maker.ManifestState, approvalID string, at time.Time) error

	// CreateOrigin records an external device's origin; ErrConflict when the maker already
	// has a device of that serial.
	CreateOrigin(o maker.Origin) error
	// OriginOf returns a device's origin; ErrNotFound for a device made by this deployment.
	OriginOf(deviceID string) (maker.Origin, error)
	// OriginBySerial returns the maker's device of that serial.
	OriginBySerial(makerID, serial string) (maker.Origin, error)
	// ListOrigins returns the maker's devices ("" every maker's) whose factory state is
	// good, by device ID after after, at most limit (1-10000).
	ListOrigins(makerID, after string, limit int) ([]maker.Origin, error)
	// RevokeOrigin records the maker's revocation of a device's factory certificate;
	// ErrConflict when it is already revoked.
	RevokeOrigin(deviceID string, at time.Time, reason int, ev maker.Evidence) error
	// ReplaceOriginFactory makes o's factory certificate (Factory, Issuer, FactorySerial,
	// SPKISHA256) the current one of device o.DeviceID, whose origin must still hold the
	// certificate old (its DER, byte for byte: a serial alone does not name a certificate of
	// a maker that reuses one), and sets its factory state good (the maker's revocation of
	// the old certificate is not the new one's). Nothing else of the origin changes.
	// ErrConflict when the origin holds another certificate or there is none.
	ReplaceOriginFactory(o maker.Origin, old []byte) error

	// PutSourceStates replaces what is kept of the maker's revocation sources with states
	// (none: forget them). ErrNotFound when there is no such maker. They are observations,
	// not identity state: the write needs no audit event in its transaction.
	PutSourceStates(makerID string, states []maker.SourceState) error
	// ListSourceStates returns the kept source states of the operator's makers ("" every
	// operator's), by maker, kind and URL.
	ListSourceStates(operatorID string) ([]maker.SourceState, error)
}
