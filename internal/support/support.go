// Package support is the support stage: an operator's support CAs, and support grants — a
// vendor engineer's time-bound access to named devices, or to one lot's devices within one
// environment. A support-vendor or manufacturer principal asks (support/issue over its own
// scope); the operator approves through an approval (support/approve over the environment);
// Hallmark then issues a support certificate from the operator's support issuing CA to the key
// the engineer holds, valid exactly for the approved window and naming the grant's scope. The
// grant is checked by gateways with Check; it can be revoked early and expires by itself.
//
// Invariants: a support certificate is never the device's credential; it is issued only after
// its approval, which it consumes in the same transaction; its validity is the approved window,
// never longer than the environment allows; a grant reaches only devices of its environment
// that the operator still holds.
package support

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Config holds the collaborators.
type Config struct {
	Store     store.Store
	Authority *authority.Authority
	// RootLife and IssuingLife bound new support CAs.
	RootLife, IssuingLife time.Duration
	// StatusURLs returns the OCSP and CRL URLs a certificate of CA c carries (deviceID ""
	// for a support certificate: it names the CA's full CRL).
	StatusURLs func(c ca.CA, deviceID string) (ocsp, crl []string)
}

// Service is the support stage.
type Service struct{ c Config }

// New returns a Service.
func New(c Config) *Service {
	if c.RootLife == 0 {
		c.RootLife = 20 * 365 * 24 * time.Hour
	}
	if c.IssuingLife == 0 {
		c.IssuingLife = 10 * 365 * 24 * time.Hour
	}
	return &Service{c: c}
}

const stage = ownership.Support

func (s *Service) now() time.Time { return s.c.Authority.Now() }

func envChain(e environment.Environment) ownership.Chain {
	return ownership.Chain{{Kind: ownership.Environment, ID: e.ID}, {Kind: ownership.Operator, ID: e.OperatorID}}
}

// requesterChain is the scope a party asks for support access over: a support vendor's own
// vendor scope, or a manufacturer's own manufacturer scope.
func requesterChain(p party.Party) (ownership.Chain, error) {
	switch p.Kind {
	case party.SupportVendor:
		return ownership.Chain{{Kind: ownership.Vendor, ID: p.ID}}, nil
	case party.Manufacturer:
		return ownership.Chain{{Kind: ownership.Manufacturer, ID: p.ID}}, nil
	}
	return nil, failure.New(failure.Denied, "party %s is a %s: only support vendors and manufacturers ask for support access", p.ID, p.Kind)
}

// CreateHierarchyRequest asks for an operator's support root and issuing CA.
type CreateHierarchyRequest struct {
	OperatorID string         `json:"operator_id"`
	Name       string         `json:"name"`
	Algorithm  keys.Algorithm `json:"algorithm,omitempty"`
}

// CreateHierarchy creates an operator's support CAs; the caller's party must own support/approve
// over the operator (the operator decides who gets support access, so it runs the CA).
func (s *Service) CreateHierarchy(ctx context.Context, a audit.Actor, r CreateHierarchyRequest) (root, issuing ca.CA, err error) {
	return s.c.Authority.CreateOwnedHierarchy(ctx, a, authority.OwnedHierarchy{
		PartyID: r.OperatorID, Kind: party.Operator, Stage: stage, Duty: ownership.Approve, Scope: ownership.Scope{Kind: ownership.Operator, ID: r.OperatorID},
		Name: r.Name, Algorithm: r.Algorithm, RootLife: s.c.RootLife, IssuingLife: s.c.IssuingLife,
	})
}

// supportCA returns the operator's newest support issuing CA.
func supportCA(tx store.Tx, operatorID string) (ca.CA, error) {
	cas, err := tx.CAs().ListCAs(operatorID)
	if err != nil {
		return ca.CA{}, err
	}
	var best ca.CA
	for _, c := range cas {
		if c.Stage == string(stage) && c.Role == ca.Issuing && c.KeyID != "" && (best.ID == "" || c.CreatedAt.After(best.CreatedAt)) {
			best = c
		}
	}
	if best.ID == "" {
		return best, failure.New(failure.Invalid, "operator %s has no support issuing CA; it creates one with `hallmark support create-hierarchy`", operatorID)
	}
	return best, nil
}

// Request asks for a support grant.
type Request struct {
	EnvironmentID string   `json:"environment_id"`
	Devices       []string `json:"devices,omitempty"`
	LotID         string   `json:"lot_id,omitempty"`
	Reason        string   `json:"reason"`
	// NotBefore defaults to now; NotAfter is required. The window is at most the
	// environment's support_max_window.
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after"`
	// CSR is the engineer's PKCS#10 request (PEM): the key stays with the engineer.
	CSR string `json:"csr"`
	// Engineer names who holds the key (default: the requesting principal's name).
	Engineer string `json:"engineer,omitempty"`
}

// View is a grant with its status as of now and, once issued, its certificate.
type View struct {
	grant.Grant
	Status         string            `json:"status"`
	Approval       *approval.Request `json:"approval,omitempty"`
	CertificatePEM string            `json:"certificate,omitempty"`
	ChainPEM       string            `json:"chain,omitempty"`
}

// RequestGrant validates a request and files it with its approval request; nothing is issued
// until the operator approves.
func (s *Service) RequestGrant(ctx context.Context, a audit.Actor, r Request) (View, error) {
	var v View
	if _, err := csr.ParseText(r.CSR); err != nil {
		return v, err
	}
	if err := grant.CheckScope(r.LotID, r.Devices); err != nil {
		return v, err
	}
	now := s.now()
	if r.NotBefore.IsZero() {
		r.NotBefore = now
	}
	r.NotBefore, r.NotAfter = r.NotBefore.UTC().Truncate(time.Second), r.NotAfter.UTC().Truncate(time.Second)
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		p, err := governance.ActorParty(tx, a)
		if err != nil {
			return err
		}
		chain, err := requesterChain(p)
		if err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, chain); err != nil {
			return err
		}
		engineer := r.Engineer
		if engineer == "" {
			pr, err := tx.Parties().GetPrincipal(a.PrincipalID)
			if err != nil {
				return err
			}
			engineer = pr.Name
		}
		if err := party.ValidSlug("engineer", engineer); err != nil {
			return err
		}
		env, err := tx.Environments().GetEnvironment(r.EnvironmentID)
		if err != nil {
			if failure.Is(err, failure.NotFound) {
				return failure.New(failure.NotFound, "environment %s not found", r.EnvironmentID)
			}
			return err
		}
		if err := grant.CheckWindow(r.NotBefore, r.NotAfter, now, time.Duration(env.SupportMaxWindow)); err != nil {
			return err
		}
		if err := s.checkDevices(tx, p, env, r); err != nil {
			return err
		}
		if _, err := supportCA(tx, env.OperatorID); err != nil {
			return err
		}
		g := grant.Grant{ID: party.NewID("sup"), RequesterParty: a.PartyID, RequesterPrincipal: a.PrincipalID, Engineer: engineer,
			EnvironmentID: env.ID, OperatorID: env.OperatorID, LotID: r.LotID, Devices: r.Devices, Reason: r.Reason,
			NotBefore: r.NotBefore, NotAfter: r.NotAfter, State: grant.Requested, CSR: r.CSR, CreatedAt: now}
		until := g.NotAfter
		q, err := governance.RequestApproval(tx, a, now, approval.SupportGrant, envChain(env), "grant:"+g.ID, r.Reason, &until,
			map[string]any{"grant": g.ID, "engineer": engineer, "environment": env.ID, "lot": g.LotID, "devices": g.Devices, "not_before": g.NotBefore, "not_after": g.NotAfter})
		if err != nil {
			return err
		}
		g.ApprovalID = q.ID
		if err := tx.SupportGrants().CreateGrant(g); err != nil {
			return err
		}
		v = View{Grant: g, Status: g.Status(now), Approval: &q}
		_, err = tx.Audit().Append(governance.Event(a, now, "support.request", stage, "environment:"+env.ID, "grant:"+g.ID, g))
		return err
	})
	return v, err
}

// checkDevices refuses devices the operator does not hold in the environment, and a
// manufacturer's request for devices it did not make.
func (s *Service) checkDevices(tx store.Tx, requester party.Party, env environment.Environment, r Request) error {
	for _, id := range r.Devices {
		d, err := tx.Devices().GetDevice(id)
		if err != nil {
			if failure.Is(err, failure.NotFound) {
				return failure.New(failure.Invalid, "device %s not found", id)
			}
			return err
		}
		if d.CustodianID != env.OperatorID || d.EnvironmentID != env.ID {
			return failure.New(failure.Invalid, "device %s is not held by operator %s in environment %s", id, env.OperatorID, env.ID)
		}
		if requester.Kind == party.Manufacturer && d.ManufacturerID != requester.ID {
			return failure.New(failure.Denied, "device %s was not made by %s: a manufacturer asks for support access to its own devices only", id, requester.ID)
		}
	}
	if r.LotID != "" {
		l, err := tx.Catalog().GetLot(r.LotID)
		if err != nil {
			if failure.Is(err, failure.NotFound) {
				return failure.New(failure.Invalid, "lot %s not found", r.LotID)
			}
			return err
		}
		if requester.Kind == party.Manufacturer && l.ManufacturerID != requester.ID {
			return failure.New(failure.Denied, "lot %s was not made by %s: a manufacturer asks for support access to its own devices only", l.ID, requester.ID)
		}
		ds, err := tx.Devices().ListDevices(store.DeviceFilter{LotID: l.ID, EnvironmentID: env.ID, CustodianID: env.OperatorID, Limit: 1})
		if err != nil {
			return err
		}
		if len(ds) == 0 {
			return failure.New(failure.Invalid, "operator %s holds no device of lot %s in environment %s", env.OperatorID, l.ID, env.ID)
		}
	}
	return nil
}

// IssueApproved issues the support certificate of an approved grant, as its requester. The
// approval is consumed in the transaction that stores the certificate.
func (s *Service) IssueApproved(ctx context.Context, a audit.Actor, q approval.Request) error {
	id := strings.TrimPrefix(q.Subject, "grant:")
	now := s.now()
	var (
		g      grant.Grant
		env    environment.Environment
		issuer ca.CA
		org    string
	)
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
		if g, err = tx.SupportGrants().GetGrant(id); err != nil {
			return err
		}
		if env, err = tx.Environments().GetEnvironment(g.EnvironmentID); err != nil {
			return err
		}
		p, err := tx.Parties().GetParty(g.RequesterParty)
		if err != nil {
			return err
		}
		org = p.Name
		issuer, err = supportCA(tx, g.OperatorID)
		return err
	})
	if err != nil {
		return err
	}
	if g.State != grant.Requested {
		return failure.New(failure.Conflict, "support grant %s is %s", g.ID, g.State)
	}
	if !now.Before(g.NotAfter) {
		return failure.New(failure.Conflict, "support grant %s was approved after its window ended (%s)", g.ID, g.NotAfter.Format(time.RFC3339))
	}
	req, err := csr.ParseText(g.CSR)
	if err != nil {
		return err
	}
	id2, err := url.Parse(fmt.Sprintf("spiffe://%s/support/%s/%s", env.TrustDomain, g.RequesterParty, g.Engineer))
	if err != nil {
		return failure.Wrap(failure.Invalid, err, "building the engineer's SPIFFE ID")
	}
	var ocspURLs, crlURLs []string
	if s.c.StatusURLs != nil {
		ocspURLs, crlURLs = s.c.StatusURLs(issuer, "")
	}
	notAfter := g.NotAfter
	if notAfter.After(issuer.Cert.NotAfter) {
		notAfter = issuer.Cert.NotAfter
	}
	tmpl, err := issuance.SupportTemplate(issuance.SupportParams{SPIFFEID: id2, Engineer: g.Engineer, Organization: org,
		Scope:     issuance.SupportScope{GrantID: g.ID, EnvironmentID: g.EnvironmentID, LotID: g.LotID, Devices: g.Devices},
		PublicKey: req.PublicKey, NotBefore: g.NotBefore, NotAfter: notAfter, OCSPServer: ocspURLs, CRLDistributionPoints: crlURLs})
	if err != nil {
		return err
	}
	_, err = s.c.Authority.Issue(ctx, issuer, issuance.ProfileSupport, tmpl, "", func(tx store.Tx, cert *x509.Certificate) error {
		// The requester must still own the duty of asking, with the principal-level checks.
		p, err := tx.Parties().GetParty(g.RequesterParty)
		if err != nil {
			return err
		}
		chain, err := requesterChain(p)
		if err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, chain); err != nil {
			return err
		}
		if _, err := governance.ConsumeApproval(tx, a, now, q.ID, approval.SupportGrant, "grant:"+g.ID); err != nil {
			return err
		}
		next := g
		next.State, next.CertSerial = grant.Active, ca.SerialHex(cert.SerialNumber)
		if err := tx.SupportGrants().UpdateGrant(next, grant.Requested); err != nil {
			return err
		}
		_, err = tx.Audit().Append(governance.Event(a, now, "support.issue", stage, "environment:"+g.EnvironmentID, "grant:"+g.ID,
			map[string]any{"certificate": next.CertSerial, "ca": issuer.ID, "not_before": g.NotBefore, "not_after": notAfter, "approved_by": q.Decisions}))
		return err
	})
	return err
}

// Denied records that a grant's approval was denied, expired or cancelled.
func (s *Service) Denied(ctx context.Context, q approval.Request) error {
	id := strings.TrimPrefix(q.Subject, "grant:")
	now := s.now()
	return s.c.Store.Update(ctx, func(tx store.Tx) error {
		g, err := tx.SupportGrants().GetGrant(id)
		if err != nil {
			return err
		}
		if g.State != grant.Requested {
			return nil
		}
		next := g
		next.State = grant.Denied
		if err := tx.SupportGrants().UpdateGrant(next, grant.Requested); err != nil {
			return err
		}
		_, err = tx.Audit().Append(governance.Event(audit.Actor{PartyID: g.OperatorID, PrincipalID: "hallmark:approvals"}, now, "support.deny", stage,
			"environment:"+g.EnvironmentID, "grant:"+g.ID, map[string]any{"approval": q.ID, "state": q.State}))
		return err
	})
}

// RevokeRequest ends a grant early.
type RevokeRequest struct {
	Reason string `json:"reason"` // RFC 5280 name; default privilegeWithdrawn
}

// Revoke ends an active grant before its window ends and revokes its certificate. The
// operator (support/approve over the environment) or the requesting party may.
func (s *Service) Revoke(ctx context.Context, a audit.Actor, id string, r RevokeRequest) (View, error) {
	if r.Reason == "" {
		r.Reason = revocation.PrivilegeWithdrawn.String()
	}
	reason, err := revocation.Parse(revocation.Support, r.Reason)
	if err != nil {
		return View{}, err
	}
	now := s.now()
	var v View
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		g, env, err := s.visible(tx, a, id)
		if err != nil {
			return err
		}
		if err := s.mayEnd(tx, a, g, env); err != nil {
			return err
		}
		switch {
		case g.State == grant.Requested:
			return failure.New(failure.Conflict, "support grant %s is waiting for approval %s: cancel or deny the approval instead", g.ID, g.ApprovalID)
		case g.State != grant.Active:
			return failure.New(failure.Conflict, "support grant %s is %s", g.ID, g.State)
		case !now.Before(g.NotAfter):
			return failure.New(failure.Conflict, "support grant %s already expired at %s", g.ID, g.NotAfter.Format(time.RFC3339))
		}
		serial, ok := ca.ParseSerialHex(g.CertSerial)
		if !ok {
			return fmt.Errorf("support grant %s has a malformed certificate serial %q", g.ID, g.CertSerial)
		}
		if err := tx.Certificates().Revoke(serial, int(reason), now); err != nil {
			return err
		}
		next := g
		next.State, next.RevokedAt, next.RevokedBy = grant.Revoked, &now, a.PrincipalID
		if err := tx.SupportGrants().UpdateGrant(next, grant.Active); err != nil {
			return err
		}
		v = View{Grant: next, Status: next.Status(now)}
		_, err = tx.Audit().Append(governance.Event(a, now, "support.revoke", stage, "environment:"+g.EnvironmentID, "grant:"+g.ID,
			map[string]any{"certificate": g.CertSerial, "reason": reason.String()}))
		return err
	})
	return v, err
}

func (s *Service) mayEnd(tx store.Tx, a audit.Actor, g grant.Grant, env environment.Environment) error {
	if a.PartyID == g.RequesterParty {
		p, err := governance.ActorParty(tx, a)
		if err != nil {
			return err
		}
		chain, err := requesterChain(p)
		if err != nil {
			return err
		}
		return governance.Require(tx, a, stage, ownership.Issue, chain)
	}
	return governance.Require(tx, a, stage, ownership.Approve, envChain(env))
}

// visible loads a grant the caller may see: its requester, its operator, or an auditor.
func (s *Service) visible(tx store.Tx, a audit.Actor, id string) (grant.Grant, environment.Environment, error) {
	g, err := tx.SupportGrants().GetGrant(id)
	if err != nil {
		return g, environment.Environment{}, err
	}
	if ok, err := governance.CanRead(tx, a, g.RequesterParty, g.OperatorID); err != nil {
		return g, environment.Environment{}, err
	} else if !ok {
		return g, environment.Environment{}, failure.New(failure.NotFound, "support grant %s not found", id)
	}
	env, err := tx.Environments().GetEnvironment(g.EnvironmentID)
	return g, env, err
}

// Get returns a grant with its approval and, once issued, its certificate and chain.
func (s *Service) Get(ctx context.Context, a audit.Actor, id string) (View, error) {
	var v View
	var issuer ca.CA
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		g, _, err := s.visible(tx, a, id)
		if err != nil {
			return err
		}
		v = View{Grant: g, Status: g.Status(s.now())}
		q, err := tx.Approvals().GetApproval(g.ApprovalID)
		if err != nil {
			return err
		}
		q.Expire(s.now())
		v.Approval = &q
		if g.CertSerial == "" {
			return nil
		}
		serial, _ := ca.ParseSerialHex(g.CertSerial)
		rec, err := tx.Certificates().GetCert(serial)
		if err != nil {
			return err
		}
		v.CertificatePEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rec.DER}))
		issuer, err = tx.CAs().GetCA(rec.CAID)
		return err
	})
	if err == nil && issuer.ID != "" {
		v.ChainPEM = s.c.Authority.ChainPEM(ctx, issuer)
	}
	return v, err
}

// GrantFilter selects what List returns; zero fields match everything. It is the store's
// filter, named here so that a caller of the service (the API) need not import the store.
type GrantFilter = store.GrantFilter

// List returns the grants the caller may see, newest first.
func (s *Service) List(ctx context.Context, a audit.Actor, f store.GrantFilter) ([]View, error) {
	var out []View
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		auditor, err := governance.IsAuditor(tx, a)
		if err != nil {
			return err
		}
		filter := f // the caller's filter stays as asked: a read may run again
		if !auditor {
			filter.Party = a.PartyID
		}
		gs, err := tx.SupportGrants().ListGrants(filter)
		if err != nil {
			return err
		}
		now := s.now()
		out = make([]View, 0, len(gs))
		for _, g := range gs {
			out = append(out, View{Grant: g, Status: g.Status(now)})
		}
		return nil
	})
	return out, err
}

// CheckRequest asks whether a support certificate may reach a device now.
type CheckRequest struct {
	Certificate string `json:"certificate"` // PEM
	DeviceID    string `json:"device_id"`
}

// Check answers "may this certificate reach this device now?" for a gateway or device. The
// caller must be of the environment's operator, the requesting party, or an auditor. Every
// answer that is not an input error is a Reach with a reason, so a gateway can log why.
func (s *Service) Check(ctx context.Context, a audit.Actor, r CheckRequest) (grant.Reach, error) {
	block, _ := pem.Decode([]byte(r.Certificate))
	if block == nil || block.Type != "CERTIFICATE" {
		return grant.Reach{}, failure.New(failure.Invalid, "certificate must be one PEM CERTIFICATE")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return grant.Reach{}, failure.Wrap(failure.Invalid, err, "parsing the certificate")
	}
	if r.DeviceID == "" {
		return grant.Reach{}, failure.New(failure.Invalid, "device_id is required")
	}
	now := s.now()
	var out grant.Reach
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		out = grant.Reach{} // a read may run again
		rec, err := tx.Certificates().GetCert(cert.SerialNumber)
		if err != nil || rec.Profile != string(issuance.ProfileSupport) || string(rec.DER) != string(cert.Raw) {
			if err != nil && !failure.Is(err, failure.NotFound) {
				return err
			}
			out = grant.Reach{Reason: "not a support certificate issued by this deployment"}
			return nil
		}
		g, err := tx.SupportGrants().GrantBySerial(rec.SerialHex)
		if err != nil {
			return err
		}
		if ok, err := governance.CanRead(tx, a, g.RequesterParty, g.OperatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.Denied, "only operator %s, party %s or an auditor may check grant %s", g.OperatorID, g.RequesterParty, g.ID)
		}
		d, err := tx.Devices().GetDevice(r.DeviceID)
		if err != nil {
			if failure.Is(err, failure.NotFound) {
				out = grant.Reach{GrantID: g.ID, Reason: "device " + r.DeviceID + " not found"}
				return nil
			}
			return err
		}
		out = g.Reaches(d, rec.State == ca.Issued, now)
		return nil
	})
	return out, err
}
