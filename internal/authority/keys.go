package authority

import (
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ErrKeyBound refuses a device certificate for a public key that a certificate of another
// device already carries (factory or operational, current or not): one key, one device. It
// names neither the other device nor its party, on every path (factory issuance, onboarding
// and renewal over the API and EST), so a refusal tells a caller nothing it did not know.
var ErrKeyBound = &failure.Error{Kind: failure.Conflict, Msg: "this public key is already bound to another device: every device needs a key of its own"}

// keyFree refuses rec when its key is bound to another device. Certificates of no device (CA,
// support, OCSP responder certificates) are not checked.
func keyFree(tx store.Tx, rec ca.Cert) error {
	if rec.DeviceID == "" {
		return nil
	}
	bound, err := tx.Certificates().KeyBoundElsewhere(rec.KeySHA256, rec.DeviceID)
	if err != nil {
		return err
	}
	if bound {
		return ErrKeyBound
	}
	return nil
}
