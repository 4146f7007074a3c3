// Package certpem reads certificates given as PEM: one certificate or a chain of them, the form
// in which Hallmark takes certificates from people, files and its API (a CA to import, an
// anchor, a factory chain, a device's stored identity). It is the one such reader in the tree.
//
// Invariants: the input is bounded in bytes and, when asked, in certificates; every block read
// is a "CERTIFICATE" that x509.ParseCertificate accepts, in the order given (a chain's leaf
// first); every refusal is a failure.TooLarge or failure.Invalid error naming the input.
package certpem

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// DefaultMaxBytes is the size limit of Options.MaxBytes when it is 0.
const DefaultMaxBytes = 256 << 10

// Options bound and name what Parse reads. The zero value reads up to DefaultMaxBytes of
// certificates only and names the input "certificate PEM" in errors.
type Options struct {
	// What names the input in errors ("factory_certificate", "--cert ca.pem").
	What string
	// MaxBytes refuses longer input with failure.TooLarge; 0 means DefaultMaxBytes.
	MaxBytes int
	// MaxCerts refuses input holding more certificates with failure.TooLarge; 0 means no limit
	// but MaxBytes.
	MaxCerts int
	// SkipOther skips PEM blocks of other types (a file that also holds the key) instead of
	// refusing them.
	SkipOther bool
}

// Parse reads the PEM "CERTIFICATE" blocks of data in order. Text outside PEM blocks is
// ignored, as pem.Decode ignores it. It refuses input over the size or count limits
// (failure.TooLarge), a block of another type unless o.SkipOther, a certificate that does not
// parse, and input holding no certificate (failure.Invalid).
func Parse(data []byte, o Options) ([]*x509.Certificate, error) {
	what := o.What
	if what == "" {
		what = "certificate PEM"
	}
	maxBytes := o.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(data) > maxBytes {
		return nil, failure.New(failure.TooLarge, "%s is %d bytes, more than the limit of %d", what, len(data), maxBytes)
	}
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			if o.SkipOther {
				continue
			}
			return nil, failure.New(failure.Invalid, "%s: expected CERTIFICATE PEM blocks, found %q", what, b.Type)
		}
		if o.MaxCerts > 0 && len(out) == o.MaxCerts {
			return nil, failure.New(failure.TooLarge, "%s holds more than %d certificates", what, o.MaxCerts)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, failure.Wrap(failure.Invalid, err, fmt.Sprintf("%s: certificate %d does not parse", what, len(out)+1))
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, failure.New(failure.Invalid, "%s: no PEM certificate found", what)
	}
	return out, nil
}
