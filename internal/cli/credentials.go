package cli

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/hallmark-id/hallmark/api/proof"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/keys"
)

// The certificates, keys and CSRs that commands read from files or print from the server.

// readSigner reads a private key (PEM) for a proof of possession; it is used here and never
// sent. An encrypted key's passphrase comes from the environment variable passEnv.
func readSigner(flag, file, passEnv string) (crypto.Signer, error) {
	b, err := readInput(flag, file)
	if err != nil {
		return nil, err
	}
	pass, err := passphrase(passEnv)
	if err != nil {
		return nil, err
	}
	k, err := keys.ParsePrivateKeyPEM(b, pass)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flag, file, err)
	}
	return k, nil
}

// passphrase reads a key's passphrase from the environment variable named by --passphrase-env,
// never from the command line; no name is no passphrase.
func passphrase(passEnv string) ([]byte, error) {
	if passEnv == "" {
		return nil, nil
	}
	v, ok := os.LookupEnv(passEnv)
	if !ok {
		return nil, usagef("--passphrase-env: environment variable %s is not set", passEnv)
	}
	return []byte(v), nil
}

// leafMatches reads the certificates of certPEM (other PEM blocks, such as a key kept in the
// same file, are skipped) and checks that the first, the leaf, holds key's public key, so that
// a mismatched pair is caught before a challenge is spent. A file whose certificates do not
// parse is refused (failure.Invalid): the key could not be checked against it.
func leafMatches(certFlag, certFile string, certPEM []byte, keyFlag string, key crypto.Signer) ([]*x509.Certificate, error) {
	certs, err := certpem.Parse(certPEM, certpem.Options{What: "--" + certFlag + " " + certFile, SkipOther: true})
	if err != nil {
		return nil, err
	}
	type eq interface{ Equal(crypto.PublicKey) bool }
	if k, ok := key.Public().(eq); !ok || !k.Equal(certs[0].PublicKey) {
		return nil, invalidf("--%s is not the key of the certificate in --%s %s", keyFlag, certFlag, certFile)
	}
	return certs, nil
}

// certsPEM encodes certs as PEM, the leaf first: what a command sends of a certificate file,
// so that anything else the file holds (the key, kept in the same file) never leaves.
func certsPEM(certs []*x509.Certificate) string {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writing to a bytes.Buffer does not fail
	}
	return b.String()
}

// csrKeyOf reads the public key of a CSR file (PEM or DER) and its SHA-256, which the
// challenge and the proof name it by.
func csrKeyOf(flag, file string, b []byte) (crypto.PublicKey, string, error) {
	req, err := csr.ParseText(csrText(b))
	if err != nil {
		return nil, "", fmt.Errorf("--%s %s: %w", flag, file, err)
	}
	h, err := proof.KeySHA256(req.PublicKey)
	return req.PublicKey, h, err
}

// csrText sends PEM as it is and DER as base64, the two forms the API accepts.
func csrText(b []byte) string {
	if t := bytes.TrimSpace(b); bytes.HasPrefix(t, []byte("-----BEGIN")) {
		return string(t)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// leafOfPEM is the first certificate of a PEM text the server returned, nil when it holds
// none that parses; it serves summaries, which show "-" then.
func leafOfPEM(s string) *x509.Certificate {
	certs, err := certpem.Parse([]byte(s), certpem.Options{SkipOther: true})
	if err != nil {
		return nil
	}
	return certs[0]
}

// serialOfPEM is the serial of leafOfPEM as openssl prints it, "" when there is none.
func serialOfPEM(s string) string {
	if c := leafOfPEM(s); c != nil {
		return serialText(c.SerialNumber)
	}
	return ""
}
