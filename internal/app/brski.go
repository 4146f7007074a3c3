package app

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"github.com/hallmark-id/hallmark/internal/refusals"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/brski"
	"github.com/hallmark-id/hallmark/internal/brski/masa"
	"github.com/hallmark-id/hallmark/internal/brski/registrar"
	"github.com/hallmark-id/hallmark/internal/brski/voucher"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/config"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/store"
)

// masaEntry is the brski.MASA the MASA handler serves: masa.Service's answer unpacked.
type masaEntry struct{ s *masa.Service }

func (m masaEntry) RequestVoucher(ctx context.Context, media string, body []byte) ([]byte, string, error) {
	a, err := m.s.RequestVoucher(ctx, media, body)
	return a.Voucher, a.Media, err
}

var (
	_ brski.MASA      = masaEntry{}
	_ brski.Registrar = (*registrar.Service)(nil)
)

// readPEMCerts reads a PEM file of certificates (leaf or CA first, as given).
func readPEMCerts(path, what string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return certpem.Parse(b, certpem.Options{What: what, MaxBytes: 256 << 10, MaxCerts: 16})
}

// setupMASA builds the MASA of cfg and serves it on the API listener (Handler). The signing
// key is cfg.Key in the key provider; its chain is cfg.CertificateFile.
func (a *App) setupMASA(ctx context.Context, cfg *config.MASA) error {
	chain, err := readPEMCerts(cfg.CertificateFile, "brski.masa.certificate_file")
	if err != nil {
		return err
	}
	key, err := a.Keys.Signer(ctx, cfg.Key)
	if err != nil {
		return fmt.Errorf("brski.masa.key: %w", err)
	}
	var regs []masa.Registrar
	for _, r := range cfg.Registrars {
		cas, err := readPEMCerts(r.DomainCAFile, "brski.masa.registrars domain_ca_file")
		if err != nil {
			return err
		}
		regs = append(regs, masa.Registrar{PartyID: r.Party, DomainCA: cas[0]})
	}
	s := masa.New(masa.Config{Store: a.Store, Signer: voucher.Signer{Key: key, Chain: chain}, Registrars: regs,
		Custody:           masa.StoreCustody{Store: a.Store, Vouchers: a.Vouchers},
		NoncelessLifetime: cfg.NoncelessLifetime.Duration, Now: a.Now, Strangers: a.masaStranger})
	a.brskiMASA = brski.MASAHandler(masaEntry{s}, a.Log)
	a.masaURL.Store(&cfg.URL)
	return nil
}

// setupRegistrar builds the registrar of cfg, signing with the EST listener's certificate,
// and serves it on the EST listener (ESTHandler). It must run before the EST listener is
// made.
func (a *App) setupRegistrar(cfg *config.Registrar, cert tls.Certificate) error {
	var chain []*x509.Certificate
	for _, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("brski.registrar: the EST certificate: %w", err)
		}
		chain = append(chain, c)
	}
	key, ok := cert.PrivateKey.(crypto.Signer)
	if !ok || len(chain) == 0 {
		return fmt.Errorf("brski.registrar: the EST certificate's key cannot sign")
	}
	s := registrar.New(registrar.Config{Store: a.Store, PartyID: cfg.Party, Signer: voucher.Signer{Key: key, Chain: chain},
		MASA: &masaClient{caFile: cfg.MASACAFile, cert: cert}, Makers: storeMakers{a}, MASAURLs: cfg.MASAURLs,
		DefaultMASAURL: cfg.DefaultMASAURL, Custody: a.Vouchers, Now: a.Now})
	a.brskiRegistrar = brski.RegistrarHandler(s, a.Log)
	return nil
}

// storeMakers finds a pledge's registered maker in the store.
type storeMakers struct{ a *App }

var _ registrar.MakerFinder = storeMakers{}

// MakerOf implements registrar.MakerFinder: the first of the operator's makers whose anchors
// the chain verifies against, with the maker's intermediates, at the server's time.
func (m storeMakers) MakerOf(ctx context.Context, operatorID string, chain []*x509.Certificate) (string, error) {
	var makers []maker.Maker
	if err := m.a.Store.View(ctx, func(tx store.Tx) (err error) {
		makers, err = tx.Makers().ListMakers(operatorID)
		return err
	}); err != nil {
		return "", err
	}
	for _, mk := range makers {
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		for _, c := range mk.Anchors {
			roots.AddCert(c)
		}
		for _, c := range append(append([]*x509.Certificate{}, mk.Intermediates...), chain[1:]...) {
			inter.AddCert(c)
		}
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: m.a.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
			return mk.Name, nil
		}
	}
	return "", nil
}

// masaClient reaches MASAs, reading the CAs their TLS certificates chain to at each request
// (a MASA's CA may be put in place after the registrar started).
type masaClient struct {
	caFile string
	cert   tls.Certificate
}

func (m *masaClient) RequestVoucher(ctx context.Context, url, media string, body []byte) ([]byte, string, error) {
	var roots *x509.CertPool
	if m.caFile != "" {
		cas, err := readPEMCerts(m.caFile, "brski.registrar.masa_ca_file")
		if err != nil {
			return nil, "", failure.Wrap(failure.Unavailable, err, "the MASA's CA")
		}
		roots = x509.NewCertPool()
		for _, c := range cas {
			roots.AddCert(c)
		}
	}
	c := brski.Client{RootCAs: roots, Certificate: m.cert}
	return c.RequestVoucher(ctx, url, media, body)
}

// devMASA makes, once, the dev MASA's self-signed voucher signing certificate (key
// "brski-masa" in the key provider) in DIR/brski/masa.pem, through the lint-then-sign cycle,
// and fills cfg's certificate_file and key. The certificate is the anchor dev pledges trust.
func (a *App) devMASA(ctx context.Context, dir string, cfg *config.MASA) error {
	if cfg.CertificateFile != "" {
		return nil
	}
	file := filepath.Join(dir, "brski", "masa.pem")
	cfg.CertificateFile, cfg.Key = file, "brski-masa"
	if cfg.NoncelessLifetime.Duration == 0 {
		cfg.NoncelessLifetime.Duration = 168 * time.Hour
	}
	if _, err := a.Keys.Signer(ctx, cfg.Key); err == nil {
		if _, err := os.Stat(file); err == nil {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	key, err := a.Keys.Signer(ctx, cfg.Key)
	if failure.Is(err, failure.NotFound) {
		key, err = a.Keys.Create(ctx, cfg.Key, keys.ECDSAP256)
	}
	if err != nil {
		return err
	}
	now := a.Now()
	tmpl, err := issuance.CATemplate(issuance.CAParams{Profile: issuance.ProfileRootCA, CommonName: "Hallmark dev MASA", Organization: "Hallmark dev",
		PublicKey: key.Public(), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(10 * 365 * 24 * time.Hour), MaxPathLen: 0})
	if err != nil {
		return err
	}
	p, err := issuance.PrepareSelfSigned(issuance.ProfileRootCA, tmpl, key, a.Authority.Linter(), rand.Reader)
	if err != nil {
		return err
	}
	cert, err := issuance.SignSelfSigned(p, key)
	if err != nil {
		return err
	}
	return os.WriteFile(file, pemCert(cert.Raw), 0o644)
}

// mountBRSKI serves the MASA on mux when one is configured.
func (a *App) mountMASA(mux *http.ServeMux) {
	if a.brskiMASA != nil {
		// Voucher requests are writes (they are audited): admitted on the API's limiter.
		mux.Handle(brski.PathPrefix+"/", a.Admission.API.Wrap(a.brskiMASA, isWrite, refuseText))
	}
}

// devBRSKI sets up the BRSKI parts of a dev server: apiURL is its API's URL, cert its TLS
// (and EST) certificate.
func (a *App) devBRSKI(ctx context.Context, dir string, b *config.BRSKI, apiURL string, cert tls.Certificate) error {
	if b == nil {
		return nil
	}
	if b.MASA != nil {
		m := *b.MASA
		if m.URL == "" {
			m.URL = apiURL
		}
		if err := a.devMASA(ctx, dir, &m); err != nil {
			return fmt.Errorf("dev: brski masa: %w", err)
		}
		if err := a.setupMASA(ctx, &m); err != nil {
			return fmt.Errorf("dev: brski masa: %w", err)
		}
	}
	if b.Registrar != nil {
		if err := a.setupRegistrar(b.Registrar, cert); err != nil {
			return fmt.Errorf("dev: brski registrar: %w", err)
		}
	}
	return nil
}

// masaStranger records a voucher request the MASA refused before a registrar it serves was
// known: counted at once and coalesced by the refusal recorder into one audit event per
// signer, reason and window (no party: the signer is nobody this deployment knows).
func (a *App) masaStranger(st masa.Stranger) {
	reason, rule := refusals.Classify(st.Err)
	signer := st.Signer
	if signer == "" {
		signer = "unverified"
	}
	if len(signer) > 128 {
		signer = strings.ToValidUTF8(signer[:128], "")
	}
	a.Refusals.Record(refusals.Refusal{PrincipalID: "brski-stranger", Via: "brski", Reason: reason, Rule: rule,
		Subject: "registrar:" + signer, Operation: "POST /.well-known/brski/requestvoucher", Message: st.Err.Error()})
}
