package manufacturing

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Build-record key rotation (docs/rotation.md). A manufacturer's build-record key is replaced
// by a new one from the key provider; the old key signs nothing more but stays in the key
// history, and every build record names the key that signed it (its DSSE keyid), so records
// signed before the rotation verify with the history (BuildRecordKeys) as they did before.

// BuildRecordKey is a build-record key with its DSSE keyid and PEM.
type BuildRecordKey struct {
	ca.SigningKey
	DSSEKeyID    string `json:"keyid"` // the DSSE keyid of its signatures (buildrecord.KeyID)
	PublicKeyPEM string `json:"public_key_pem"`
}

func buildRecordKey(k ca.SigningKey) BuildRecordKey {
	v := BuildRecordKey{SigningKey: k, PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.PublicKeyDER}))}
	if pub, err := x509.ParsePKIXPublicKey(k.PublicKeyDER); err == nil {
		v.DSSEKeyID, _ = buildrecord.KeyID(pub)
	}
	return v
}

// RotateBuildRecordKey replaces a manufacturer's build-record key: the caller must own
// manufacturing/issue over the manufacturer, as for its CAs. Factory issuances under way keep
// the key they loaded; their records verify with the history. A manufacturer without a key
// yet (it is made at the first factory issuance) has nothing to rotate: Conflict.
func (s *Service) RotateBuildRecordKey(ctx context.Context, a audit.Actor, mfrID string) (BuildRecordKey, error) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	var old ca.SigningKey
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		if _, err := requireManufacturer(tx, mfrID); err != nil {
			return err
		}
		if err := governance.Require(tx, a, stage, ownership.Issue, governance.ManufacturerChain(mfrID)); err != nil {
			return err
		}
		var err error
		old, err = tx.CAs().SigningKey(mfrID, BuildRecordPurpose)
		if failure.Is(err, failure.NotFound) {
			return failure.New(failure.Conflict, "manufacturer %s has no build-record key yet: the first factory issuance makes it", mfrID)
		}
		return err
	})
	if err != nil {
		return BuildRecordKey{}, err
	}
	k := ca.SigningKey{ID: party.NewID("sk"), PartyID: mfrID, Purpose: BuildRecordPurpose, CreatedAt: s.now()}
	k.KeyID = "brk-" + strings.TrimPrefix(k.ID, "sk_")
	signer, err := s.c.Keys.Create(ctx, k.KeyID, keys.ECDSAP256)
	if err != nil {
		return BuildRecordKey{}, fmt.Errorf("creating the new build-record key: %w", err)
	}
	if k.PublicKeyDER, err = x509.MarshalPKIXPublicKey(signer.Public()); err != nil {
		return BuildRecordKey{}, err
	}
	v := buildRecordKey(k)
	err = s.c.Store.Update(ctx, func(tx store.Tx) error {
		if err := governance.Require(tx, a, stage, ownership.Issue, governance.ManufacturerChain(mfrID)); err != nil {
			return err
		}
		if err := tx.KeyHistory().RotateSigningKey(k); err != nil {
			return err
		}
		_, err := tx.Audit().Append(s.event(a, "signing-key.rotate", "manufacturer:"+mfrID, "signing-key:"+k.ID, map[string]any{
			"purpose": k.Purpose, "public_key_sha256": fmt.Sprintf("%x", sha256.Sum256(k.PublicKeyDER)), "keyid": v.DSSEKeyID,
			"replaces": old.ID, "replaces_keyid": buildRecordKey(old).DSSEKeyID,
		}))
		return err
	})
	if err == nil {
		s.brSigners.Delete(old.KeyID) // no longer current here; other replicas read the new row
	}
	return v, err
}

// BuildRecordKeys returns a manufacturer's build-record key history, the current key first;
// it is public. NotFound when the manufacturer has no key yet.
func (s *Service) BuildRecordKeys(ctx context.Context, mfrID string) ([]BuildRecordKey, error) {
	var ks []ca.SigningKey
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
		ks, err = tx.KeyHistory().SigningKeys(mfrID, BuildRecordPurpose)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, failure.New(failure.NotFound, "manufacturer %s has no build-record key", mfrID)
	}
	out := make([]BuildRecordKey, len(ks))
	for i, k := range ks {
		out[i] = buildRecordKey(k)
	}
	return out, nil
}

// BuildRecordKeySetPEM is BuildRecordKeys as a key set file (buildrecord.ParsePublicKeysPEM):
// one PUBLIC KEY block per key, the current key first.
func (s *Service) BuildRecordKeySetPEM(ctx context.Context, mfrID string) (string, error) {
	ks, err := s.BuildRecordKeys(ctx, mfrID)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, k := range ks {
		b.WriteString(k.PublicKeyPEM)
	}
	return b.String(), nil
}
