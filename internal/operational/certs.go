package operational

import (
	"crypto/x509"
	"math/big"
)

// mustSerial parses a serial Hallmark wrote itself (lowercase hex); a malformed one yields
// zero, which no certificate has, so lookups fail cleanly.
func mustSerial(hex string) *big.Int {
	n, ok := new(big.Int).SetString(hex, 16)
	if !ok {
		return new(big.Int)
	}
	return n
}

func parseDER(der []byte) (*x509.Certificate, error) { return x509.ParseCertificate(der) }
