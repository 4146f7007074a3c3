package sqlstore

import (
	"bytes"
	"crypto/x509"
	"sync"
)

// caCerts keeps CA certificates parsed, by DER: every factory issuance reads its issuing CA
// and the CA above it, and every EST onboarding lists every CA to build its anchors, so
// without it the same few certificates were parsed again on every request. The key is the
// whole DER, so a cached certificate is exactly what parsing the stored bytes gives; the
// parsed certificates are shared between readers and must not be modified (ca.CA.Cert).
type caCerts struct {
	mu sync.Mutex
	m  map[string]*x509.Certificate
}

// maxCACerts bounds the cache; past it the cache starts again empty. Deployments have tens of
// CAs, not thousands.
const maxCACerts = 1024

// parse returns the certificate of der, parsing it on first sight. A nil cache parses.
func (c *caCerts) parse(der []byte) (*x509.Certificate, error) {
	if c == nil {
		return x509.ParseCertificate(der)
	}
	c.mu.Lock()
	cert, ok := c.m[string(der)]
	c.mu.Unlock()
	if ok {
		return cert, nil
	}
	// A copy: the certificate's Raw fields point into the bytes parsed, which belong to
	// the caller.
	cert, err := x509.ParseCertificate(bytes.Clone(der))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCACerts {
		clear(c.m)
	}
	c.m[string(der)] = cert
	c.mu.Unlock()
	return cert, nil
}
