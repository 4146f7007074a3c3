package manufacturing

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/revocation"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Repair (issue 17, point 3): a device that comes back repaired gets a new build record and a
// new factory identity on the same device record; the factory identity it had is revoked as
// superseded in the same transaction, and both stay on record (the device's factory lineage,
// inventory.FactoryLineage). A new factory identity can stand for a new key in a device that
// already has a history, so a repair waits for an approval (approval.Repair): the party that
// owns manufacturing/approve over the device's lot decides, by the rule of that kind (one
// other principal by default).
//
// Who may ask: a principal whose party owns manufacturing/issue over the device's lot and
// holds the device (a repair happens where the device is). Which devices: registered,
// released or quarantined ones, which have no operational identity a relying party trusts
// now; an active or suspended device is released or revoked first, and a device whose factory
// identity a manufacturing revocation ended is never repaired (factory-revoked is final). The
// device keeps its lifecycle state: a released device onboards again on its new factory
// identity, a quarantined one is re-admitted (with approval) as before.

// RepairRequest asks for a repaired device's new factory identity.
type RepairRequest struct {
	// CSR is the device's PKCS#10 request, PEM or base64 DER (its key may be new).
	CSR string `json:"csr"`
	// BuildRecord is the repaired device's build record: it must name the device's
	// manufacturer, model, lot, line and serial, and a passed test.
	BuildRecord buildrecord.Record `json:"build_record"`
	// Reason is what was repaired, for the approvers and the audit log.
	Reason string `json:"reason"`
}

// RepairResult is the approval a repair waits for.
type RepairResult struct {
	Device   device.Device     `json:"device"`
	Approval *approval.Request `json:"approval"`
}

// repairable lists the states a device is repaired in.
var repairable = []device.State{device.Registered, device.Released, device.Quarantined}

// Repair checks a repair request and asks for its approval, or returns the request already
// pending for the device.
func (s *Service) Repair(ctx context.Context, a audit.Actor, deviceID string, r RepairRequest) (RepairResult, error) {
	if strings.TrimSpace(r.Reason) == "" || len(r.Reason) > approval.MaxReason {
		return RepairResult{}, failure.New(failure.Invalid, "reason is required: what was repaired (at most %d characters)", approval.MaxReason)
	}
	var out RepairResult
	if _, err := s.checkRepairRequest(ctx, a, deviceID, r); err != nil {
		return out, err
	}
	now := s.now()
	err := s.c.Store.Update(ctx, func(tx store.Tx) error {
		out = RepairResult{} // Update may run this again
		t, err := s.checkRepair(tx, a, deviceID)
		if err != nil {
			return err
		}
		out.Device = t.d
		subject := "device:" + t.d.ID
		q, found, err := governance.LatestApproval(tx, approval.Repair, subject, now)
		if err != nil {
			return err
		}
		if found && (q.State == approval.Pending || q.State == approval.Approved) {
			out.Approval = &q
			return nil
		}
		q, err = governance.RequestApproval(tx, a, now, approval.Repair, governance.LotChain(t.lot), subject, r.Reason, nil, r)
		out.Approval = &q
		return err
	})
	return out, err
}

// repairTarget is a device being repaired with what its factory identity is issued under.
type repairTarget struct {
	d      device.Device
	lot    device.Lot
	model  device.Model
	mfr    party.Party
	issuer ca.CA
}

// checkRepair loads the device and checks the caller may repair it now.
func (s *Service) checkRepair(tx store.Tx, a audit.Actor, deviceID string) (repairTarget, error) {
	var t repairTarget
	var err error
	if t.d, err = tx.Devices().GetDevice(deviceID); err != nil {
		return t, err
	}
	if ok, err := governance.CanSeeDevice(tx, a, t.d); err != nil {
		return t, err
	} else if !ok {
		return t, failure.New(failure.NotFound, "device %s: not found", deviceID)
	}
	if t.lot, err = tx.Catalog().GetLot(t.d.LotID); err != nil {
		return t, err
	}
	if err := governance.Require(tx, a, stage, ownership.Issue, governance.LotChain(t.lot)); err != nil {
		return t, err
	}
	if t.d.External() {
		return t, failure.New(failure.Conflict, "device %s is of a maker that does not run Hallmark: its maker repairs it", t.d.ID)
	}
	if t.d.CustodianID != a.PartyID {
		return t, failure.New(failure.Conflict, "device %s is not held by %s: a device is repaired by the party that holds it (transfer it back first)", t.d.ID, a.PartyID)
	}
	ok := false
	for _, st := range repairable {
		ok = ok || t.d.State == st
	}
	if !ok {
		return t, failure.New(failure.Conflict, "device %s is %s: only a registered, released or quarantined device is repaired (release or revoke an active or suspended one first; factory-revoked is final)", t.d.ID, t.d.State)
	}
	if t.model, err = tx.Catalog().GetModel(t.lot.ModelID); err != nil {
		return t, err
	}
	if t.mfr, err = tx.Parties().GetParty(t.lot.ManufacturerID); err != nil {
		return t, err
	}
	t.issuer, err = tx.CAs().GetCA(t.lot.IssuingCAID)
	return t, err
}

// checkRepairRequest checks the caller, the device and the request (the CSR and the build record)
// before anything is asked or signed.
func (s *Service) checkRepairRequest(ctx context.Context, a audit.Actor, deviceID string, r RepairRequest) (repairTarget, error) {
	var t repairTarget
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { t, err = s.checkRepair(tx, a, deviceID); return err })
	if err != nil {
		return t, err
	}
	if _, err := csr.ParseText(r.CSR); err != nil {
		return t, err
	}
	if err := checkRecord(r.BuildRecord, t.mfr, t.model, t.lot); err != nil {
		return t, err
	}
	if r.BuildRecord.Serial != t.d.Serial {
		return t, failure.New(failure.Invalid, "build record: serial is %q but device %s is %q", r.BuildRecord.Serial, t.d.ID, t.d.Serial)
	}
	return t, nil
}

// RepairApproved carries out an approved repair as its requester: it signs the new build
// record, issues the new factory identity and, in the transaction that stores it, consumes
// the approval, revokes the factory identity it replaces (superseded), points the device at
// the new one and appends the factory.repair event naming both certificates.
func (s *Service) RepairApproved(ctx context.Context, a audit.Actor, q approval.Request) (FactoryIdentity, error) {
	var r RepairRequest
	if err := json.Unmarshal(q.Payload, &r); err != nil {
		return FactoryIdentity{}, fmt.Errorf("approval %s: malformed payload: %w", q.ID, err)
	}
	deviceID := strings.TrimPrefix(q.Subject, "device:")
	t, err := s.checkRepairRequest(ctx, a, deviceID, r)
	if err != nil {
		return FactoryIdentity{}, err
	}
	req, err := csr.ParseText(r.CSR)
	if err != nil {
		return FactoryIdentity{}, err
	}
	rec := r.BuildRecord
	signer, err := s.buildRecordSigner(ctx, a, t.mfr.ID)
	if err != nil {
		return FactoryIdentity{}, err
	}
	envJSON, digest, err := signRecord(ctx, &rec, req.PublicKey, signer)
	if err != nil {
		return FactoryIdentity{}, err
	}
	hwType, err := parseOID(t.model.HardwareType)
	if err != nil {
		return FactoryIdentity{}, err
	}
	now := s.now()
	var ocspURLs, crlURLs []string
	if s.c.StatusURLs != nil {
		ocspURLs, crlURLs = s.c.StatusURLs(t.issuer, t.d.ID)
	}
	// The new identity names the MASA as every factory certificate issued now does, so that
	// the repaired device bootstraps by BRSKI as it did before.
	masaURL := ""
	if s.c.MASAURL != nil {
		masaURL = s.c.MASAURL()
	}
	tmpl, err := issuance.FactoryTemplate(issuance.FactoryParams{
		DeviceSerial: rec.Serial, Organization: t.mfr.Name, HardwareType: hwType, BuildRecordDigest: digest,
		PublicKey: req.PublicKey, NotBefore: now.Add(-5 * time.Minute), NotAfter: factoryNotAfter(t.issuer),
		OCSPServer: ocspURLs, CRLDistributionPoints: crlURLs, MASAURL: masaURL,
	})
	if err != nil {
		return FactoryIdentity{}, err
	}
	next := t.d
	cert, err := s.c.Authority.Issue(ctx, t.issuer, issuance.ProfileFactory, tmpl, t.d.ID, func(tx store.Tx, cert *x509.Certificate) error {
		cur, err := s.checkRepair(tx, a, deviceID)
		if err != nil {
			return err
		}
		if cur.d.FactoryCert != t.d.FactoryCert {
			return failure.New(failure.Conflict, "device %s got another factory identity since the repair was asked for", deviceID)
		}
		if _, err := governance.ConsumeApproval(tx, a, now, q.ID, approval.Repair, q.Subject); err != nil {
			return err
		}
		superseded := ""
		if _, ok := ca.ParseSerialHex(cur.d.FactoryCert); ok {
			// Only the device's own factory certificate is superseded (store.OwnCert).
			c, err := store.OwnCert(tx, cur.d.ID, cur.d.FactoryCert, store.FactoryProfile)
			if err != nil {
				return err
			}
			if c.State == ca.Issued {
				if err := tx.Certificates().Revoke(c.Serial, int(revocation.Superseded), now); err != nil {
					return err
				}
				superseded = c.SerialHex
			}
		}
		next = cur.d
		next.FactoryCert, next.UpdatedAt = ca.SerialHex(cert.SerialNumber), now
		if err := tx.Devices().UpdateDevice(next, cur.d); err != nil {
			return err
		}
		if err := tx.BuildRecords().CreateBuildRecord(store.BuildRecord{ID: party.NewID("br"), DeviceID: next.ID, PayloadSHA256: digest[:], Envelope: envJSON, CreatedAt: now}); err != nil {
			return err
		}
		_, err = tx.Audit().Append(s.event(a, "factory.repair", "lot:"+t.lot.ID, "device:"+next.ID, map[string]any{
			"certificate": next.FactoryCert, "superseded": superseded, "previous": cur.d.FactoryCert, "ca": t.issuer.ID,
			"build_record_sha256": fmt.Sprintf("%x", digest), "reason": r.Reason, "approval": q.ID, "approved_by": q.Decisions}))
		return err
	})
	if err != nil {
		return FactoryIdentity{}, err
	}
	return FactoryIdentity{Device: next, CertificatePEM: pemCert(cert.Raw), ChainPEM: s.c.Authority.ChainPEM(ctx, t.issuer), BuildRecord: envJSON, BuildRecordSHA: fmt.Sprintf("%x", digest)}, nil
}
