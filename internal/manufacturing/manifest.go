package manufacturing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/manifest"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Manifest is a manufacturer's signed device manifest.
type Manifest struct {
	ManufacturerID string
	LotIDs         []string
	// Envelope is the DSSE envelope (JSON) that internal/manifest.VerifyDSSE reads: every
	// device of the lots whose factory certificate is good, by serial and key.
	Envelope []byte
	Devices  int
	SHA256   [32]byte // of Envelope
}

// MaxManifestLots bounds the lots one manifest lists.
const MaxManifestLots = 100

// SignManifest signs, with the manufacturer's build-record key, the device manifest of some
// of its lots: the devices whose factory certificate is issued and not revoked, each by its
// serial and the SHA-256 of its key's SubjectPublicKeyInfo, as a maker that does not run
// Hallmark hands one to its operators (docs/external-makers.md). An operator's active manifest
// is replaced by the next it imports, so one manifest names every lot shipped to it. An
// operator that runs Hallmark registers the build-record key (hallmark buildrecord keys) as
// the maker's manifest key and imports the envelope. Only a principal of the manufacturer may
// (failure.Denied otherwise); a lot of another manufacturer is not found. The signature is
// audited (manifest.sign, with the lots, the devices and the envelope's SHA-256).
func (s *Service) SignManifest(ctx context.Context, a audit.Actor, mfrID string, lotIDs []string) (Manifest, error) {
	out := Manifest{ManufacturerID: mfrID}
	if a.PartyID != mfrID {
		return out, failure.New(failure.Denied, "manufacturer %s: only its own principals sign its manifests, with its build-record key", mfrID)
	}
	if len(lotIDs) == 0 || len(lotIDs) > MaxManifestLots {
		return out, failure.New(failure.Invalid, "a manifest lists 1 to %d lots, not %d", MaxManifestLots, len(lotIDs))
	}
	var entries []manifest.Entry
	var mfrName string
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out.LotIDs, entries = nil, nil
		p, err := requireManufacturer(tx, mfrID)
		if err != nil {
			return err
		}
		mfrName = p.Name
		seen := map[string]bool{}
		for _, id := range lotIDs {
			if seen[id] {
				return failure.New(failure.Invalid, "lot %s is named twice", id)
			}
			seen[id] = true
			l, err := tx.Catalog().GetLot(id)
			if failure.Is(err, failure.NotFound) || err == nil && l.ManufacturerID != mfrID {
				return failure.New(failure.NotFound, "lot %s: not a lot of %s", id, mfrID)
			}
			if err != nil {
				return err
			}
			out.LotIDs = append(out.LotIDs, id)
			for after := ""; ; {
				page, err := tx.Devices().ListDevices(store.DeviceFilter{LotID: id, After: after, Limit: 1000})
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
					break
				}
				after = page[len(page)-1].ID
			}
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	if len(entries) == 0 {
		return out, failure.New(failure.Invalid, "the lots have no device with a good factory certificate: there is nothing to list")
	}
	signer, err := s.buildRecordSigner(ctx, a, mfrID)
	if err != nil {
		return out, fmt.Errorf("manifest: the build-record key: %w", err)
	}
	if out.Envelope, err = manifest.SignDSSE(mfrName, s.now(), entries, signer, rand.Reader); err != nil {
		return out, fmt.Errorf("manifest: %w", err)
	}
	out.Devices, out.SHA256 = len(entries), sha256.Sum256(out.Envelope)
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Audit().Append(s.event(a, "manifest.sign", "manufacturer:"+mfrID, "manufacturer:"+mfrID,
			map[string]any{"lots": out.LotIDs, "devices": out.Devices, "envelope_sha256": fmt.Sprintf("%x", out.SHA256)}))
		return err
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest: recording the signature: %w", err)
	}
	return out, nil
}

// manifestEntry is a device's manifest entry, if its factory certificate is good.
func manifestEntry(tx store.Tx, d device.Device) (manifest.Entry, bool, error) {
	if _, ok := ca.ParseSerialHex(d.FactoryCert); !ok || d.State == device.FactoryRevoked {
		return manifest.Entry{}, false, nil
	}
	// The key listed is that of the device's own factory certificate only (store.OwnCert).
	c, err := store.OwnCert(tx, d.ID, d.FactoryCert, store.FactoryProfile)
	if err != nil {
		return manifest.Entry{}, false, err
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
