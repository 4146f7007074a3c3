package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
)

// devTLS gives the dev server an HTTPS certificate from a dev-only CA kept in dir (its key in
// the key provider like every other key). The CA is made once; the server certificate is
// issued afresh at every start for the host actually listened on. Both go through the same
// lint-then-sign cycle as device certificates; they are not device identities, so they are
// not recorded in the database.
func (a *App) devTLS(ctx context.Context, dir, host string) (*tls.Config, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	linter := a.Authority.Linter()
	caFile := filepath.Join(dir, "ca.pem")
	now := a.Now()
	var caCert *x509.Certificate
	caKey, err := a.Keys.Signer(ctx, "dev-tls-ca")
	switch {
	case err == nil:
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, "", fmt.Errorf("dev tls: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, "", fmt.Errorf("dev tls: %s holds no certificate", caFile)
		}
		if caCert, err = x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, "", fmt.Errorf("dev tls: %w", err)
		}
	case failure.Is(err, failure.NotFound):
		if caKey, err = a.Keys.Create(ctx, "dev-tls-ca", keys.Algorithm("ecdsa-p256")); err != nil {
			return nil, "", err
		}
		tmpl, err := issuance.CATemplate(issuance.CAParams{Profile: issuance.ProfileRootCA, CommonName: "Hallmark dev TLS CA", Organization: "Hallmark dev",
			PublicKey: caKey.Public(), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(10 * 365 * 24 * time.Hour), MaxPathLen: 0})
		if err != nil {
			return nil, "", err
		}
		p, err := issuance.PrepareSelfSigned(issuance.ProfileRootCA, tmpl, caKey, linter, rand.Reader)
		if err != nil {
			return nil, "", err
		}
		if caCert, err = issuance.SignSelfSigned(p, caKey); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(caFile, pemCert(caCert.Raw), 0o644); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", err
	}
	srvKey, err := a.Keys.Signer(ctx, "dev-tls-server")
	if failure.Is(err, failure.NotFound) {
		srvKey, err = a.Keys.Create(ctx, "dev-tls-server", keys.Algorithm("ecdsa-p256"))
	}
	if err != nil {
		return nil, "", err
	}
	params := issuance.TLSServerParams{DNSNames: []string{"localhost"}, PublicKey: srvKey.Public(), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(30 * 24 * time.Hour)}
	for _, h := range []string{host, "127.0.0.1", "::1"} {
		if ip := net.ParseIP(h); ip != nil && !containsIP(params.IPAddresses, ip) {
			params.IPAddresses = append(params.IPAddresses, ip)
		} else if ip == nil && h != "localhost" {
			params.DNSNames = append(params.DNSNames, h)
		}
	}
	tmpl, err := issuance.TLSServerTemplate(params)
	if err != nil {
		return nil, "", err
	}
	is, err := issuance.NewIssuer(caCert, caKey, linter)
	if err != nil {
		return nil, "", err
	}
	p, err := is.Prepare(issuance.ProfileTLSServer, tmpl, rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("dev tls: %w", err)
	}
	leaf, err := is.Sign(p)
	if err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "server.pem"), append(pemCert(leaf.Raw), pemCert(caCert.Raw)...), 0o644); err != nil {
		return nil, "", err
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw, caCert.Raw}, PrivateKey: srvKey, Leaf: leaf}},
	}
	return tc, caFile, nil
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
