// Package custodyvouchers moves custody of devices between deployments with custody vouchers
// (internal/custodyvoucher; docs/vouchers.md): a holding party exports the devices it holds to
// a receiver's public key, and the receiving deployment imports the voucher, verified offline
// against the maker registered there, and creates the devices held by the party the last link
// names. It also answers who holds a device for the BRSKI MASA (CustodyOf).
//
// Invariants:
//
//   - An export, an import and a key registration each happen in one transaction with their
//     audit event (custody.voucher.export, custody.voucher.import, custody.key.register); a
//     refused one changes nothing.
//   - An exported device is handed-off: its holder can no longer onboard it, transfer it or
//     export it again.
//   - An import is refused unless the voucher verifies against one maker registered for the
//     importing party (its anchors, intermediates and build-record keys), the last link is
//     addressed to a custody key registered to the importing party, no link of it was imported
//     before (a replay, or a second hand-over of the same devices by one holder), no device is
//     known here already (as a maker's device, or as one this deployment made: a voucher does
//     not bring a device back to the deployment that made it), and the maker's CRL or OCSP does not say a factory certificate is
//     revoked (under the maker's fail mode, as onboarding asks).
//   - Only principals that hold the custody/transfer duty export, import or register keys
//     (governance.RequireCustody).
package custodyvouchers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Config holds the collaborators.
type Config struct {
	Store store.Store
	// Keys holds the manufacturers' build-record keys, which sign the first link of an export.
	Keys keys.Provider
	// MakerStatus asks a maker's CRL or OCSP about a factory certificate at import (the
	// checker onboarding uses); nil refuses imports (Unavailable).
	MakerStatus operational.MakerStatus
	Now         func() time.Time
}

// Service exports and imports custody vouchers.
type Service struct{ c Config }

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{c: c}
}

func (s *Service) event(a audit.Actor, action, subject string, detail any) audit.Event {
	return governance.Event(a, s.c.Now(), action, "", "party:"+a.PartyID, subject, detail)
}

// RegisterKey records a public key ("PUBLIC KEY" PEM: ECDSA P-256, P-384 or Ed25519) to
// which custody vouchers for the caller's party may be addressed. A key belongs to one party.
func (s *Service) RegisterKey(ctx context.Context, a audit.Actor, name, publicKeyPEM string) (store.CustodyKey, error) {
	if err := party.ValidSlug("key name", name); err != nil {
		return store.CustodyKey{}, err
	}
	pub, err := buildrecord.ParsePublicKeyPEM([]byte(strings.TrimSpace(publicKeyPEM) + "\n"))
	if err != nil {
		return store.CustodyKey{}, failure.Wrap(failure.Invalid, err, "custody key")
	}
	id, err := custodyvoucher.KeyID(pub)
	if err != nil {
		return store.CustodyKey{}, err
	}
	pemText, err := buildrecord.MarshalPublicKeyPEM(pub)
	if err != nil {
		return store.CustodyKey{}, err
	}
	k := store.CustodyKey{KeyID: id, PartyID: a.PartyID, Name: name, PublicKeyPEM: string(pemText), CreatedBy: a.PrincipalID, CreatedAt: s.c.Now()}
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		if err := requireHolder(tx, a); err != nil {
			return err
		}
		if err := tx.CustodyVouchers().AddCustodyKey(k); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "custody key %s is registered already", id)
			}
			return err
		}
		_, err := tx.Audit().Append(s.event(a, "custody.key.register", "custody-key:"+id, map[string]any{"name": name}))
		return err
	})
	return k, err
}

// Keys lists the custody keys of the caller's party.
func (s *Service) Keys(ctx context.Context, a audit.Actor) ([]store.CustodyKey, error) {
	var out []store.CustodyKey
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.CustodyVouchers().ListCustodyKeys(a.PartyID); return err })
	return out, err
}

// List returns the vouchers the caller's party exported or imported, newest first.
func (s *Service) List(ctx context.Context, a audit.Actor) ([]store.VoucherRecord, error) {
	var out []store.VoucherRecord
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) { out, err = tx.CustodyVouchers().ListVouchers(a.PartyID); return err })
	return out, err
}

// Get returns a voucher of the caller's party with its file.
func (s *Service) Get(ctx context.Context, a audit.Actor, id string) (store.VoucherRecord, error) {
	var v store.VoucherRecord
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
		if v, err = tx.CustodyVouchers().GetVoucher(id); err != nil {
			return err
		}
		if v.PartyID != a.PartyID {
			return failure.New(failure.NotFound, "custody voucher %s: not found", id)
		}
		return nil
	})
	return v, err
}

// requireHolder checks that the caller acts for a party that can hold devices (not the
// deployment scope, not an auditor) and that its principal holds the custody/transfer duty.
func requireHolder(tx store.Tx, a audit.Actor) error {
	p, err := governance.ActorParty(tx, a)
	if err != nil {
		return err
	}
	if p.Kind == party.Auditor {
		return failure.New(failure.Denied, "party %s is an auditor: auditors hold no devices and hand none on", p.ID)
	}
	return governance.RequireCustody(tx, a)
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func hexOf(b [32]byte) string { return hex.EncodeToString(b[:]) }

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// Key is a registered custody key, and Record a voucher exported or imported here, as the
// store keeps them.
type (
	Key    = store.CustodyKey
	Record = store.VoucherRecord
)
