package operational

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"fmt"
	"strings"
	"sync"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/chainverify"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/manifest"
	"github.com/hallmark-id/hallmark/internal/policy"
	"github.com/hallmark-id/hallmark/internal/policyinput"
	"github.com/hallmark-id/hallmark/internal/store"
)

// MakerStatus answers for the revocation status of a device certificate of a maker that does
// not run Hallmark, through the maker's CRLs and OCSP responders (internal/makerstatus, behind
// an adapter in the composition root).
type MakerStatus interface {
	// Check asks about q.Device and applies q.Mode: nil when the device is good, or when its
	// status is unknown and the maker is fail-open (warning then says why); a failure.Denied
	// error naming the evidence when it is revoked; failure.Unavailable when it is unknown
	// and the maker is fail-closed.
	Check(ctx context.Context, q StatusQuery) (warning string, err error)
}

// StatusQuery asks about one device certificate.
type StatusQuery struct {
	Device, Issuer *x509.Certificate
	// CRLURLs and OCSPURLs, when any is set, replace the sources Device names.
	CRLURLs, OCSPURLs []string
	Mode              maker.Mode
}

// external is a factory chain that ends at a registered maker's anchor.
type external struct {
	maker  maker.Maker
	issuer *x509.Certificate // the CA certificate that signed the factory certificate
}

// classify tells a factory certificate of this deployment (nil) from one of a registered
// maker, whose chain it verifies to the maker's anchor with the deployment's verifier.
func (s *Service) classify(ctx context.Context, env environment.Environment, chain []*x509.Certificate) (*external, error) {
	factory := chain[0]
	var out *external
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		out = nil // a read may run again
		if _, own, err := ownFactory(tx, factory); own || err != nil {
			return err
		}
		anchors, err := s.anchors(tx, env.OperatorID)
		if err != nil {
			return err
		}
		registered, err := tx.Makers().ListMakers(env.OperatorID)
		if err != nil {
			return err
		}
		inters := append([]*x509.Certificate(nil), chain[1:]...)
		for _, m := range registered {
			anchors = append(anchors, m.Anchors...)
			inters = append(inters, m.Intermediates...)
		}
		verified, err := chainverify.Verify(factory, chainverify.Options{Anchors: anchors, Intermediates: inters, Now: s.now()})
		if err != nil {
			return err
		}
		root := verified[len(verified)-1]
		for _, m := range registered {
			if m.AnchorOf(root) && len(verified) >= 2 {
				out = &external{maker: m, issuer: verified[1]}
				return nil
			}
		}
		return failure.New(failure.Invalid, "the factory certificate chains to %s, which is not a CA of this deployment nor the anchor of a maker registered for operator %s: register the maker (hallmark maker register) to onboard its devices",
			root.Subject, env.OperatorID)
	})
	return out, err
}

// ownFactory reports whether factory is, byte for byte, a factory certificate this deployment
// issued and recorded, and returns that record; an error only when the record cannot be read.
func ownFactory(tx store.Tx, factory *x509.Certificate) (ca.Cert, bool, error) {
	rec, err := tx.Certificates().GetCert(factory.SerialNumber)
	switch {
	case err == nil:
		return rec, rec.Profile == string(issuance.ProfileFactory) && string(rec.DER) == string(factory.Raw), nil
	case failure.Is(err, failure.NotFound):
		return ca.Cert{}, false, nil
	}
	return ca.Cert{}, false, err
}

// ExternalDeviceID is the ID of the device record of a maker's device: the same for the
// same maker and device serial, so that a device that retries (an approval, a conflict)
// finds its record and its requests again.
func ExternalDeviceID(makerID, serial string) string {
	sum := sha256.Sum256([]byte(makerID + "\x00" + serial))
	return "dev_" + strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10]))
}

// onboardExternal onboards a device of a registered maker: the maker's policy on what the
// factory certificate shows, the maker's CRL or OCSP answer (under its fail mode), its
// manifest when required, then the environment's policy as for any device. At the first
// onboarding the device record is created, held by the operator, with its origin naming the
// maker, in the issuance's transaction.
func (s *Service) onboardExternal(ctx context.Context, a audit.Actor, r onboarding, prog *policy.Program, ext *external) (Identity, error) {
	env, pv, m := r.env, r.policy, ext.maker
	factory := r.chain[0]
	_, hwSerial, hwErr := issuance.ParseHardwareModuleName(factory)
	serial := maker.DeviceSerial(factory, hwSerial)
	spki := maker.SPKISHA256(factory)
	if err := m.Policy.Check(m.Name, factory, hwErr == nil); err != nil {
		return Identity{}, err
	}
	if s.c.MakerStatus == nil {
		return Identity{}, failure.New(failure.Unavailable, "this server checks no maker's revocation status: devices of makers that do not run Hallmark cannot onboard")
	}
	warning, err := s.c.MakerStatus.Check(ctx, StatusQuery{Device: factory, Issuer: ext.issuer, CRLURLs: m.CRLURLs, OCSPURLs: m.OCSPURLs, Mode: m.Policy.Mode()})
	if err != nil {
		return Identity{}, err
	}
	listed, manifestID, err := s.listed(ctx, m, serial, spki)
	if err != nil {
		return Identity{}, err
	}
	now := s.now()
	var (
		d      device.Device
		o      maker.Origin
		create bool
		in     policy.Input
		issuer ca.CA
	)
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		// A read may run again, and find the origin another onboarding made meanwhile: what
		// an earlier run found or planned is not this one's.
		create, d = false, device.Device{}
		var err error
		o, err = tx.Makers().OriginBySerial(m.ID, serial)
		switch {
		case failure.Is(err, failure.NotFound):
			create = true
			d = device.Device{ID: ExternalDeviceID(m.ID, serial), Serial: serial, State: device.Registered, CustodianID: env.OperatorID, CreatedAt: now, UpdatedAt: now}
			o = maker.Origin{DeviceID: d.ID, MakerID: m.ID, Serial: serial, Factory: factory, Issuer: ext.issuer, FactorySerial: ca.SerialHex(factory.SerialNumber),
				SPKISHA256: spki, State: maker.Good, CreatedAt: now}
		case err != nil:
			return err
		default:
			// An origin whose row disagrees with the audit log is not trusted to say which
			// certificate is the device's: an edited row could name one whose key is not the
			// device's. First, so that the refusal names the dispute, not its effect.
			if disputed, err := tx.StateRows().OriginDisputed(o.DeviceID); err != nil {
				return err
			} else if disputed {
				return refuseOrigin(failure.Conflict, RuleOriginDisputed, nil,
					"the origin of device %s of maker %s disagrees with the audit log (hallmark audit reconcile lists what its row and the log say): it does not onboard until a full reconciliation finds the origin in agreement again", o.DeviceID, m.Name)
			}
			if !o.Factory.Equal(factory) {
				// The origin's certificate is the device's current one: another (a maker's
				// re-issue, or another device of the same serial) is refused naming the rule,
				// so that the refusal is recorded as at a device of this deployment.
				return &store.NotCurrentFactoryError{Kind: failure.Conflict, Msg: fmt.Sprintf(
					"device %s of maker %s was onboarded with another factory certificate (serial %s): it presents serial %s (rule %s)",
					serial, m.Name, o.FactorySerial, ca.SerialHex(factory.SerialNumber), store.RuleCurrentFactory)}
			}
			if o.State == maker.Revoked {
				return failure.New(failure.Denied, "the factory identity %s of device %s was revoked by maker %s%s", o.FactorySerial, o.DeviceID, m.Name, evidenceText(o.Evidence))
			}
			if d, err = heldForOnboarding(tx, o.DeviceID, env); err != nil {
				return err
			}
		}
		op, err := currentOperational(tx, d)
		if err != nil {
			return err
		}
		in = policyinput.External(now, d, m.Name, factory, listed, env, r.facts, op)
		issuer, err = tx.CAs().GetCA(env.IssuingCAID)
		return err
	})
	if err != nil {
		return Identity{}, err
	}
	dec := prog.EvaluateContext(ctx, in)
	approvalID := ""
	if dec.ApprovalRequired {
		if approvalID, err = s.onboardApproval(ctx, a, env, d, dec.Version); err != nil {
			return Identity{}, err
		}
	} else if err := decide(dec, environment.Onboarding); err != nil {
		return Identity{}, err
	}
	ev := environment.Evidence{DeviceID: d.ID, EnvironmentID: env.ID, Kind: "onboard", BasedOn: o.FactorySerial, FactorySerial: o.FactorySerial,
		Protocol: r.protocol, PolicyKind: environment.Onboarding, PolicyVersion: pv.Version, PrincipalID: a.PrincipalID, Facts: mustJSON(r.facts), CreatedAt: now}
	detail := map[string]any{"maker": m.ID, "maker_name": m.Name, "device_serial": serial, "factory_certificate": o.FactorySerial, "factory_sha256": certSHA256(o.Factory),
		"issuer": ext.issuer.Subject.String(), "manifest": manifestID, "manifest_listed": listed, "revocation_mode": m.Policy.Mode(), "first": create}
	if warning != "" {
		detail["revocation_warning"] = warning
	}
	before := func(tx store.Tx) error {
		if create {
			if err := tx.Devices().CreateDevice(d); err != nil {
				return err
			}
			if err := tx.Makers().CreateOrigin(o); err != nil {
				return err
			}
		} else if cur, err := tx.Makers().OriginOf(d.ID); err != nil {
			return err
		} else if cur.State == maker.Revoked {
			return failure.New(failure.Denied, "the factory identity %s of device %s was revoked by maker %s%s", cur.FactorySerial, d.ID, m.Name, evidenceText(cur.Evidence))
		}
		_, err := tx.Audit().Append(s.event(a, "operational.onboard.external", "environment:"+env.ID, "device:"+d.ID, detail))
		return err
	}
	return s.issue(ctx, a, env, issuer, d, factory, r.csr.PublicKey, ev, "operational.onboard", approvalID, before)
}

// evidenceText names what a maker's revocation rests on, for a refusal.
func evidenceText(e *maker.Evidence) string {
	if e == nil {
		return ""
	}
	return " (" + e.Reason + ", per the " + e.Kind + " " + e.URL + " of " + e.ThisUpdate.UTC().Format("2006-01-02T15:04:05Z") + ")"
}

// listed checks the device against the maker's active manifest: whether it is listed (for
// the policy input), and, when the maker's policy requires it, a refusal naming the rule when
// it is not. The manifest's ID is returned ("" when the maker has none active).
func (s *Service) listed(ctx context.Context, m maker.Maker, serial string, spki [32]byte) (bool, string, error) {
	var mf maker.Manifest
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
		mf, err = tx.Makers().ActiveManifest(m.ID)
		return err
	})
	if failure.Is(err, failure.NotFound) {
		if m.Policy.RequireManifest {
			return false, "", &maker.Refusal{Rule: maker.RuleManifest, Msg: maker.RuleManifest + ": maker " + m.Name + " requires its devices to be listed in a manifest, and it has no active manifest (a CSV one waits for an operator's approval)"}
		}
		return false, "", nil
	} else if err != nil {
		return false, "", err
	}
	set, err := s.manifests.get(m, mf, s.c.Manifests)
	if err != nil {
		return false, mf.ID, err
	}
	if err := set.Check(serial, spki); err != nil {
		if m.Policy.RequireManifest {
			return false, mf.ID, err
		}
		return false, mf.ID, nil
	}
	return true, mf.ID, nil
}

// manifestCache keeps the parsed active manifests of a few makers: parsing a million entries
// takes seconds, a lookup in a parsed one is O(1).
type manifestCache struct {
	mu   sync.Mutex
	sets map[string]*manifest.Set // by manifest ID
	keys map[string]string        // manifest ID -> maker settings it was verified under
	lru  []string
}

const manifestCacheSize = 8

func (c *manifestCache) get(m maker.Maker, mf maker.Manifest, l manifest.Limits) (*manifest.Set, error) {
	keyset := strings.Join(m.ManifestKeys, "")
	c.mu.Lock()
	if set, ok := c.sets[mf.ID]; ok && c.keys[mf.ID] == keyset {
		c.mu.Unlock()
		return set, nil
	}
	c.mu.Unlock()
	set, err := makers.Parse(m, mf, l)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets, c.keys = map[string]*manifest.Set{}, map[string]string{}
	}
	if _, ok := c.sets[mf.ID]; !ok {
		c.lru = append(c.lru, mf.ID)
		if len(c.lru) > manifestCacheSize {
			delete(c.sets, c.lru[0])
			delete(c.keys, c.lru[0])
			c.lru = c.lru[1:]
		}
	}
	c.sets[mf.ID], c.keys[mf.ID] = set, keyset
	return set, nil
}
