package status

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

var (
	ctx        = context.Background()
	linterOnce sync.Once
	linter     *issuance.Linter
)

// fixture is a real SQLite store and file key provider with one CA hierarchy and a Service.
type fixture struct {
	st      store.Store
	kp      keys.Provider
	auth    *authority.Authority
	issuing ca.CA
	svc     *Service
	cfg     Config
}

func ev(action string) audit.Event {
	return audit.Event{At: time.Now(), PartyID: "acme", PrincipalID: "test", Action: action}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kp, err := keyfile.New(filepath.Join(dir, "keys"), keys.Secret("status-test"))
	if err != nil {
		t.Fatal(err)
	}
	linterOnce.Do(func() { linter, err = issuance.NewLinter() })
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, kp: kp}
	f.auth = authority.New(authority.Config{Store: st, Keys: kp, Linter: linter, Now: func() time.Time { return time.Now().UTC() }, Rand: rand.Reader})
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "acme", Name: "Acme", Kind: party.Manufacturer, CreatedAt: time.Now()}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("party.create"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, f.issuing, err = f.auth.CreateHierarchy(ctx, authority.HierarchyRequest{PartyID: "acme", Organization: "Acme", Stage: "manufacturing", Name: "acme-test",
		RootLife: 10 * 365 * 24 * time.Hour, IssuingLife: 5 * 365 * 24 * time.Hour}, func(tx store.Tx, c ca.CA) error {
		_, err := tx.Audit().Append(ev("ca.create"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = Config{Store: st, Authority: f.auth, Keys: kp, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 50 * time.Millisecond, CRLMinGap: 50 * time.Millisecond}
	f.svc = New(f.cfg)
	if err := f.svc.loadCAs(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// issue issues a certificate of the fixture's CA (a tls-server profile: the status service
// does not care which profile).
func (f *fixture) issue(t testing.TB) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := issuance.TLSServerTemplate(issuance.TLSServerParams{DNSNames: []string{"device.example"}, PublicKey: k.Public(), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.auth.Issue(ctx, f.issuing, issuance.ProfileTLSServer, tmpl, "", func(tx store.Tx, _ *x509.Certificate) error {
		_, err := tx.Audit().Append(ev("cert.issue"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) change(t testing.TB, fn func(store.Certificates) error) {
	t.Helper()
	if err := f.st.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx.Certificates()); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("cert.change"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// request builds a DER OCSPRequest for serial under the fixture CA (hash SHA-1 or SHA-256),
// with the nonce when given.
func request(t testing.TB, issuer *x509.Certificate, h crypto.Hash, serial *big.Int, nonce []byte) []byte {
	t.Helper()
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	oid := asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	if h == crypto.SHA256 {
		oid = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	}
	sum := func(b []byte) []byte {
		if h == crypto.SHA256 {
			x := h.New()
			x.Write(b)
			return x.Sum(nil)
		}
		s := sha1.Sum(b)
		return s[:]
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oid)
							b.AddASN1NULL()
						})
						b.AddASN1OctetString(sum(issuer.RawSubject))
						b.AddASN1OctetString(sum(spki.PublicKey.Bytes))
						b.AddASN1BigInt(serial)
					})
				})
			})
			if nonce != nil {
				b.AddASN1(tag2, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidNonce)
							b.AddASN1OctetString(nonce)
						})
					})
				})
			}
		})
	})
	der, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return der
}
