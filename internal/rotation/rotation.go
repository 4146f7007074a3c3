// Package rotation is the governed face of CA rotation (docs/rotation.md): rotating an
// issuing CA, rolling a root over, and the certificates a relying party needs to cross from
// one root of a line to another. The signing is internal/authority's; this package decides
// who may do it and records it.
//
// Invariants:
//   - Only a party that owns the duty that creates a CA of that stage may replace it:
//     manufacturing/issue over the manufacturer, operational/issue over the operator,
//     support/approve over the operator (as CreateOwnedHierarchy). The duty is checked before
//     any key is made and again in every transaction that records a step.
//   - Every step commits with its audit event: the successor's ca.create, ca.rotate (with the
//     lots and environments moved) or ca.rollover, and ca.cross-certify per cross-certificate.
//   - Bad input (unknown CA, wrong role, overlap out of range, taken name) changes nothing.
package rotation

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Overlap bounds: how long a replaced CA goes on signing when the request names no overlap,
// and the most a request may ask for.
const (
	DefaultOverlap = time.Hour
	MaxOverlap     = 7 * 24 * time.Hour
)

// Config holds the collaborators.
type Config struct {
	Store     store.Store
	Authority *authority.Authority
}

// Service rotates CAs.
type Service struct{ c Config }

// New returns a Service.
func New(c Config) *Service { return &Service{c: c} }

// Request asks to replace a CA. Overlap is a Go duration ("1h"); "" takes DefaultOverlap and
// "0s" stops the old CA at once (requests under way may then fail).
type Request struct {
	Name    string `json:"name,omitempty"`
	Overlap string `json:"overlap,omitempty"`
}

// Succession is the outcome of a rotation or rollover (authority.Succession).
type Succession = authority.Succession

// Rotate replaces issuing CA id by a successor (authority.Rotate): the lots and environments
// that named it move to the successor, and it signs until the end of the overlap.
func (s *Service) Rotate(ctx context.Context, a audit.Actor, id string, r Request) (Succession, error) {
	return s.replace(ctx, a, id, r, s.c.Authority.Rotate)
}

// Rollover replaces root id by a new root with cross-certificates (authority.Rollover).
func (s *Service) Rollover(ctx context.Context, a audit.Actor, id string, r Request) (Succession, error) {
	return s.replace(ctx, a, id, r, s.c.Authority.Rollover)
}

func (s *Service) replace(ctx context.Context, a audit.Actor, id string, r Request, do func(context.Context, authority.SuccessionRequest, authority.Record) (authority.Succession, error)) (authority.Succession, error) {
	overlap, err := parseOverlap(r.Overlap)
	if err != nil {
		return authority.Succession{}, err
	}
	var c ca.CA
	err = s.c.Store.View(ctx, func(tx store.Tx) (err error) {
		if c, err = tx.CAs().GetCA(id); err != nil {
			return err
		}
		return require(tx, a, c)
	})
	if err != nil {
		return authority.Succession{}, err
	}
	return do(ctx, authority.SuccessionRequest{CAID: id, Name: r.Name, Overlap: overlap}, func(tx store.Tx, action string, step ca.CA, detail map[string]any) error {
		if err := require(tx, a, c); err != nil {
			return err
		}
		stage, _, scope := duty(c)
		_, err := tx.Audit().Append(governance.Event(a, s.c.Authority.Now(), action, stage, scope.String(), "ca:"+step.ID, detail))
		return err
	})
}

func parseOverlap(s string) (time.Duration, error) {
	if s == "" {
		return DefaultOverlap, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxOverlap {
		return 0, failure.New(failure.Invalid, "overlap %q must be a duration from 0s to %s, such as \"1h\"", s, MaxOverlap)
	}
	return d, nil
}

// duty is the stage, duty and scope that own creating a CA like c.
func duty(c ca.CA) (ownership.Stage, ownership.Duty, ownership.Scope) {
	switch ownership.Stage(c.Stage) {
	case ownership.Operational:
		return ownership.Operational, ownership.Issue, ownership.Scope{Kind: ownership.Operator, ID: c.PartyID}
	case ownership.Support:
		return ownership.Support, ownership.Approve, ownership.Scope{Kind: ownership.Operator, ID: c.PartyID}
	}
	return ownership.Manufacturing, ownership.Issue, ownership.Scope{Kind: ownership.Manufacturer, ID: c.PartyID}
}

// require checks that a owns the duty that creates CAs like c.
func require(tx store.Tx, a audit.Actor, c ca.CA) error {
	stage, d, scope := duty(c)
	return governance.Require(tx, a, stage, d, ownership.Chain{scope})
}

// Path is authority.Path: a CA's chain and its root line's cross-certificates. CA
// certificates are public.
func (s *Service) Path(ctx context.Context, id string) ([]*x509.Certificate, error) {
	return s.c.Authority.Path(ctx, id)
}
