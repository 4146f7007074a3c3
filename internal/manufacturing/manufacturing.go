// Package manufacturing is the manufacturing stage: manufacturing CAs, trust anchors of other
// makers, models, lots, factory identities (IDevID certificate plus signed build record).
//
// Every operation is authorised against the ownership matrix: the manufacturer owns
// manufacturing issue and revoke over itself, its models and lots inherit, and a lot's issue
// cell may be delegated to a contract manufacturer. Every change commits with its audit event.
package manufacturing

import (
	"context"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/oid"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Config holds the collaborators and lifetimes.
type Config struct {
	Store     store.Store
	Authority *authority.Authority
	Keys      keys.Provider
	// RootLife and IssuingLife bound new manufacturing CAs; factory certificates live as long
	// as their issuing CA (802.1AR IDevIDs are long-lived).
	RootLife, IssuingLife time.Duration
	// StatusURLs, when set, returns the OCSP and CRL URLs a factory certificate of CA c for
	// device deviceID carries (nil: none).
	StatusURLs func(c ca.CA, deviceID string) (ocsp, crl []string)
	// MASAURL, when set, returns what every factory certificate carries as id-pe-masa-url
	// (RFC 8995 section 2.3.2): the MASA of this deployment that registrars ask for vouchers
	// ("": none). It is read at each issuance: a dev server learns its URL once it listens.
	MASAURL func() string
}

// Service is the manufacturing stage.
type Service struct {
	c      Config
	keysMu sync.Mutex // serialises creation of build-record signing keys
	// brSigners caches build-record signers by key ID (string -> crypto.Signer). A key ID
	// names one key for ever, so an entry never goes stale on any replica; which key is
	// current is read from the store on every issuance. A rotation drops the old key's entry.
	brSigners sync.Map
	// chunk and selectPage, when not 0, replace revokeChunkSize and revokePageSize (tests
	// set them small to cross chunk and page boundaries with a few devices).
	chunk, selectPage int
}

// New returns a Service.
func New(c Config) *Service {
	if c.RootLife == 0 {
		c.RootLife = 30 * 365 * 24 * time.Hour
	}
	if c.IssuingLife == 0 {
		c.IssuingLife = 20 * 365 * 24 * time.Hour
	}
	return &Service{c: c}
}

func (s *Service) now() time.Time { return s.c.Authority.Now() }

func (s *Service) chunkSize() int {
	if s.chunk > 0 {
		return s.chunk
	}
	return revokeChunkSize
}

func (s *Service) pageSize() int {
	if s.selectPage > 0 {
		return s.selectPage
	}
	return revokePageSize
}

const stage = ownership.Manufacturing

func (s *Service) event(a audit.Actor, action, scope, subject string, detail any) audit.Event {
	return governance.Event(a, s.now(), action, stage, scope, subject, detail)
}

// requireManufacturer loads a party and checks it is a manufacturer.
func requireManufacturer(tx store.Tx, id string) (party.Party, error) {
	return governance.RequireKind(tx, id, party.Manufacturer)
}

// CreateHierarchyRequest asks for a manufacturing root and issuing CA.
type CreateHierarchyRequest struct {
	ManufacturerID string         `json:"manufacturer_id"`
	Name           string         `json:"name"`
	Algorithm      keys.Algorithm `json:"algorithm,omitempty"`
	// CRLPartitions is the issuing CA's CRL partition count (1 to 1024, fixed for its life);
	// 0 takes the default, 16. See docs/revocation-status.md.
	CRLPartitions int `json:"crl_partitions,omitempty"`
	// FactoryValidity is what notAfter the issuing CA gives factory certificates, fixed for
	// its life: ca.FactoryValidityUndefined (802.1AR's 99991231235959Z, the default when
	// empty) or ca.FactoryValidityIssuer (the issuing CA's own notAfter).
	FactoryValidity string `json:"factory_validity,omitempty"`
}

// CreateHierarchy creates a manufacturing root CA and an issuing CA under it.
func (s *Service) CreateHierarchy(ctx context.Context, a audit.Actor, r CreateHierarchyRequest) (root, issuing ca.CA, err error) {
	fv, err := checkFactoryValidity(r.FactoryValidity)
	if err != nil {
		return root, issuing, err
	}
	return s.c.Authority.CreateOwnedHierarchy(ctx, a, authority.OwnedHierarchy{
		PartyID: r.ManufacturerID, Kind: party.Manufacturer, Stage: stage, Scope: ownership.Scope{Kind: ownership.Manufacturer, ID: r.ManufacturerID},
		Name: r.Name, Algorithm: r.Algorithm, RootLife: s.c.RootLife, IssuingLife: s.c.IssuingLife, CRLPartitions: r.CRLPartitions,
		FactoryValidity: fv,
	})
}

// ImportCARequest brings an existing manufacturing CA under Hallmark. KeyURI names its key in
// the server's HSM (a key ceremony, docs/ceremony.md); KeyPEM sends the private key itself,
// which only a server that keeps keys in files accepts.
type ImportCARequest struct {
	ManufacturerID string `json:"manufacturer_id"`
	Name           string `json:"name"`
	CertificatePEM string `json:"certificate_pem"`
	KeyURI         string `json:"key_uri,omitempty"`
	KeyPEM         string `json:"key_pem,omitempty"`
	Passphrase     string `json:"passphrase,omitempty"`
	// CRLPartitions is as in CreateHierarchyRequest, for an imported issuing CA.
	CRLPartitions int `json:"crl_partitions,omitempty"`
}

// ImportCA imports a manufacturing CA certificate and key.
func (s *Service) ImportCA(ctx context.Context, a audit.Actor, r ImportCARequest) (ca.CA, error) {
	if err := party.ValidSlug("CA name", r.Name); err != nil {
		return ca.CA{}, err
	}
	if err := s.c.Store.View(ctx, func(tx store.Tx) error {
		if _, err := requireManufacturer(tx, r.ManufacturerID); err != nil {
			return err
		}
		return governance.Require(tx, a, stage, ownership.Issue, governance.ManufacturerChain(r.ManufacturerID))
	}); err != nil {
		return ca.CA{}, err
	}
	return s.c.Authority.ImportCA(ctx, authority.ImportRequest{PartyID: r.ManufacturerID, Stage: string(stage), Name: r.Name,
		CertPEM: []byte(r.CertificatePEM), KeyURI: r.KeyURI, KeyPEM: []byte(r.KeyPEM), Passphrase: []byte(r.Passphrase), CRLPartitions: r.CRLPartitions},
		func(tx store.Tx, c ca.CA) error {
			detail := map[string]any{"role": c.Role, "name": c.Name, "subject": c.Cert.Subject.String(), "crl_partitions": c.CRLPartitions,
				"certificate_sha256": fmt.Sprintf("%x", sha256.Sum256(c.CertDER))}
			if r.KeyURI != "" {
				detail["key_uri"] = c.KeyID // canonical: token, CKA_ID and label
			} else {
				detail["private_key_sent_over_api"] = true
			}
			_, err := tx.Audit().Append(s.event(a, "ca.import", "manufacturer:"+r.ManufacturerID, "ca:"+c.ID, detail))
			return err
		})
}

func requireAnchorOwner(tx store.Tx, a audit.Actor) error {
	p, err := governance.ActorParty(tx, a)
	if err != nil {
		return err
	}
	if p.Kind != party.Operator {
		return failure.New(failure.Denied, "party %s is a %s: trust anchors are registered by the operators whose onboarding trusts them", p.ID, p.Kind)
	}
	return governance.Require(tx, a, ownership.Operational, ownership.Issue, ownership.Chain{{Kind: ownership.Operator, ID: p.ID}})
}

// RegisterAnchorRequest registers another maker's trust anchor (certificate only).
type RegisterAnchorRequest struct {
	Name           string `json:"name"`
	CertificatePEM string `json:"certificate_pem"`
}

// RegisterAnchor records an external maker's CA certificate for the caller's party, so that
// devices of a maker that does not run Hallmark can be verified at onboarding. Anchors are
// what an operator's onboarding trusts, so registering one is the operator's decision: the
// caller's party must be an operator that owns operational/issue over itself.
func (s *Service) RegisterAnchor(ctx context.Context, a audit.Actor, r RegisterAnchorRequest) (ca.CA, error) {
	if err := party.ValidSlug("anchor name", r.Name); err != nil {
		return ca.CA{}, err
	}
	if err := s.c.Store.View(ctx, func(tx store.Tx) error { return requireAnchorOwner(tx, a) }); err != nil {
		return ca.CA{}, err
	}
	return s.c.Authority.RegisterAnchor(ctx, a.PartyID, r.Name, []byte(r.CertificatePEM), func(tx store.Tx, c ca.CA) error {
		if err := requireAnchorOwner(tx, a); err != nil { // again, in the transaction that stores it
			return err
		}
		_, err := tx.Audit().Append(s.event(a, "anchor.register", "party:"+a.PartyID, "ca:"+c.ID, map[string]any{"name": c.Name, "subject": c.Cert.Subject.String()}))
		return err
	})
}

// ListCAs lists the CAs a caller may see: its party's own, or all for auditors.
func (s *Service) ListCAs(ctx context.Context, a audit.Actor, partyID string) ([]ca.CA, error) {
	var out []ca.CA
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		of := partyID // the parameter stays as asked: a read may run again
		if of == "" {
			if ok, err := governance.IsAuditor(tx, a); err != nil {
				return err
			} else if !ok {
				of = a.PartyID
			}
		} else if ok, err := governance.CanRead(tx, a, of); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.Denied, "party %s may not list the CAs of party %s", a.PartyID, of)
		}
		var err error
		out, err = tx.CAs().ListCAs(of)
		return err
	})
	return out, err
}

// GetCA returns one CA; CA certificates are public.
func (s *Service) GetCA(ctx context.Context, id string) (ca.CA, error) {
	var out ca.CA
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.CAs().GetCA(id); return err })
	return out, err
}

// CreateModelRequest defines a model.
type CreateModelRequest struct {
	ManufacturerID string `json:"manufacturer_id"`
	Name           string `json:"name"`
	// HardwareType is the hwType OID for hardwareModuleName (RFC 4108); empty allocates one
	// under Hallmark's arc.
	HardwareType string `json:"hardware_type,omitempty"`
}

// CreateModel defines a model of a manufacturer.
func (s *Service) CreateModel(ctx context.Context, a audit.Actor, r CreateModelRequest) (device.Model, error) {
	if err := party.ValidSlug("model name", r.Name); err != nil {
		return device.Model{}, err
	}
	if r.HardwareType != "" {
		if _, err := parseOID(r.HardwareType); err != nil {
			return device.Model{}, err
		}
	}
	m := device.Model{ID: party.NewID("mdl"), ManufacturerID: r.ManufacturerID, Name: r.Name, HardwareType: r.HardwareType, CreatedAt: s.now()}
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		// Numbered afresh in each run: Update may run this function again (a retry after another
		// model took the number, group commit's re-run), and an earlier run's number is stale.
		m.HardwareType = r.HardwareType
		if _, err := requireManufacturer(tx, r.ManufacturerID); err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, governance.ManufacturerChain(r.ManufacturerID)); err != nil {
			return err
		}
		if m.HardwareType == "" {
			all, err := tx.Catalog().ListModels("")
			if err != nil {
				return err
			}
			m.HardwareType = oidString(append(append(asn1.ObjectIdentifier{}, oid.HardwareTypeArc...), len(all)+1))
		}
		if err := tx.Catalog().CreateModel(m); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "manufacturer %s already has a model named %q", r.ManufacturerID, r.Name)
			}
			return err
		}
		_, err := tx.Audit().Append(s.event(a, "model.create", "manufacturer:"+r.ManufacturerID, "model:"+m.ID, m))
		return err
	})
	return m, err
}

// CreateLotRequest defines a lot.
type CreateLotRequest struct {
	ModelID     string `json:"model_id"`
	Name        string `json:"name"`
	Line        string `json:"line"`
	IssuingCAID string `json:"issuing_ca_id"`
	// DelegateTo, when set, is a contract manufacturer that owns issuance for this lot.
	DelegateTo string `json:"delegate_to,omitempty"`
}

// CreateLot defines a lot and optionally delegates its issuance to a contract manufacturer.
func (s *Service) CreateLot(ctx context.Context, a audit.Actor, r CreateLotRequest) (device.Lot, error) {
	if err := party.ValidSlug("lot name", r.Name); err != nil {
		return device.Lot{}, err
	}
	if r.Line == "" {
		r.Line = "default"
	}
	if err := party.ValidSlug("line", r.Line); err != nil {
		return device.Lot{}, err
	}
	now := s.now()
	var l device.Lot
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		m, err := tx.Catalog().GetModel(r.ModelID)
		if err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, governance.ModelChain(m)); err != nil {
			return err
		}
		issuer, err := tx.CAs().GetCA(r.IssuingCAID)
		if err != nil {
			return err
		}
		if issuer.PartyID != m.ManufacturerID || issuer.Stage != string(stage) || issuer.KeyID == "" || issuer.Role != ca.Issuing {
			return failure.New(failure.Invalid, "CA %s is not a manufacturing issuing CA of manufacturer %s", issuer.ID, m.ManufacturerID)
		}
		if issuer.SuccessorID != "" {
			return failure.New(failure.Invalid, "CA %s was succeeded by %s: name the successor", issuer.ID, issuer.SuccessorID)
		}
		l = device.Lot{ID: party.NewID("lot"), ManufacturerID: m.ManufacturerID, ModelID: m.ID, Name: r.Name, Line: r.Line, IssuingCAID: issuer.ID, CreatedAt: now}
		if err := tx.Catalog().CreateLot(l); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "manufacturer %s already has a lot named %q", m.ManufacturerID, r.Name)
			}
			return err
		}
		detail := map[string]any{"lot": l}
		if r.DelegateTo != "" {
			cm, err := tx.Parties().GetParty(r.DelegateTo)
			if err != nil {
				return err
			}
			if cm.Kind != party.ContractManufacturer {
				return failure.New(failure.Invalid, "lot issuance can be delegated to a contract manufacturer; %s is a %s", cm.ID, cm.Kind)
			}
			c := ownership.Cell{Stage: stage, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Lot, ID: l.ID}, PartyID: cm.ID}
			if err := tx.Ownership().SetCell(c, a.PrincipalID, now); err != nil {
				return err
			}
			detail["delegated_to"] = cm.ID
		}
		_, err = tx.Audit().Append(s.event(a, "lot.create", "model:"+m.ID, "lot:"+l.ID, detail))
		return err
	})
	return l, err
}

// ListModels lists the models of a manufacturer ("" for every manufacturer) that the caller
// may see (governance.CatalogSight): the catalog belongs to the parties with a cell over it and
// to those holding its devices, not to every authenticated party.
func (s *Service) ListModels(ctx context.Context, a audit.Actor, manufacturerID string) ([]device.Model, error) {
	out := []device.Model{}
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out = []device.Model{}
		sight, err := governance.SightOf(tx, a, manufacturerID)
		if err != nil {
			return err
		}
		all, err := tx.Catalog().ListModels(manufacturerID)
		for _, m := range all {
			if sight.Model(m) {
				out = append(out, m)
			}
		}
		return err
	})
	return out, err
}

// ListLots lists the lots of a manufacturer ("" for every manufacturer) that the caller may
// see; see ListModels.
func (s *Service) ListLots(ctx context.Context, a audit.Actor, manufacturerID string) ([]device.Lot, error) {
	out := []device.Lot{}
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out = []device.Lot{}
		sight, err := governance.SightOf(tx, a, manufacturerID)
		if err != nil {
			return err
		}
		all, err := tx.Catalog().ListLots(manufacturerID)
		for _, l := range all {
			if sight.Lot(l) {
				out = append(out, l)
			}
		}
		return err
	})
	return out, err
}

// GetLot returns one lot the caller may see; another party's lot is not found.
func (s *Service) GetLot(ctx context.Context, a audit.Actor, id string) (device.Lot, error) {
	var out device.Lot
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		l, err := tx.Catalog().GetLot(id)
		if err != nil {
			return err
		}
		sight, err := governance.SightOf(tx, a, l.ManufacturerID)
		if err != nil {
			return err
		}
		if !sight.Lot(l) {
			return failure.New(failure.NotFound, "lot %s: not found", id)
		}
		out = l
		return nil
	})
	return out, err
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, failure.New(failure.Invalid, "hardware type %q is not a dotted OID", s)
	}
	o := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n >= 1<<28 {
			return nil, failure.New(failure.Invalid, "hardware type %q: arcs must be integers in [0, 2^28)", s)
		}
		o[i] = n
	}
	if _, err := asn1.Marshal(o); err != nil {
		return nil, failure.New(failure.Invalid, "hardware type %q is not a valid OID", s)
	}
	return o, nil
}

func oidString(o asn1.ObjectIdentifier) string { return o.String() }
