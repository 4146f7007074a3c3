package manufacturing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/manifest"
	"github.com/hallmark-id/hallmark/internal/store"
)

// LotManifest is a lot's signed device manifest.
type LotManifest struct {
	Lot device.Lot
	// Envelope is the DSSE envelope (JSON) that internal/manifest.VerifyDSSE reads: every
	// device of the lot whose factory certificate is good, by serial and key.
	Envelope []byte
	Devices  int
	SHA256   [32]byte // of Envelope
}

// SignLotManifest signs, with the manufacturer's build-record key, the manifest of a lot: the
// devices whose factory certificate is issued and not revoked, each by its serial and the
// SHA-256 of its key's SubjectPublicKeyInfo, as a maker that does not run Hallmark hands one
// to its operators (docs/external-makers.md). An operator that runs Hallmark registers the
// build-record key (hallmark buildrecord keys) as the maker's manifest key and imports the
// envelope. Only a principal of the lot's manufacturer may; the signature is audited
// (lot.manifest.sign, with the devices and the envelope's SHA-256). Another party that sees
// the lot is denied; one that does not, told it is not found.
func (s *Service) SignLotManifest(ctx context.Context, a audit.Actor, lotID string) (LotManifest, error) {
	var out LotManifest
	var entries []manifest.Entry
	var mfrName string
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		l, err := tx.Catalog().GetLot(lotID)
		if err != nil {
			return err
		}
		sight, err := governance.SightOf(tx, a, l.ManufacturerID)
		if err != nil {
			return err
		}
		if !sight.Lot(l) {
			return failure.New(failure.NotFound, "lot %s: not found", lotID)
		}
		if a.PartyID != l.ManufacturerID {
			return failure.New(failure.Denied, "lot %s: only its manufacturer %s signs its manifest, with its build-record key", lotID, l.ManufacturerID)
		}
		p, err := tx.Parties().GetParty(l.ManufacturerID)
		if err != nil {
			return err
		}
		out.Lot, mfrName = l, p.Name
		for after := ""; ; {
			page, err := tx.Devices().ListDevices(store.DeviceFilter{LotID: lotID, After: after, Limit: 1000})
			if err != nil {
				return err
			}
			for _, d := range page {
				e, ok, err := manifestEntry(tx, d)
				if err != nil {
					return err
				}
				if ok {
					entries = append(entries, e)
				}
			}
			if len(page) < 1000 {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
	if err != nil {
		return out, err
	}
	if len(entries) == 0 {
		return out, failure.New(failure.Invalid, "lot %s has no device with a good factory certificate: there is nothing to list", lotID)
	}
	signer, err := s.buildRecordSigner(ctx, a, out.Lot.ManufacturerID)
	if err != nil {
		return out, fmt.Errorf("lot manifest: the build-record key: %w", err)
	}
	if out.Envelope, err = manifest.SignDSSE(mfrName, s.now(), entries, signer, rand.Reader); err != nil {
		return out, fmt.Errorf("lot manifest: %w", err)
	}
	out.Devices, out.SHA256 = len(entries), sha256.Sum256(out.Envelope)
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Audit().Append(s.event(a, "lot.manifest.sign", "lot:"+lotID, "lot:"+lotID,
			map[string]any{"devices": out.Devices, "envelope_sha256": fmt.Sprintf("%x", out.SHA256)}))
		return err
	})
	if err != nil {
		return LotManifest{}, fmt.Errorf("lot manifest: recording the signature: %w", err)
	}
	return out, nil
}

// manifestEntry is a device's manifest entry, if its factory certificate is good.
func manifestEntry(tx store.Tx, d device.Device) (manifest.Entry, bool, error) {
	serial, ok := new(big.Int).SetString(d.FactoryCert, 16)
	if !ok || d.State == device.FactoryRevoked {
		return manifest.Entry{}, false, nil
	}
	c, err := tx.Certificates().GetCert(serial)
	if err != nil {
		return manifest.Entry{}, false, fmt.Errorf("device %s: factory certificate %s: %w", d.ID, d.FactoryCert, err)
	}
	if c.State != ca.Issued {
		return manifest.Entry{}, false, nil
	}
	e := manifest.Entry{Serial: d.Serial, HasSPKI: true}
	if len(c.KeySHA256) == sha256.Size {
		copy(e.SPKI[:], c.KeySHA256)
		return e, true, nil
	}
	// A certificate reserved before keys were recorded: its key from the certificate.
	cert, err := x509.ParseCertificate(c.DER)
	if err != nil {
		return manifest.Entry{}, false, fmt.Errorf("device %s: factory certificate %s: %w", d.ID, d.FactoryCert, err)
	}
	e.SPKI = sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return e, true, nil
}
