package authority_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
)

// newAuthority is a real SQLite store and file key provider holding party acme.
func newAuthority(t *testing.T) (store.Store, *authority.Authority) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kp, err := keyfile.New(filepath.Join(dir, "keys"), keys.Secret("authority-test"))
	if err != nil {
		t.Fatal(err)
	}
	linter, err := issuance.NewLinter()
	if err != nil {
		t.Fatal(err)
	}
	seed(t, st, func(tx store.Tx) error {
		return tx.Parties().CreateParty(party.Party{ID: "acme", Name: "Acme", Kind: party.Manufacturer, CreatedAt: t0})
	})
	return st, authority.New(authority.Config{Store: st, Keys: kp, Linter: linter, Now: func() time.Time { return t0 }, Rand: rand.Reader})
}

func seed(t *testing.T, st store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "test", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func appendEvent(tx store.Tx, _ ca.CA) error {
	_, err := tx.Audit().Append(audit.Event{At: t0, PartyID: "acme", PrincipalID: "test", Action: "ca.create"})
	return err
}

// TestChain: the walk up the CA tree gives the CA, then its parents to the root; ChainPEM
// gives the same certificates as PEM; an unknown CA and a tree deeper than the bound are
// errors.
func TestChain(t *testing.T) {
	st, a := newAuthority(t)
	root, issuing, err := a.CreateHierarchy(ctx, authority.HierarchyRequest{PartyID: "acme", Organization: "Acme", Stage: "manufacturing", Name: "acme",
		RootLife: 10 * 365 * 24 * time.Hour, IssuingLife: 5 * 365 * 24 * time.Hour}, appendEvent)
	if err != nil {
		t.Fatal(err)
	}

	chain, err := a.Chain(ctx, issuing.ID)
	if err != nil || len(chain) != 2 || chain[0].ID != issuing.ID || chain[1].ID != root.ID {
		t.Fatalf("Chain(issuing) = %v, %v; want issuing then root", ids(chain), err)
	}
	if chain, err := a.Chain(ctx, root.ID); err != nil || len(chain) != 1 || chain[0].ID != root.ID {
		t.Fatalf("Chain(root) = %v, %v; want the root alone", ids(chain), err)
	}
	certs, err := certpem.Parse([]byte(a.ChainPEM(ctx, issuing)), certpem.Options{What: "ChainPEM"})
	if err != nil || len(certs) != 2 || !certs[0].Equal(issuing.Cert) || !certs[1].Equal(root.Cert) {
		t.Fatalf("ChainPEM: %d certificates, %v; want issuing then root", len(certs), err)
	}
	if err := certs[0].CheckSignatureFrom(certs[1]); err != nil {
		t.Fatalf("the issuing CA's certificate is not signed by the root's: %v", err)
	}

	if chain, err := a.Chain(ctx, "ca-nope"); !failure.Is(err, failure.NotFound) || len(chain) != 0 {
		t.Fatalf("Chain(unknown) = %v, %v; want not found", ids(chain), err)
	}

	// Nine CAs, each the parent of the next: one more than a walk reads.
	der := storetest.SelfSignedForTest(t)
	seed(t, st, func(tx store.Tx) error {
		for i := range 9 {
			c := ca.CA{ID: fmt.Sprintf("ca-deep-%d", i), PartyID: "acme", Stage: "manufacturing", Role: ca.Issuing, Name: fmt.Sprintf("deep-%d", i), CertDER: der, CreatedAt: t0}
			if i > 0 {
				c.ParentID = fmt.Sprintf("ca-deep-%d", i-1)
			} else {
				c.Role = ca.Root
			}
			if err := tx.CAs().CreateCA(c); err != nil {
				return err
			}
		}
		return nil
	})
	chain, err = a.Chain(ctx, "ca-deep-8")
	if err == nil || !strings.Contains(err.Error(), "without a root") || len(chain) != 8 {
		t.Fatalf("Chain(ca-deep-8) = %d CAs, %v; want the 8 read and an error", len(chain), err)
	}
	if chain, err := a.Chain(ctx, "ca-deep-7"); err != nil || len(chain) != 8 || chain[7].ID != "ca-deep-0" {
		t.Fatalf("Chain(ca-deep-7) = %v, %v; want 8 CAs to the root", ids(chain), err)
	}
}

func ids(cs []ca.CA) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
