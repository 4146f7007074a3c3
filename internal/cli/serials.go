package cli

import (
	"math/big"
	"strings"
)

// certSerial prints a certificate serial as openssl does (x509 -serial, CRLs, OCSP): upper-case
// hexadecimal with an even number of digits, so a serial whose first byte is below 0x10 keeps
// its leading zero. s is a serial as the API sends it (lower-case hex without leading zeros);
// what is not hexadecimal is returned as it is. -o json keeps the API's form.
func certSerial(s string) string {
	n, ok := parseSerial(s)
	if !ok {
		return s
	}
	return serialText(n)
}

// serialText is n as openssl prints it.
func serialText(n *big.Int) string {
	h := strings.ToUpper(n.Text(16))
	if len(h)%2 == 1 {
		h = "0" + h
	}
	return h
}

// apiSerial turns a serial typed by a person into the API's form: it takes openssl's form
// (upper case, a leading zero, "serial=" and colons as in "0A:1B") and the API's own.
// What is not hexadecimal is returned as it is, for the server to refuse.
func apiSerial(s string) string {
	n, ok := parseSerial(s)
	if !ok {
		return s
	}
	return n.Text(16)
}

// parseSerial reads a non-negative hexadecimal serial of at most 40 digits (RFC 5280 allows
// 20 octets), with an optional "serial=" prefix and colons between octets.
func parseSerial(s string) (*big.Int, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "serial=")
	s = strings.ReplaceAll(s, ":", "")
	if s == "" || len(s) > 40 {
		return nil, false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return nil, false
		}
	}
	n, ok := new(big.Int).SetString(s, 16)
	return n, ok
}
