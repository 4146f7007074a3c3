package app

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/store"
)

// maxCAKeyErrors bounds the CAs one start-up refusal names.
const maxCAKeyErrors = 20

// checkCAKeys fails when the key of an active CA does not resolve through the configured key
// backends, or resolves to a key that is not the one its certificate names: the start-up check
// that keeps a configuration which moved a kind of key to another backend (keys.kinds) after
// CAs were made from starting with CAs unable to sign until their first use. A CA is active
// when it holds a key (not an anchor), no whole-CA revocation retired it, and its certificate
// has not ended at now: it may still be asked to issue or to sign its status. where names the
// backend a key ID goes to, for the error. Each failing CA is named with its key ID (at most
// maxCAKeyErrors of them).
func checkCAKeys(ctx context.Context, st store.Store, kp keys.Provider, now time.Time, where func(keyID string) string) error {
	var cas []ca.CA
	if err := st.View(ctx, func(tx store.Tx) (err error) { cas, err = tx.CAs().ListCAs(""); return err }); err != nil {
		return fmt.Errorf("keys: listing the CAs to check their keys: %w", err)
	}
	var errs []error
	failed := 0
	for _, c := range cas {
		if c.KeyID == "" || c.RetiredAt != nil {
			continue
		}
		cert := c.Cert
		if cert == nil {
			var err error
			if cert, err = x509.ParseCertificate(c.CertDER); err != nil {
				return fmt.Errorf("keys: CA %s: parsing its certificate: %w", c.ID, err)
			}
		}
		if !now.Before(cert.NotAfter) {
			continue
		}
		err := checkCAKey(ctx, kp, c.KeyID, cert)
		if err == nil {
			continue
		}
		if failed++; failed <= maxCAKeyErrors {
			errs = append(errs, fmt.Errorf("CA %s (%s %s %q of party %s): key %s in the %s: %w", c.ID, c.Stage, c.Role, c.Name, c.PartyID, c.KeyID, where(c.KeyID), err))
		}
	}
	if failed == 0 {
		return nil
	}
	if failed > maxCAKeyErrors {
		errs = append(errs, fmt.Errorf("and %d more CAs", failed-maxCAKeyErrors))
	}
	return fmt.Errorf("keys: %d active CAs cannot sign with the configured key backends (keys.backend, keys.kinds; docs/keys.md); put their keys back where the configuration says or configure the backend that holds them:\n%w",
		failed, errors.Join(errs...))
}

// checkCAKey loads the key under keyID and checks that it is the key cert certifies.
func checkCAKey(ctx context.Context, kp keys.Provider, keyID string, cert *x509.Certificate) error {
	s, err := keys.Load(ctx, kp, keyID)
	if err != nil {
		return err
	}
	pub, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return errors.New("the key found is not the one the CA's certificate names")
	}
	return nil
}

// keyPlace names where the configuration puts a key: the backend of its kind, or of its URI's
// scheme.
func keyPlace(k interface{ BackendFor(string) string }) func(string) string {
	return func(keyID string) string {
		if keys.IsURI(keyID) {
			return "backend of its key URI"
		}
		return "\"" + k.BackendFor(string(keys.KindOf(keyID))) + "\" backend"
	}
}
