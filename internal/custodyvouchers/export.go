package custodyvouchers

import (
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// DefaultTTL is how long an exported voucher may be imported or extended, when not given.
const DefaultTTL = 30 * 24 * time.Hour

// ExportRequest hands devices the caller's party holds to a party of another deployment.
type ExportRequest struct {
	DeviceIDs []string
	// To names the receiver (for people); ToKeyPEM is its "PUBLIC KEY" PEM: the voucher is
	// addressed to it.
	To       string
	ToKeyPEM string
	// TTL is how long the receiver may import or extend it (0: DefaultTTL; at most a year).
	TTL time.Duration
}

// Exported is an export: its record and the voucher file.
type Exported struct {
	Record store.VoucherRecord
	File   []byte
}

// Export writes a custody voucher for devices the caller's party holds, made by one
// manufacturer of this deployment and not in an operational state (release them first), with
// link 0 signed by that manufacturer's build-record key and addressed to r.ToKeyPEM. In the
// same transaction the devices become handed-off and the export is audited. Devices that came
// here by a voucher are passed on with `hallmark voucher extend`, by the holder's own key.
func (s *Service) Export(ctx context.Context, a audit.Actor, r ExportRequest) (Exported, error) {
	if n := len(r.DeviceIDs); n == 0 || n > custodyvoucher.MaxDevices {
		return Exported{}, failure.New(failure.Invalid, "name 1 to %d devices to export", custodyvoucher.MaxDevices)
	}
	if r.TTL == 0 {
		r.TTL = DefaultTTL
	}
	if len(r.To) > custodyvoucher.MaxNameLen {
		return Exported{}, failure.New(failure.Invalid, "receiver name is longer than %d bytes", custodyvoucher.MaxNameLen)
	}
	toKey, err := buildrecord.ParsePublicKeyPEM([]byte(strings.TrimSpace(r.ToKeyPEM) + "\n"))
	if err != nil {
		return Exported{}, failure.Wrap(failure.Invalid, err, "receiver key")
	}
	toID, err := custodyvoucher.KeyID(toKey)
	if err != nil {
		return Exported{}, err
	}
	var (
		devs   []custodyvoucher.Device
		mfrID  string
		signer crypto.Signer
	)
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		devs, mfrID = nil, ""
		if err := requireHolder(tx, a); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, id := range r.DeviceIDs {
			if seen[id] {
				return failure.New(failure.Invalid, "device %s is named twice", id)
			}
			seen[id] = true
			d, err := exportable(tx, a, id)
			if err != nil {
				return err
			}
			if mfrID == "" {
				mfrID = d.ManufacturerID
			} else if d.ManufacturerID != mfrID {
				return failure.New(failure.Invalid, "device %s is made by %s, device %s by %s: one voucher carries the devices of one manufacturer", d.ID, d.ManufacturerID, r.DeviceIDs[0], mfrID)
			}
			vd, err := voucherDevice(tx, d)
			if err != nil {
				return fmt.Errorf("device %s: %w", d.ID, err)
			}
			devs = append(devs, vd)
		}
		k, err := tx.CAs().SigningKey(mfrID, manufacturing.BuildRecordPurpose)
		if err != nil {
			return fmt.Errorf("reading the build-record key of manufacturer %s: %w", mfrID, err)
		}
		signer, err = s.c.Keys.Signer(ctx, k.KeyID)
		return err
	})
	if err != nil {
		return Exported{}, err
	}
	now := s.c.Now()
	from := a.PartyID
	v, err := custodyvoucher.New(devs, signer, custodyvoucher.Handover{From: from, To: r.To, ToKey: toKey, Now: now, TTL: r.TTL})
	if err != nil {
		return Exported{}, err
	}
	file, err := custodyvoucher.Marshal(v)
	if err != nil {
		return Exported{}, err
	}
	p, _ := v.Links[0].DecodeB64Payload()
	rec := store.VoucherRecord{ID: party.NewID("cvo"), PartyID: a.PartyID, Direction: "export", SHA256: sum(file), Content: file, Devices: len(devs),
		FinalLink: hexOf(sum(p)), AddresseeKeyID: toID, CreatedBy: a.PrincipalID, CreatedAt: now}
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		if err := requireHolder(tx, a); err != nil {
			return err
		}
		for _, id := range r.DeviceIDs {
			d, err := exportable(tx, a, id) // again, in the transaction that hands them off
			if err != nil {
				return err
			}
			next := d
			next.State, next.UpdatedAt = device.HandedOff, now
			if err := tx.Devices().UpdateDevice(next, d); err != nil {
				return err
			}
		}
		if err := tx.CustodyVouchers().AddVoucher(rec, r.DeviceIDs, nil); err != nil {
			return err
		}
		_, err := tx.Audit().Append(s.event(a, "custody.voucher.export", "custody-voucher:"+rec.ID, map[string]any{
			"manufacturer": mfrID, "devices": r.DeviceIDs, "to": r.To, "to_key": toID, "link": rec.FinalLink, "sha256": hexOf(rec.SHA256),
			"expires_at": now.Add(r.TTL).UTC().Truncate(time.Second)}))
		return err
	})
	if err != nil {
		return Exported{}, err
	}
	rec.Content = nil
	return Exported{Record: rec, File: file}, nil
}

// exportable returns device id when the caller's party holds it, it was made here, and it is
// registered or released.
func exportable(tx store.Tx, a audit.Actor, id string) (device.Device, error) {
	d, err := tx.Devices().GetDevice(id)
	if err != nil {
		return d, err
	}
	if d.CustodianID != a.PartyID {
		if ok, _ := governance.CanSeeDevice(tx, a, d); !ok {
			return d, failure.New(failure.NotFound, "device %s: not found", id)
		}
		return d, failure.New(failure.Denied, "party %s does not hold device %s (held by %s)", a.PartyID, id, d.CustodianID)
	}
	if d.External() {
		return d, failure.New(failure.Invalid, "device %s was not made by this deployment: pass on the voucher it came with (hallmark voucher extend)", id)
	}
	switch d.State {
	case device.Registered, device.Released:
		return d, nil
	case device.HandedOff:
		return d, failure.New(failure.Conflict, "device %s was handed off already", id)
	}
	return d, failure.New(failure.Conflict, "device %s is %s: custody moves only once the holder releases it (hallmark device release %s)", id, d.State, id)
}

// voucherDevice reads what a voucher carries of d: its factory chain (the certificate, then
// its CAs up to, not including, the root) and its latest build record.
func voucherDevice(tx store.Tx, d device.Device) (custodyvoucher.Device, error) {
	if _, ok := ca.ParseSerialHex(d.FactoryCert); !ok {
		return custodyvoucher.Device{}, failure.New(failure.Conflict, "device %s has no factory certificate", d.ID)
	}
	// Only the device's own factory certificate is carried (store.OwnCert).
	cert, err := store.OwnCert(tx, d.ID, d.FactoryCert, store.FactoryProfile)
	if err != nil {
		return custodyvoucher.Device{}, err
	}
	chain := []string{base64.StdEncoding.EncodeToString(cert.DER)}
	for id := cert.CAID; id != ""; {
		c, err := tx.CAs().GetCA(id)
		if err != nil {
			return custodyvoucher.Device{}, err
		}
		if c.ParentID == "" {
			break // the root: the receiver's anchor
		}
		chain = append(chain, base64.StdEncoding.EncodeToString(c.CertDER))
		id = c.ParentID
	}
	br, err := tx.BuildRecords().LatestBuildRecord(d.ID)
	if err != nil {
		return custodyvoucher.Device{}, err
	}
	env, err := buildrecord.ParseEnvelope(br.Envelope)
	if err != nil {
		return custodyvoucher.Device{}, err
	}
	return custodyvoucher.Device{Serial: d.Serial, FactoryChain: chain, BuildRecord: env}, nil
}
