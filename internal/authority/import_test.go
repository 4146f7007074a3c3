package authority_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/file"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// countingKeys is the real file provider, counting how the authority stores a key.
type countingKeys struct {
	*file.Provider
	imports, signerImports int
}

func (c *countingKeys) Import(ctx context.Context, id string, pemData, passphrase []byte) (crypto.Signer, error) {
	c.imports++
	return c.Provider.Import(ctx, id, pemData, passphrase)
}

func (c *countingKeys) ImportSigner(ctx context.Context, id string, s crypto.Signer) (crypto.Signer, error) {
	c.signerImports++
	return c.Provider.ImportSigner(ctx, id, s)
}

// legacyCA is a CA certificate and its key, encrypted under "legacy" (PBKDF2, 600,000
// iterations), as another tool would have left them.
func legacyCA(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	s, err := keys.Generate(keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{Organization: []string{"Acme"}, CommonName: "Acme Legacy CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{1, 2, 3, 4}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Public(), s)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = keys.MarshalEncryptedPEM(s, []byte("legacy"))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM
}

// withIterations rewrites the PBKDF2 iteration count of an ENCRYPTED PRIVATE KEY (RFC 8018
// appendix A): what a hostile importer sends.
func withIterations(t *testing.T, keyPEM []byte, n int) []byte {
	t.Helper()
	type algID struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	var info struct {
		Algorithm     algID
		EncryptedData []byte
	}
	var params struct{ KDF, Enc algID }
	var kdf struct {
		Salt           []byte
		IterationCount int
		Rest           asn1.RawValue `asn1:"optional"`
		PRF            asn1.RawValue `asn1:"optional"`
	}
	block, _ := pem.Decode(keyPEM)
	must := func(_ []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(asn1.Unmarshal(block.Bytes, &info))
	must(asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params))
	must(asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf))
	kdf.IterationCount = n
	raw := func(v any) asn1.RawValue {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	params.KDF.Parameters = raw(kdf)
	info.Algorithm.Parameters = raw(params)
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: raw(info).FullBytes})
}

func event(tx store.Tx, action, subject string) error {
	_, err := tx.Audit().Append(audit.Event{At: time.Now(), PartyID: "acme", PrincipalID: "test", Action: action, Subject: subject})
	return err
}

// TestImportCAKeyDerivation: an imported CA's encrypted key is decrypted once (its PBKDF2 ran
// twice, in the authority's check and in the provider); a key asking for 10 million PBKDF2
// iterations is refused before any derivation, and nothing is stored.
func TestImportCAKeyDerivation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "acme", Name: "Acme", Kind: party.Manufacturer, CreatedAt: time.Now()}); err != nil {
			return err
		}
		return event(tx, "party.create", "party:acme")
	}); err != nil {
		t.Fatal(err)
	}
	fp, err := file.New(filepath.Join(dir, "keys"), keys.Secret("hallmark"))
	if err != nil {
		t.Fatal(err)
	}
	kp := &countingKeys{Provider: fp}
	linter, err := issuance.NewLinter()
	if err != nil {
		t.Fatal(err)
	}
	a := authority.New(authority.Config{Store: st, Keys: kp, Linter: linter, Now: time.Now, Rand: rand.Reader})
	certPEM, keyPEM := legacyCA(t)
	req := authority.ImportRequest{PartyID: "acme", Stage: "manufacturing", Name: "legacy", CertPEM: certPEM, Passphrase: []byte("legacy")}
	fin := func(tx store.Tx, c ca.CA) error { return event(tx, "ca.import", "ca:"+c.ID) }

	req.KeyPEM = withIterations(t, keyPEM, 10_000_000)
	_, err = a.ImportCA(ctx, req, fin)
	if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), "10000000 PBKDF2 iterations, more than the 1000000 allowed") {
		t.Fatalf("hostile iteration count: %v", err)
	}
	if files, _ := os.ReadDir(filepath.Join(dir, "keys")); len(files) != 0 || kp.imports+kp.signerImports != 0 {
		t.Fatalf("a refused import stored %d files", len(files))
	}

	req.KeyPEM = keyPEM
	c, err := a.ImportCA(ctx, req, fin)
	if err != nil {
		t.Fatal(err)
	}
	if kp.imports != 0 || kp.signerImports != 1 {
		t.Errorf("the key was stored with %d PEM imports (each decrypting again) and %d parsed-key imports; want 0 and 1", kp.imports, kp.signerImports)
	}
	// The stored key opens under Hallmark's passphrase in a fresh provider, and is the CA's.
	fresh, err := file.New(filepath.Join(dir, "keys"), keys.Secret("hallmark"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := fresh.Signer(ctx, c.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	if err := authority.CheckKeyMatches(c.Cert, s); err != nil {
		t.Errorf("stored key: %v", err)
	}
}
