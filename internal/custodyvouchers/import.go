package custodyvouchers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Imported is an import: its record and the devices created, held by the importing party.
type Imported struct {
	Record    store.VoucherRecord
	Maker     maker.Maker
	DeviceIDs []string
}

// Import verifies a custody voucher file offline against the makers registered for the
// caller's party and creates its devices, held by that party, with their origin naming the
// maker (as a first onboarding of an external device would). See the package invariants for
// what is refused; a refusal changes nothing.
func (s *Service) Import(ctx context.Context, a audit.Actor, file []byte) (Imported, error) {
	// Who may, before the file is read.
	if err := s.c.Store.View(ctx, func(tx store.Tx) error { return requireHolder(tx, a) }); err != nil {
		return Imported{}, err
	}
	v, err := custodyvoucher.Parse(file)
	if err != nil {
		return Imported{}, err
	}
	now := s.c.Now()
	var (
		m   maker.Maker
		ver *custodyvoucher.Verified
	)
	err = s.c.Store.View(ctx, func(tx store.Tx) error {
		if err := requireHolder(tx, a); err != nil {
			return err
		}
		registered, err := tx.Makers().ListMakers(a.PartyID)
		if err != nil {
			return err
		}
		m, ver, err = verifyAgainst(v, registered, a.PartyID, now)
		if err != nil {
			return err
		}
		k, err := tx.CustodyVouchers().GetCustodyKey(ver.HolderKeyID)
		if failure.Is(err, failure.NotFound) || (err == nil && k.PartyID != a.PartyID) {
			last := ver.Links[len(ver.Links)-1]
			return failure.New(failure.Denied, "wrong addressee: the voucher's last link is addressed to key %s (%q), which is not a custody key of party %s (hallmark voucher key list); a voucher whose chain was cut short is addressed to an earlier holder",
				ver.HolderKeyID, last.To, a.PartyID)
		}
		if err != nil {
			return err
		}
		return notMadeHere(tx, ver.Devices)
	})
	if err != nil {
		return Imported{}, err
	}
	if s.c.MakerStatus == nil {
		return Imported{}, failure.New(failure.Unavailable, "this server checks no maker's revocation status: custody vouchers cannot be imported")
	}
	for _, d := range ver.Devices {
		if _, err := s.c.MakerStatus.Check(ctx, operational.StatusQuery{Device: d.Factory(), Issuer: d.Issuer(), CRLURLs: m.CRLURLs, OCSPURLs: m.OCSPURLs, Mode: m.Policy.Mode()}); err != nil {
			return Imported{}, fmt.Errorf("device %s of the voucher: %w", d.Serial, err)
		}
	}
	rec := store.VoucherRecord{ID: party.NewID("cvi"), PartyID: a.PartyID, Direction: "import", MakerID: m.ID, SHA256: sum(file), Content: file,
		Devices: len(ver.Devices), FinalLink: ver.Hashes[len(ver.Hashes)-1], AddresseeKeyID: ver.HolderKeyID, CreatedBy: a.PrincipalID, CreatedAt: now}
	links := make([]store.VoucherLink, len(ver.Links))
	for i, l := range ver.Links {
		kid, _ := l.Addressee()
		links[i] = store.VoucherLink{Hash: ver.Hashes[i], Previous: l.Previous, VoucherID: rec.ID, Position: i, AddresseeKeyID: mustKeyID(kid)}
	}
	ids := make([]string, len(ver.Devices))
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		ids = make([]string, len(ver.Devices)) // filled anew by every run
		origins := make([]map[string]any, len(ver.Devices))
		if err := requireHolder(tx, a); err != nil {
			return err
		}
		if err := unseen(tx, links); err != nil {
			return err
		}
		if err := notMadeHere(tx, ver.Devices); err != nil {
			return err
		}
		for i, vd := range ver.Devices {
			// Named as onboarding names a maker's device, so that it finds this record.
			_, hw, _ := issuance.ParseHardwareModuleName(vd.Factory())
			serial := maker.DeviceSerial(vd.Factory(), hw)
			if o, err := tx.Makers().OriginBySerial(m.ID, serial); err == nil {
				return failure.New(failure.Conflict, "device %s of maker %s is known here already (device %s): a voucher brings only devices this deployment has not seen", serial, m.Name, o.DeviceID)
			} else if !failure.Is(err, failure.NotFound) {
				return err
			}
			d := device.Device{ID: operational.ExternalDeviceID(m.ID, serial), Serial: serial, State: device.Registered, CustodianID: a.PartyID, CreatedAt: now, UpdatedAt: now}
			if err := tx.Devices().CreateDevice(d); err != nil {
				return fmt.Errorf("device %s: %w", vd.Serial, err)
			}
			o := maker.Origin{DeviceID: d.ID, MakerID: m.ID, Serial: serial, Factory: vd.Factory(), Issuer: vd.Issuer(), FactorySerial: ca.SerialHex(vd.Factory().SerialNumber),
				SPKISHA256: maker.SPKISHA256(vd.Factory()), State: maker.Good, CreatedAt: now}
			if err := tx.Makers().CreateOrigin(o); err != nil {
				return fmt.Errorf("device %s: %w", vd.Serial, err)
			}
			ids[i] = d.ID
			// The certificate each origin holds, for the reconciliation of origins with the log.
			origins[i] = map[string]any{"device": d.ID, "factory_certificate": o.FactorySerial, "factory_sha256": hexOf(sha256.Sum256(o.Factory.Raw))}
		}
		if err := tx.CustodyVouchers().AddVoucher(rec, ids, links); err != nil {
			return err
		}
		chain := make([]map[string]any, len(ver.Links))
		for i, l := range ver.Links {
			chain[i] = map[string]any{"from": l.From, "to": l.To, "sender_key": l.SenderKeyID, "issued_at": l.IssuedAt, "hash": ver.Hashes[i]}
		}
		_, err := tx.Audit().Append(s.event(a, "custody.voucher.import", "custody-voucher:"+rec.ID, map[string]any{
			"maker": m.ID, "maker_name": m.Name, "devices": ids, "origins": origins, "links": chain, "addressee_key": ver.HolderKeyID, "sha256": hexOf(rec.SHA256)}))
		return err
	})
	if err != nil {
		return Imported{}, err
	}
	rec.Content = nil
	return Imported{Record: rec, Maker: m, DeviceIDs: ids}, nil
}

// verifyAgainst verifies v against each maker registered for the party and returns the
// first it verifies against. When none does, the refusal of a maker whose anchor the first
// device chains to is returned, else a refusal naming the makers tried.
func verifyAgainst(v *custodyvoucher.Voucher, registered []maker.Maker, partyID string, now time.Time) (maker.Maker, *custodyvoucher.Verified, error) {
	var firstErr error
	var tried []string
	for _, m := range registered {
		keys, err := makers.BuildRecordKeys(m)
		if err != nil {
			return m, nil, err
		}
		if len(keys) == 0 {
			continue
		}
		tried = append(tried, m.Name)
		ver, err := custodyvoucher.Verify(v, custodyvoucher.Trust{Anchors: m.Anchors, Intermediates: m.Intermediates, BuildRecordKeys: keys}, now)
		if err == nil {
			return m, ver, nil
		}
		if firstErr == nil || !strings.Contains(err.Error(), "factory chain") {
			firstErr = err // a refusal past the chain check names the maker the voucher is for
		}
	}
	if firstErr != nil {
		return maker.Maker{}, nil, firstErr
	}
	if len(tried) == 0 {
		return maker.Maker{}, nil, failure.New(failure.Invalid, "party %s has no maker registered with a build-record key (hallmark maker register --build-record-key): a custody voucher cannot be verified", partyID)
	}
	return maker.Maker{}, nil, errors.New("unreachable")
}

// notMadeHere refuses a voucher that brings a device this deployment made itself: one whose
// factory certificate (the same DER) this deployment issued. Such a device is here already,
// under its own manufacturer (handed-off after its export, or still registered or released if
// the voucher was made elsewhere from its chain); creating it a second time as an external
// device would give one device two identities. A voucher does not bring a device back to the
// deployment that made it.
func notMadeHere(tx store.Tx, devs []custodyvoucher.VerifiedDevice) error {
	for _, vd := range devs {
		c, err := tx.Certificates().GetCert(vd.Factory().SerialNumber)
		if failure.Is(err, failure.NotFound) {
			continue
		} else if err != nil {
			return fmt.Errorf("looking up the factory certificate of device %s: %w", vd.Serial, err)
		}
		if !bytes.Equal(c.DER, vd.Factory().Raw) {
			continue // another CA's certificate of the same serial: not this one
		}
		d, err := tx.Devices().GetDevice(c.DeviceID)
		if err != nil {
			return fmt.Errorf("device %s of factory certificate %s: %w", c.DeviceID, ca.SerialHex(c.Serial), err)
		}
		return failure.New(failure.Conflict, "device %s of the voucher was made by this deployment (device %s, %s, of manufacturer %s): a custody voucher brings devices made elsewhere; a device cannot come back to the deployment that made it by voucher",
			vd.Serial, d.ID, d.State, d.ManufacturerID)
	}
	return nil
}

// unseen refuses a voucher any link of which was imported here before: the same voucher
// again (its last link), or one that shares an earlier link with an imported one, which is a
// replay of that hand-over or the same holder handing the same devices on twice.
func unseen(tx store.Tx, links []store.VoucherLink) error {
	for i, l := range links {
		prev, err := tx.CustodyVouchers().GetLink(l.Hash)
		if failure.Is(err, failure.NotFound) {
			continue
		} else if err != nil {
			return err
		}
		if i == len(links)-1 {
			return failure.New(failure.Conflict, "replay: this voucher was imported already (its last link %s is link %d of custody voucher %s)", l.Hash, prev.Position, prev.VoucherID)
		}
		return failure.New(failure.Conflict, "replay: link %d of this voucher (%s) was imported already, in custody voucher %s: these devices were handed on from there before (a replayed or doubled hand-over)", i, l.Hash, prev.VoucherID)
	}
	return nil
}

func mustKeyID(pub any) string {
	id, _ := custodyvoucher.KeyID(pub)
	return id
}
