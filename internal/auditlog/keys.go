package auditlog

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/store"
)

// The checkpoint key's history (docs/rotation.md). A rotation makes a new Ed25519 key in the
// key provider and records it in the store as the current key, retiring the one before; every
// replica reads the history before it signs and loads the current key when it changed. A
// checkpoint's signature names its key (the note key name and hash), so checkpoints signed
// before a rotation verify with the key history (KeyHistory, OpenCheckpointKeys, VerifyKeys)
// as they did before. The first checkpoint after a rotation is signed by both keys: whoever
// holds only the old key verifies it, and with it the rotation's audit event, which names the
// new key.

// Key is one key of the checkpoint key history, as the store records it.
type Key = store.AuditKey

// activeKey is a checkpoint key this replica holds.
type activeKey struct {
	keyID string
	ns    *NoteSigner
}

// keyState is the key a Service signs with now.
type keyState struct {
	provider keys.Provider
	mu       sync.Mutex // one load at a time
	cur      atomic.Pointer[activeKey]
}

func (k *keyState) init(p keys.Provider, id string, ns *NoteSigner) {
	k.provider = p
	k.cur.Store(&activeKey{keyID: id, ns: ns})
}

func (k *keyState) active() *activeKey { return k.cur.Load() }

// currentKey returns the key to sign with: the newest of the store's key history, loaded from
// the key provider when it is not the one held, or the configured key before any rotation.
func (s *Service) currentKey(ctx context.Context) (*activeKey, error) {
	var hist []store.AuditKey
	if err := s.st.View(ctx, func(tx store.Tx) (err error) { hist, err = tx.KeyHistory().AuditKeys(); return err }); err != nil {
		return nil, fmt.Errorf("auditlog: reading the checkpoint key history: %w", err)
	}
	cur := s.keys.active()
	if len(hist) == 0 || hist[0].KeyID == cur.keyID {
		return cur, nil
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if cur = s.keys.active(); hist[0].KeyID == cur.keyID {
		return cur, nil
	}
	if s.keys.provider == nil {
		return nil, failure.New(failure.Unavailable, "auditlog: the checkpoint key was rotated to %s, and this server has no key provider to load it from", hist[0].KeyID)
	}
	signer, err := s.keys.provider.Signer(ctx, hist[0].KeyID)
	if err != nil {
		return nil, fmt.Errorf("auditlog: loading checkpoint key %s: %w", hist[0].KeyID, err)
	}
	ns, err := NewNoteSigner(s.Origin(), signer)
	if err != nil {
		return nil, err
	}
	if ns.VerifierKey() != hist[0].VerifierKey {
		return nil, fmt.Errorf("auditlog: checkpoint key %s does not match its recorded verifier key", hist[0].KeyID)
	}
	next := &activeKey{keyID: hist[0].KeyID, ns: ns}
	s.keys.cur.Store(next)
	s.log.Info("audit checkpoint key changed", "key_id", next.keyID)
	return next, nil
}

// KeyHistory returns the checkpoint keys, the current key first. Before any rotation it is
// the one key that signs (without times).
func (s *Service) KeyHistory(ctx context.Context) ([]Key, error) {
	var hist []store.AuditKey
	if err := s.st.View(ctx, func(tx store.Tx) (err error) { hist, err = tx.KeyHistory().AuditKeys(); return err }); err != nil {
		return nil, err
	}
	if len(hist) == 0 {
		cur := s.keys.active()
		hist = []store.AuditKey{{KeyID: cur.keyID, VerifierKey: cur.ns.VerifierKey()}}
	}
	return hist, nil
}

// RotateKey replaces the checkpoint key by a new Ed25519 key from the key provider, records it
// with its audit.key.rotate event, and signs a checkpoint with both keys. Only a deployment
// administrator rotates it; a rotation that raced another fails with Conflict.
func (s *Service) RotateKey(ctx context.Context, a audit.Actor) (Key, error) {
	if !governance.IsDeploymentAdmin(a) {
		return store.AuditKey{}, failure.New(failure.Denied, "rotating the audit log's checkpoint key needs a deployment administrator")
	}
	if s.keys.provider == nil {
		return store.AuditKey{}, failure.New(failure.Unavailable, "auditlog: this server has no key provider to make a checkpoint key with")
	}
	old, err := s.currentKey(ctx)
	if err != nil {
		return store.AuditKey{}, err
	}
	id := DefaultKeyID + "-" + strings.ToLower(rand.Text()[:16])
	signer, err := s.keys.provider.Create(ctx, id, keys.Ed25519)
	if err != nil {
		return store.AuditKey{}, fmt.Errorf("auditlog: creating checkpoint key %s: %w", id, err)
	}
	ns, err := NewNoteSigner(s.Origin(), signer)
	if err != nil {
		return store.AuditKey{}, err
	}
	now := s.now()
	k := store.AuditKey{KeyID: id, VerifierKey: ns.VerifierKey(), CreatedAt: now}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		hist, err := tx.KeyHistory().AuditKeys()
		if err != nil {
			return err
		}
		switch {
		case len(hist) == 0:
			// The history begins: the key that signed until now is its first entry.
			if err := tx.KeyHistory().AddAuditKey(store.AuditKey{KeyID: old.keyID, VerifierKey: old.ns.VerifierKey(), CreatedAt: now.Add(-time.Microsecond)}); err != nil {
				return err
			}
		case hist[0].KeyID != old.keyID:
			return failure.New(failure.Conflict, "the checkpoint key was rotated meanwhile, to %s", hist[0].KeyID)
		}
		if err := tx.KeyHistory().AddAuditKey(k); err != nil {
			return err
		}
		_, err = tx.Audit().Append(audit.Event{At: now, PartyID: a.PartyID, PrincipalID: a.PrincipalID, Action: "audit.key.rotate", Scope: "deployment:*", Subject: "audit-key:" + id,
			Detail: audit.Detail(map[string]any{"verifier_key": k.VerifierKey, "replaces": old.keyID, "replaces_verifier_key": old.ns.VerifierKey()})})
		return err
	})
	if err != nil {
		return store.AuditKey{}, err
	}
	s.keys.mu.Lock()
	s.keys.cur.Store(&activeKey{keyID: id, ns: ns})
	s.keys.mu.Unlock()
	if _, err := s.checkpoint(ctx, nil, old.ns); err != nil {
		s.log.Warn("audit checkpoint after the key rotation failed; the next one is signed by the new key alone", "err", err)
	}
	return k, nil
}

// MaxVerifierKeys bounds a verifier key file; MaxVerifierKeysSize its size.
const (
	MaxVerifierKeys     = 64
	MaxVerifierKeysSize = MaxVerifierKeys * 256
)

// ParseVerifierKeys reads a checkpoint key file: one note verifier key
// ("<origin>+<hash>+<base64 key>") per line, as "hallmark audit keys" prints the history;
// blank lines and lines starting with # are skipped. It needs 1 to MaxVerifierKeys keys; any
// line that is not a verifier key is failure.Invalid, naming the line.
func ParseVerifierKeys(text []byte) ([]note.Verifier, error) {
	if len(text) > MaxVerifierKeysSize {
		return nil, failure.New(failure.TooLarge, "auditlog: verifier key file of %d bytes is over the limit of %d", len(text), MaxVerifierKeysSize)
	}
	var out []note.Verifier
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(out) == MaxVerifierKeys {
			return nil, failure.New(failure.Invalid, "auditlog: more than %d verifier keys", MaxVerifierKeys)
		}
		v, err := note.NewVerifier(line)
		if err != nil {
			return nil, failure.Wrap(failure.Invalid, err, fmt.Sprintf("auditlog: line %d is not a note verifier key", i+1))
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, failure.New(failure.Invalid, "auditlog: no verifier key")
	}
	return out, nil
}
