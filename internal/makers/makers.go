// Package makers is the registration of makers that do not run Hallmark: an operator (or a
// party acting for one) registers a maker with its trust anchors and intermediates, its
// revocation sources, the keys its signed device manifests verify with, and a per-maker
// onboarding policy; uploads the maker's manifests; and reads what the status watcher found.
// Onboarding of such devices is internal/operational's; docs/external-makers.md describes
// the whole.
//
// Invariants: who may register a maker, change it or upload its manifests is the party that
// owns operational/issue over the maker's operator (the operator itself unless an
// administrator gave that cell to another party, such as an integrator); every change is
// audited in its transaction; a CSV manifest admits no device until another principal of the
// party owning operational/approve over the operator approved that exact upload (its
// SHA-256); a signed manifest must verify with one of the maker's registered keys and be newer
// than the active signed one.
package makers

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/manifest"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Config holds the collaborators.
type Config struct {
	Store store.Store
	Now   func() time.Time
	// Manifests bounds uploads (zero fields take manifest's defaults).
	Manifests manifest.Limits
	// Refresher runs the status watcher on demand (Check); nil: Check is unavailable.
	Refresher Refresher
	// Changed, when set, is called after a registration or an update is stored, so that
	// what caches makers' CAs (the EST listener's issuer set) reads them again.
	Changed func()
}

// Service registers makers.
type Service struct{ c Config }

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{c: c}
}

// changed tells Config.Changed of a stored change (err == nil).
func (s *Service) changed(err error) {
	if err == nil && s.c.Changed != nil {
		s.c.Changed()
	}
}

const stage = ownership.Operational

func operatorChain(id string) ownership.Chain {
	return ownership.Chain{{Kind: ownership.Operator, ID: id}}
}

func (s *Service) event(a audit.Actor, action, operatorID, subject string, detail any) audit.Event {
	return governance.Event(a, s.c.Now(), action, stage, "operator:"+operatorID, subject, detail)
}

// requireOwner checks that operatorID is an operator and that the caller owns
// operational/issue over it: the duty whose holder decides what the operator's onboarding
// trusts.
func requireOwner(tx store.Tx, a audit.Actor, operatorID string) error {
	if err := governance.Require(tx, a, stage, ownership.Issue, operatorChain(operatorID)); err != nil {
		return err
	}
	_, err := governance.RequireKind(tx, operatorID, party.Operator)
	return err
}

// canSee reports whether the caller may read the operator's makers: its own party, an
// auditor, or the party that acts for it.
func canSee(tx store.Tx, a audit.Actor, operatorID string) (bool, error) {
	if ok, err := governance.CanRead(tx, a, operatorID); err != nil || ok {
		return ok, err
	}
	return governance.Require(tx, a, stage, ownership.Issue, operatorChain(operatorID)) == nil, nil
}

// RegisterRequest registers a maker.
type RegisterRequest struct {
	// OperatorID is the operator whose onboarding trusts the maker ("": the caller's party).
	OperatorID string
	Name       string
	// AnchorsPEM holds the maker's root CA certificates; IntermediatesPEM the CAs below
	// them, when devices do not present them.
	AnchorsPEM, IntermediatesPEM string
	// CRLURLs and OCSPURLs replace the sources the device certificates name, when set.
	CRLURLs, OCSPURLs []string
	// ManifestKeysPEM are "PUBLIC KEY" PEM blocks that may sign the maker's manifests.
	ManifestKeysPEM []string
	// BuildRecordKeysPEM are "PUBLIC KEY" PEM blocks the maker signs build records and
	// custody vouchers with (internal/custodyvoucher).
	BuildRecordKeysPEM []string
	Policy             maker.Policy
}

// readCerts reads PEM certificates under the maker limits; "" is none.
func readCerts(s, what string) ([]*x509.Certificate, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return certpem.Parse([]byte(s), certpem.Options{What: what, MaxBytes: 256 << 10, MaxCerts: maker.MaxCerts})
}

// readKeys checks manifest keys; each must be one "PUBLIC KEY" block manifest.ParseKey takes.
func readKeys(pems []string) ([]string, error) {
	out := make([]string, 0, len(pems))
	for i, p := range pems {
		if _, err := manifest.ParseKey([]byte(p)); err != nil {
			return nil, failure.Wrap(failure.Invalid, err, fmt.Sprintf("manifest key %d", i+1))
		}
		out = append(out, strings.TrimSpace(p)+"\n")
	}
	return out, nil
}

// readBuildRecordKeys checks build-record keys: each one "PUBLIC KEY" block buildrecord
// reads.
func readBuildRecordKeys(pems []string) ([]string, error) {
	out := make([]string, 0, len(pems))
	for i, p := range pems {
		if _, err := buildrecord.ParsePublicKeyPEM([]byte(strings.TrimSpace(p) + "\n")); err != nil {
			return nil, failure.Wrap(failure.Invalid, err, fmt.Sprintf("build-record key %d", i+1))
		}
		out = append(out, strings.TrimSpace(p)+"\n")
	}
	return out, nil
}

// BuildRecordKeys parses a maker's build-record keys.
func BuildRecordKeys(m maker.Maker) ([]crypto.PublicKey, error) {
	out := make([]crypto.PublicKey, 0, len(m.BuildRecordKeys))
	for i, p := range m.BuildRecordKeys {
		k, err := buildrecord.ParsePublicKeyPEM([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("maker %s: build-record key %d: %w", m.ID, i+1, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// Register records a maker for an operator. Its anchors must be CA certificates no other
// maker of the operator registered.
func (s *Service) Register(ctx context.Context, a audit.Actor, r RegisterRequest) (maker.Maker, error) {
	if r.OperatorID == "" {
		r.OperatorID = a.PartyID
	}
	if err := party.ValidSlug("maker name", r.Name); err != nil {
		return maker.Maker{}, err
	}
	anchors, err := readCerts(r.AnchorsPEM, "anchors")
	if err != nil {
		return maker.Maker{}, err
	}
	inters, err := readCerts(r.IntermediatesPEM, "intermediates")
	if err != nil {
		return maker.Maker{}, err
	}
	keys, err := readKeys(r.ManifestKeysPEM)
	if err != nil {
		return maker.Maker{}, err
	}
	recordKeys, err := readBuildRecordKeys(r.BuildRecordKeysPEM)
	if err != nil {
		return maker.Maker{}, err
	}
	now := s.c.Now()
	m := maker.Maker{ID: party.NewID("mkr"), OperatorID: r.OperatorID, Name: r.Name, Anchors: anchors, Intermediates: inters,
		CRLURLs: r.CRLURLs, OCSPURLs: r.OCSPURLs, ManifestKeys: keys, BuildRecordKeys: recordKeys, Policy: r.Policy, CreatedBy: a.PrincipalID, CreatedAt: now, UpdatedAt: now}
	if err := m.Validate(); err != nil {
		return maker.Maker{}, err
	}
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		if err := requireOwner(tx, a, m.OperatorID); err != nil {
			return err
		}
		others, err := tx.Makers().ListMakers(m.OperatorID)
		if err != nil {
			return err
		}
		for _, o := range others {
			for _, c := range m.Anchors {
				if o.AnchorOf(c) {
					return failure.New(failure.Conflict, "anchor %s is already registered for maker %s (%s)", c.Subject, o.Name, o.ID)
				}
			}
		}
		if err := tx.Makers().CreateMaker(m); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "operator %s already has a maker named %s", m.OperatorID, m.Name)
			}
			return err
		}
		_, err = tx.Audit().Append(s.event(a, "maker.register", m.OperatorID, "maker:"+m.ID, describe(m)))
		return err
	})
	s.changed(err)
	return m, err
}

// describe is what an audit event records of a maker's settings.
func describe(m maker.Maker) map[string]any {
	subjects := func(cs []*x509.Certificate) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Subject.String())
		}
		return out
	}
	return map[string]any{"name": m.Name, "anchors": subjects(m.Anchors), "intermediates": subjects(m.Intermediates),
		"crl_urls": m.CRLURLs, "ocsp_urls": m.OCSPURLs, "manifest_keys": len(m.ManifestKeys), "build_record_keys": len(m.BuildRecordKeys), "policy": m.Policy}
}

// Get returns a maker the caller may see.
func (s *Service) Get(ctx context.Context, a audit.Actor, id string) (maker.Maker, error) {
	var m maker.Maker
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if m, err = tx.Makers().GetMaker(id); err != nil {
			return err
		}
		if ok, err := canSee(tx, a, m.OperatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "maker %s: not found", id)
		}
		return nil
	})
	return m, err
}

// List returns the makers of an operator ("": the caller's party; auditors may name any).
func (s *Service) List(ctx context.Context, a audit.Actor, operatorID string) ([]maker.Maker, error) {
	if operatorID == "" {
		operatorID = a.PartyID
	}
	var out []maker.Maker
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		if ok, err := canSee(tx, a, operatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.Denied, "party %s may not read the makers of operator %s", a.PartyID, operatorID)
		}
		var err error
		out, err = tx.Makers().ListMakers(operatorID)
		return err
	})
	return out, err
}

// UpdateRequest changes a maker; nil fields stay as they are.
type UpdateRequest struct {
	IntermediatesPEM  *string
	CRLURLs, OCSPURLs *[]string
	ManifestKeysPEM   *[]string
	// BuildRecordKeysPEM replaces the build-record keys (RegisterRequest).
	BuildRecordKeysPEM *[]string
	Policy             *maker.Policy
}

// Update changes a maker's intermediates, sources, manifest keys or policy; the audit event
// records the settings before and after. Anchors are not changed: register a new maker.
func (s *Service) Update(ctx context.Context, a audit.Actor, id string, r UpdateRequest) (maker.Maker, error) {
	var next maker.Maker
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Makers().GetMaker(id)
		if err != nil {
			return err
		}
		if ok, err := canSee(tx, a, cur.OperatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "maker %s: not found", id)
		}
		if err := requireOwner(tx, a, cur.OperatorID); err != nil {
			return err
		}
		next = cur
		if r.IntermediatesPEM != nil {
			if next.Intermediates, err = readCerts(*r.IntermediatesPEM, "intermediates"); err != nil {
				return err
			}
		}
		if r.CRLURLs != nil {
			next.CRLURLs = slices.Clone(*r.CRLURLs)
		}
		if r.OCSPURLs != nil {
			next.OCSPURLs = slices.Clone(*r.OCSPURLs)
		}
		if r.ManifestKeysPEM != nil {
			if next.ManifestKeys, err = readKeys(*r.ManifestKeysPEM); err != nil {
				return err
			}
		}
		if r.BuildRecordKeysPEM != nil {
			if next.BuildRecordKeys, err = readBuildRecordKeys(*r.BuildRecordKeysPEM); err != nil {
				return err
			}
		}
		if r.Policy != nil {
			next.Policy = *r.Policy
		}
		if err := next.Validate(); err != nil {
			return err
		}
		next.UpdatedAt = s.c.Now()
		if err := tx.Makers().UpdateMaker(next); err != nil {
			return err
		}
		_, err = tx.Audit().Append(s.event(a, "maker.update", cur.OperatorID, "maker:"+id, map[string]any{"before": describe(cur), "after": describe(next)}))
		return err
	})
	s.changed(err)
	return next, err
}

// Origin returns the origin of an external device with its maker, for a caller that may see
// the device (the caller checks).
func Origin(tx store.Tx, deviceID string) (maker.Origin, maker.Maker, error) {
	o, err := tx.Makers().OriginOf(deviceID)
	if err != nil {
		return o, maker.Maker{}, err
	}
	m, err := tx.Makers().GetMaker(o.MakerID)
	return o, m, err
}

func hexSum(b [32]byte) string { return hex.EncodeToString(b[:]) }
