package operational

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Reorigin (docs/external-makers.md): a device of a registered maker is recorded with the
// factory certificate it first onboarded with (its origin), and only that certificate onboards
// it (store.RuleCurrentFactory). When the maker re-issues the device's factory certificate (a
// repair, a new key, the old one expiring), the device's custodian asks to make the new one
// current. The new certificate is checked as a first onboarding checks it (the chain to the
// maker's registered anchor, the maker's policy, its CRL or OCSP answer, its manifest when
// required) and must name the same device (maker.DeviceSerial, and the same hwType) and be no
// older than the current one; then, as a re-admission does, the request waits for an approval
// (approval.Reorigin) by the party that owns operational/approve over the device's
// environment. On approval, the checks run again and the origin holds the new certificate
// (store.Makers.ReplaceOriginFactory, over the certificate the approvers saw), in one
// transaction with the audit event device.reorigin that keeps the old one. Nothing else of
// the device changes: its operational certificates stay as they are; its next onboarding
// presents the new certificate, and its renewals' policy sees it.

// The rules a reorigin is refused by (OriginRefusal), each recorded as a refusal.
const (
	// RuleOriginCustodian: the caller is not the device's custodian's (no such device, or
	// one it does not hold through an environment it may issue in).
	RuleOriginCustodian = "origin:not-custodian"
	// RuleOriginExternal: the device was made by this deployment; its factory identity is
	// re-issued by a repair (hallmark device repair), not by its maker.
	RuleOriginExternal = "origin:not-external"
	// RuleOriginChain: the certificate does not chain to a registered maker's anchor, or is
	// not valid now.
	RuleOriginChain = "origin:chain"
	// RuleOriginMaker: the certificate is another maker's (or this deployment's).
	RuleOriginMaker = "origin:other-maker"
	// RuleOriginDevice: the certificate names another device serial than the origin's, or
	// another model (hardwareModuleName hwType).
	RuleOriginDevice = "origin:other-device"
	// RuleOriginRevoked: the maker revoked the certificate (its CRL or OCSP answer).
	RuleOriginRevoked = "origin:revoked"
	// RuleOriginUnchanged: the certificate is the one the origin holds already.
	RuleOriginUnchanged = "origin:unchanged"
	// RuleOriginOlder: the certificate's notBefore is earlier than that of the one the origin
	// holds: a re-issue is newer than what it replaces, so that an older certificate of the
	// device (one the maker superseded) is not brought back.
	RuleOriginOlder = "origin:older"
	// RuleOriginState: the device is factory-revoked or handed off: no certificate of its
	// maker makes it onboard again here.
	RuleOriginState = "origin:device-state"
	// RuleOriginPending: a reorigin of the device to another certificate waits for its
	// approval (cancel it first).
	RuleOriginPending = "origin:pending-other"
	// RuleOriginStale: the device's origin no longer holds the certificate the request was
	// checked (or approved) against: another reorigin got there first.
	RuleOriginStale = "origin:stale"
	// RuleOriginDisputed: the device's origin disagreed with the audit log at the last full
	// reconciliation (hallmark audit reconcile): onboarding and renewal refuse the device until
	// a full reconciliation finds its origin in agreement again.
	RuleOriginDisputed = "origin:disputed"
)

// OriginRefusal refuses a reorigin by one of the rules above; Err, when set, is the check
// that failed.
type OriginRefusal struct {
	Kind failure.Kind
	Rule string
	Msg  string
	Err  error
}

func (e *OriginRefusal) Error() string { return e.Msg }

// Unwrap returns the failed check.
func (e *OriginRefusal) Unwrap() error { return e.Err }

// FailureKind classifies the refusal.
func (e *OriginRefusal) FailureKind() failure.Kind { return e.Kind }

// FailureRule names the rule for the refusals report.
func (e *OriginRefusal) FailureRule() string { return e.Rule }

func refuseOrigin(k failure.Kind, rule string, err error, format string, args ...any) error {
	return &OriginRefusal{Kind: k, Rule: rule, Err: err, Msg: fmt.Sprintf(format, args...) + " (rule " + rule + ")"}
}

// ReoriginRequest asks to make a maker's re-issued factory certificate a device's current one.
type ReoriginRequest struct {
	// Certificate is the new factory certificate, optionally followed by its chain, PEM.
	Certificate string `json:"certificate"`
	// Reason is why the maker re-issued it (repair, new key, expiry), for the approvers.
	Reason string `json:"reason"`
}

// ReoriginResult is the approval a reorigin waits for.
type ReoriginResult struct {
	Device   device.Device     `json:"device"`
	Approval *approval.Request `json:"approval"`
}

// reoriginCheck is what a checked reorigin acts on.
type reoriginCheck struct {
	d      device.Device
	env    environment.Environment
	origin maker.Origin
	next   maker.Origin // origin with the new certificate
	m      maker.Maker
	warn   string // the maker's fail-open revocation warning, if any
}

// Reorigin checks a reorigin request and asks for its approval, or returns the request for
// the same certificate already pending or approved (and not run) for the device; a request
// for another certificate is refused while one is pending (cancel it first).
func (s *Service) Reorigin(ctx context.Context, a audit.Actor, deviceID string, r ReoriginRequest) (ReoriginResult, error) {
	var out ReoriginResult
	if strings.TrimSpace(r.Reason) == "" || len(r.Reason) > approval.MaxReason {
		return out, failure.New(failure.Invalid, "reason is required: why the maker re-issued the factory certificate (at most %d characters)", approval.MaxReason)
	}
	c, err := s.checkReorigin(ctx, a, deviceID, r.Certificate)
	if err != nil {
		return out, err
	}
	now := s.now()
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		out = ReoriginResult{}
		d, env, err := s.reoriginTarget(tx, a, deviceID)
		if err != nil {
			return err
		}
		if err := sameOrigin(tx, d, c.origin); err != nil {
			return err
		}
		out.Device = d
		subject := "device:" + d.ID
		q, found, err := governance.LatestApproval(tx, approval.Reorigin, subject, now)
		if err != nil {
			return err
		}
		if found && (q.State == approval.Pending || q.State == approval.Approved) {
			// The same certificate asked for again finds its request (an approved one that
			// did not run is set off again with hallmark approval execute). Another
			// certificate waits until a pending request is cancelled; an approved one that
			// did not run does not hold a new request up, and whichever runs first wins
			// (the other finds the origin changed, RuleOriginStale).
			var p reoriginPayload
			if err := json.Unmarshal(q.Payload, &p); err != nil {
				return fmt.Errorf("reading the reorigin request of approval %s: %w", q.ID, err)
			}
			if same, _ := parseCertChain(p.Certificate, "certificate"); len(same) > 0 && same[0].Equal(c.next.Factory) && p.Old == c.origin.FactorySerial {
				out.Approval = &q
				return nil
			}
			if q.State == approval.Pending {
				return refuseOrigin(failure.Conflict, RuleOriginPending, nil, "device %s: approval %s waits to make factory certificate %s its current one: cancel it (hallmark approval cancel %s) to ask for %s",
					d.ID, q.ID, p.New, q.ID, c.next.FactorySerial)
			}
		}
		q, err = governance.RequestApproval(tx, a, now, approval.Reorigin, EnvChain(env), subject, r.Reason, nil, reoriginPayload{
			Certificate: r.Certificate, Old: c.origin.FactorySerial, New: c.next.FactorySerial})
		out.Approval = &q
		return err
	})
	return out, err
}

// reoriginPayload is what an approval of a reorigin carries: the request's certificate, and
// the serials the approvers saw (the origin's then, and the new one).
type reoriginPayload struct {
	Certificate string `json:"certificate"`
	Old         string `json:"old_factory_certificate"`
	New         string `json:"new_factory_certificate"`
}

// ReoriginApproved carries out an approved reorigin: the checks run again at now, and the
// origin takes the new certificate over the one the approvers saw, consuming the approval,
// with the audit event device.reorigin naming both certificates, in one transaction. When it
// is refused, nothing changes and the approval stays approved and unexecuted; governance
// records the refusal (approval.execute.refused, naming the rule) as for every approved
// action that does not run, and tells the approver (execution_error).
func (s *Service) ReoriginApproved(ctx context.Context, a audit.Actor, q approval.Request) (device.Device, error) {
	var p reoriginPayload
	if err := json.Unmarshal(q.Payload, &p); err != nil {
		return device.Device{}, fmt.Errorf("reading the reorigin request of approval %s: %w", q.ID, err)
	}
	deviceID := strings.TrimPrefix(q.Subject, "device:")
	c, err := s.checkReorigin(ctx, a, deviceID, p.Certificate)
	if err != nil {
		return device.Device{}, err
	}
	if c.origin.FactorySerial != p.Old {
		return device.Device{}, refuseOrigin(failure.Conflict, RuleOriginStale, nil, "device %s: its origin holds factory certificate %s, not %s as when the reorigin was asked for", deviceID, c.origin.FactorySerial, p.Old)
	}
	if c.next.FactorySerial != p.New {
		return device.Device{}, fmt.Errorf("approval %s: its certificate has serial %s, and the approvers were shown %s", q.ID, c.next.FactorySerial, p.New)
	}
	now := s.now()
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		d, env, err := s.reoriginTarget(tx, a, deviceID)
		if err != nil {
			return err
		}
		if err := sameOrigin(tx, d, c.origin); err != nil {
			return err
		}
		if _, err := governance.ConsumeApproval(tx, a, now, q.ID, approval.Reorigin, "device:"+d.ID); err != nil {
			return err
		}
		if err := tx.Makers().ReplaceOriginFactory(c.next, c.origin.Factory.Raw); failure.Is(err, failure.Conflict) {
			return refuseOrigin(failure.Conflict, RuleOriginStale, err, "device %s: %v", d.ID, err)
		} else if err != nil {
			return fmt.Errorf("replacing the factory certificate of device %s: %w", d.ID, err)
		}
		old, next := c.origin, c.next
		detail := map[string]any{"maker": c.m.ID, "maker_name": c.m.Name, "device_serial": old.Serial,
			"old_factory_certificate": old.FactorySerial, "old_sha256": certSHA256(old.Factory), "old_spki_sha256": hex.EncodeToString(old.SPKISHA256[:]),
			"old_state": old.State, "old_certificate_pem": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: old.Factory.Raw})),
			"new_factory_certificate": next.FactorySerial, "new_sha256": certSHA256(next.Factory), "new_spki_sha256": hex.EncodeToString(next.SPKISHA256[:]),
			"issuer": next.Issuer.Subject.String(), "approval": q.ID, "approved_by": q.Decisions, "reason": q.Reason}
		if c.warn != "" {
			detail["revocation_warning"] = c.warn
		}
		_, err = tx.Audit().Append(s.event(a, "device.reorigin", "environment:"+env.ID, "device:"+d.ID, detail))
		return err
	})
	return c.d, err
}

// modelText names the model a hardwareModuleName's hwType gives: its OID, or "(none)" when
// the certificate has no hardwareModuleName.
func modelText(hwType asn1.ObjectIdentifier, err error) string {
	if err != nil || len(hwType) == 0 {
		return "(none)"
	}
	return hwType.String()
}

// certSHA256 is the hex SHA-256 of a certificate's DER.
func certSHA256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// sameOrigin refuses, as a conflict, when d's origin no longer holds the certificate want held.
func sameOrigin(tx store.Tx, d device.Device, want maker.Origin) error {
	o, err := tx.Makers().OriginOf(d.ID)
	if err != nil {
		return err
	}
	if o.FactorySerial != want.FactorySerial || !o.Factory.Equal(want.Factory) {
		return refuseOrigin(failure.Conflict, RuleOriginStale, nil, "device %s: its factory certificate is now %s, not %s as when the reorigin was checked: another reorigin changed it meanwhile", d.ID, o.FactorySerial, want.FactorySerial)
	}
	return nil
}

// reoriginTarget loads the device and checks that the caller's party holds it as the
// custodian of its environment and owns operational/issue there (the duty a re-admission
// needs). A device the caller cannot act on is refused naming RuleOriginCustodian, so the
// refusal is recorded; one the caller cannot see is told as not found.
func (s *Service) reoriginTarget(tx store.Tx, a audit.Actor, deviceID string) (device.Device, environment.Environment, error) {
	d, env, err := s.heldDevice(tx, a, deviceID, ownership.Issue)
	if err != nil && failure.RuleOf(err) == "" {
		switch k := failure.KindOf(err); k {
		case failure.NotFound, failure.Conflict:
			return d, env, refuseOrigin(k, RuleOriginCustodian, err, "%v: only the device's custodian, with operational/issue over its environment, replaces its factory certificate", err)
		}
	}
	if err != nil {
		return d, env, err
	}
	if d.State == device.FactoryRevoked || d.State == device.HandedOff {
		return d, env, refuseOrigin(failure.Conflict, RuleOriginState, nil, "device %s is %s: it never onboards here again, whatever its factory certificate", d.ID, d.State)
	}
	return d, env, nil
}

// checkReorigin checks the new certificate pem for device deviceID as a first onboarding
// checks a maker's device, at now, and that it names the origin's device.
func (s *Service) checkReorigin(ctx context.Context, a audit.Actor, deviceID, certPEM string) (reoriginCheck, error) {
	var c reoriginCheck
	chain, err := parseCertChain(certPEM, "certificate")
	if err != nil {
		return c, err
	}
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		c = reoriginCheck{}
		var err error
		if c.d, c.env, err = s.reoriginTarget(tx, a, deviceID); err != nil {
			return err
		}
		c.origin, err = tx.Makers().OriginOf(c.d.ID)
		if failure.Is(err, failure.NotFound) {
			return refuseOrigin(failure.Conflict, RuleOriginExternal, err, "device %s was made by this deployment, not by a registered maker: its factory identity is re-issued by a repair (hallmark device repair)", c.d.ID)
		} else if err != nil {
			return err
		}
		c.m, err = tx.Makers().GetMaker(c.origin.MakerID)
		return err
	})
	if err != nil {
		return c, err
	}
	factory, o, m := chain[0], c.origin, c.m
	// The chain, as a first onboarding verifies it: to this deployment's CAs or a registered
	// maker's anchor, valid now.
	ext, err := s.classify(ctx, c.env, chain)
	if err != nil {
		// chainverify and classify refuse a chain as invalid; anything else (the store, a
		// rule of its own) is told as it is, not as a refused chain.
		if failure.RuleOf(err) != "" || !failure.Is(err, failure.Invalid) {
			return c, err
		}
		return c, refuseOrigin(failure.Denied, RuleOriginChain, err, "the new factory certificate %s of device %s is not one a registered maker issued and valid now: %v", ca.SerialHex(factory.SerialNumber), c.d.ID, err)
	}
	if ext == nil || ext.maker.ID != m.ID {
		who := "this deployment"
		if ext != nil {
			who = "maker " + ext.maker.Name
		}
		return c, refuseOrigin(failure.Denied, RuleOriginMaker, nil, "the new factory certificate %s was issued by %s, and device %s is a device of maker %s", ca.SerialHex(factory.SerialNumber), who, c.d.ID, m.Name)
	}
	hwType, hwSerial, hwErr := issuance.ParseHardwareModuleName(factory)
	serial := maker.DeviceSerial(factory, hwSerial)
	if serial != o.Serial {
		return c, refuseOrigin(failure.Denied, RuleOriginDevice, nil, "the new factory certificate %s names device %s of maker %s, and device %s is its device %s", ca.SerialHex(factory.SerialNumber), serial, m.Name, c.d.ID, o.Serial)
	}
	// The same device is the same model too: the hardwareModuleName's hwType, when either
	// certificate has one, is the same in both.
	if oldType, _, oldErr := issuance.ParseHardwareModuleName(o.Factory); modelText(oldType, oldErr) != modelText(hwType, hwErr) {
		return c, refuseOrigin(failure.Denied, RuleOriginDevice, nil, "the new factory certificate %s names device %s of maker %s as model %s, and device %s is model %s",
			ca.SerialHex(factory.SerialNumber), serial, m.Name, modelText(hwType, hwErr), c.d.ID, modelText(oldType, oldErr))
	}
	if factory.Equal(o.Factory) {
		return c, refuseOrigin(failure.Conflict, RuleOriginUnchanged, nil, "factory certificate %s is already the current one of device %s", o.FactorySerial, c.d.ID)
	}
	if factory.NotBefore.Before(o.Factory.NotBefore) {
		return c, refuseOrigin(failure.Denied, RuleOriginOlder, nil, "the new factory certificate %s of device %s is valid from %s, before its current one %s (from %s): a maker's re-issue is newer than what it replaces",
			ca.SerialHex(factory.SerialNumber), c.d.ID, factory.NotBefore.UTC().Format(time.RFC3339), o.FactorySerial, o.Factory.NotBefore.UTC().Format(time.RFC3339))
	}
	if err := m.Policy.Check(m.Name, factory, hwErr == nil); err != nil {
		return c, err
	}
	if s.c.MakerStatus == nil {
		return c, failure.New(failure.Unavailable, "this server checks no maker's revocation status: a maker's factory certificate cannot be checked")
	}
	c.warn, err = s.c.MakerStatus.Check(ctx, StatusQuery{Device: factory, Issuer: ext.issuer, CRLURLs: m.CRLURLs, OCSPURLs: m.OCSPURLs, Mode: m.Policy.Mode()})
	if failure.Is(err, failure.Denied) {
		return c, refuseOrigin(failure.Denied, RuleOriginRevoked, err, "maker %s revoked the new factory certificate %s of device %s: %v", m.Name, ca.SerialHex(factory.SerialNumber), c.d.ID, err)
	} else if err != nil {
		return c, err
	}
	spki := maker.SPKISHA256(factory)
	if _, _, err := s.listed(ctx, m, serial, spki); err != nil {
		return c, err
	}
	c.next = o
	c.next.Factory, c.next.Issuer, c.next.FactorySerial, c.next.SPKISHA256 = factory, ext.issuer, ca.SerialHex(factory.SerialNumber), spki
	return c, nil
}
