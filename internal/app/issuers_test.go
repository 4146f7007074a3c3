package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/est"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/makers"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// testCA is a CA certificate and key of the test's own, and a certificate it issued.
func testCA(t *testing.T, cn string) (ca, leaf *x509.Certificate) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"Outside maker"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(der)
	dk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err = x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn + " device"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}, ca, dk.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(der)
	return ca, leaf
}

// TestIssuerCache runs the EST issuer cache on a real SQLite store: an anchor registered after
// the cache was filled is found on the first miss once a second has passed; misses within
// that second cost no read; a failed read refuses every certificate (fail closed) until a read
// succeeds.
func TestIssuerCache(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kp, err := keyfile.New(filepath.Join(t.TempDir(), "keys"), keys.Secret("issuer cache test"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	a, err := Build(Wiring{Store: st, Keys: kp, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	admin := bootstrapPartyAdmin(t, a, party.Party{ID: "contoso", Name: "Contoso", Kind: party.Operator})

	c := newIssuerCache(a.Store, quiet, nil)
	now := time.Now()
	c.now = func() time.Time { return now }
	var reads atomic.Int64
	var broken atomic.Bool
	load := c.load
	c.load = func(ctx context.Context) ([]*x509.Certificate, error) {
		reads.Add(1)
		if broken.Load() {
			return nil, errors.New("injected: the database is away")
		}
		return load(ctx)
	}
	c.refresh(c.snap.Load(), true) // at the test's clock

	anchor, device := testCA(t, "Outside Root")
	_, stranger := testCA(t, "Stranger Root")
	if _, err := a.Manufacturing.RegisterAnchor(ctx, admin, manufacturing.RegisterAnchorRequest{Name: "outside", CertificatePEM: string(pemCert(anchor.Raw))}); err != nil {
		t.Fatal(err)
	}
	var ue *est.UnknownIssuerError
	reads.Store(0)
	if err := c.Issued([]*x509.Certificate{device}); !errors.As(err, &ue) {
		t.Fatalf("within a second of the last read the new anchor is not known yet: %v", err)
	}
	if err := c.Issued([]*x509.Certificate{stranger}); err == nil || reads.Load() != 0 {
		t.Fatalf("misses within a second read the store %d times (stranger: %v)", reads.Load(), err)
	}
	now = now.Add(issuerMissGap)
	if err := c.Issued([]*x509.Certificate{device}); err != nil {
		t.Fatalf("after a second, a miss reads again and finds the anchor: %v", err)
	}
	if err := c.Issued([]*x509.Certificate{stranger}); err == nil {
		t.Fatal("a stranger passed")
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads, want 1", n)
	}

	// The periodic read fails: closed for everyone, until a read succeeds.
	broken.Store(true)
	now = now.Add(issuerRefresh)
	if err := c.Issued([]*x509.Certificate{device}); !errors.As(err, &ue) || !errors.Is(err, ue.Err) || ue.Subject != "" {
		t.Fatalf("with the store away a known certificate passed or was refused oddly: %v", err)
	}
	broken.Store(false)
	if err := c.Issued([]*x509.Certificate{device}); err == nil {
		t.Fatal("within a second of the failed read a certificate passed")
	}
	now = now.Add(issuerMissGap)
	if err := c.Issued([]*x509.Certificate{device}); err != nil {
		t.Fatalf("the store is back: %v", err)
	}

	// A maker that does not run Hallmark: its devices' certificates pass once it is
	// registered (its anchors are known issuers), and not before.
	makerRoot, sensor := testCA(t, "Sensors Root")
	now = now.Add(issuerMissGap)
	if err := c.Issued([]*x509.Certificate{sensor}); !errors.As(err, &ue) {
		t.Fatalf("a device of an unregistered maker passed: %v", err)
	}
	// The registration invalidates the listener's set: the next miss reads again at once,
	// within the second that otherwise bounds reads.
	a.estIssuers.Store(c)
	if _, err := a.Makers.Register(ctx, admin, makers.RegisterRequest{Name: "sensors", AnchorsPEM: string(pemCert(makerRoot.Raw))}); err != nil {
		t.Fatal(err)
	}
	reads.Store(0)
	if err := c.Issued([]*x509.Certificate{sensor}); err != nil {
		t.Fatalf("a device of a maker registered a moment ago: %v", err)
	}
	if err := c.Issued([]*x509.Certificate{stranger}); err == nil || reads.Load() != 1 {
		t.Fatalf("after the invalidation's read, a stranger made more reads (%d) or passed (%v)", reads.Load(), err)
	}
}
