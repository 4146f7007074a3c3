package authority

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/store"
)

// maxCrossCerts bounds the cross-certificates Path adds: a root line of maxChainDepth roots
// has two per rollover.
const maxCrossCerts = 2 * maxChainDepth

// Path returns what a relying party needs to verify a certificate of CA id whatever root of
// its root's line it trusts: the CA's chain below its root (the CA, then the CAs above it, as
// Chain), every cross-certificate of that root's line — of the roots that rolled over to it
// or from it, then of theirs, and so on along the line, nearest first — and the root last.
// RFC 7030 section 4.1.3 serves these in /cacerts (RFC 4210 section 4.4's OldWithNew and
// NewWithOld).
//
// The root comes last because OpenSSL takes the first matching issuer among untrusted
// certificates: a relying party that trusts the other root of a rollover must meet the
// cross-certificate, which bears the root's name and key, before the self-signed root.
func (a *Authority) Path(ctx context.Context, id string) ([]*x509.Certificate, error) {
	chain, err := a.Chain(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]*x509.Certificate, 0, len(chain)+2)
	for _, c := range chain[:len(chain)-1] {
		out = append(out, c.Cert)
	}
	root := chain[len(chain)-1].ID
	err = a.c.Store.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out = out[:len(chain)-1]
		seen := map[string]bool{root: true}
		added := map[string]bool{}
		queue := []string{root}
		for len(queue) > 0 && len(seen) <= maxChainDepth {
			id := queue[0]
			queue = queue[1:]
			xs, err := tx.Succession().CrossCerts(id)
			if err != nil {
				return fmt.Errorf("reading the cross-certificates of %s: %w", id, err)
			}
			for _, x := range xs {
				if !added[x.Serial] && len(added) < maxCrossCerts {
					added[x.Serial] = true
					out = append(out, x.Cert)
				}
				for _, next := range []string{x.SubjectID, x.IssuerID} {
					if !seen[next] {
						seen[next] = true
						queue = append(queue, next)
					}
				}
			}
		}
		return nil
	})
	return append(out, chain[len(chain)-1].Cert), err
}
