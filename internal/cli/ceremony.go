package cli

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/tpm"
)

// EnvHSMPIN is the default environment variable holding an HSM user PIN.
const EnvHSMPIN = "HALLMARK_HSM_PIN"

// hsmFlags are how a ceremony step reaches a token (the module, and where the PIN is) or a
// TPM (its device, and the folder of its keys' wrapped blobs).
type hsmFlags struct {
	module, pinFile, pinEnv string
	tpmDevice, tpmStorage   string
}

func (h *hsmFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&h.module, "module", "", "PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so (default: the key URI's module-path)")
	cmd.Flags().StringVar(&h.pinFile, "pin-file", "", "file holding the token's user PIN (default: the key URI's pin-source, else $"+EnvHSMPIN+")")
	cmd.Flags().StringVar(&h.pinEnv, "pin-env", EnvHSMPIN, "environment variable holding the token's user PIN")
	cmd.Flags().StringVar(&h.tpmDevice, "tpm-device", "", "for tpmkms: key URIs, the TPM: /dev/tpmrm0 or a simulator's socket (default: the key URI's device, else /dev/tpmrm0)")
	cmd.Flags().StringVar(&h.tpmStorage, "tpm-storage-dir", "", "for tpmkms: key URIs, the folder of the TPM keys' wrapped blobs: the server's keys.tpm.storage_dir (default: the key URI's storage-directory)")
}

// ceremonyKeys is where a ceremony step makes and finds keys: a PKCS#11 token or a TPM.
type ceremonyKeys interface {
	CreateURI(ctx context.Context, uri string, alg keys.Algorithm) (crypto.Signer, string, error)
	Locate(ctx context.Context, uri string) (crypto.Signer, string, error)
	Close() error
}

// checkAlgorithm refuses, before any device is opened, an algorithm the key URI's backend
// cannot hold: Ed25519 (or RSA-3072) in a TPM.
func checkAlgorithm(flag, uri string, alg keys.Algorithm) error {
	if err := alg.Validate(); err != nil {
		return usagef("--algorithm: %v", err)
	}
	if isTPMURI(uri) {
		if err := tpm.CheckAlgorithm(alg); err != nil {
			return invalidf("--algorithm %s with --%s %s: %v", alg, flag, uri, err)
		}
	}
	return nil
}

func isTPMURI(uri string) bool {
	scheme, _, _ := strings.Cut(uri, ":")
	return strings.EqualFold(scheme, tpm.Scheme)
}

// open reaches the token or TPM a key URI names. A PIN never comes from the command line.
func (h *hsmFlags) open(flag, uri string) (ceremonyKeys, error) {
	if isTPMURI(uri) {
		return h.openTPM(flag, uri)
	}
	return h.openPKCS11(flag, uri)
}

// openTPM opens the TPM a tpmkms: key URI (or --tpm-device) names, keeping keys' blobs where
// --tpm-storage-dir (or the URI's storage-directory) says.
func (h *hsmFlags) openTPM(flag, uri string) (ceremonyKeys, error) {
	u, err := tpm.ParseURI(uri)
	if err != nil {
		return nil, invalidf("--%s: %v", flag, err)
	}
	dir := firstNonEmpty(h.tpmStorage, u.StorageDirectory)
	if dir == "" {
		return nil, usagef("--tpm-storage-dir: name the folder of the TPM keys' wrapped blobs (the server's keys.tpm.storage_dir), or give storage-directory in --%s", flag)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := tpm.Open(ctx, tpm.Config{Device: firstNonEmpty(h.tpmDevice, u.Device, "/dev/tpmrm0"), StorageDir: dir})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// openPKCS11 logs in to the token a key URI names.
func (h *hsmFlags) openPKCS11(flag, uri string) (ceremonyKeys, error) {
	u, err := pkcs11.ParseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	if u.PinValue {
		return nil, invalidf("--%s: never put the PIN in a key URI (it would stay in shell history and process lists); use --pin-file or --pin-env", flag)
	}
	if u.Token == "" && u.Serial == "" {
		return nil, invalidf("--%s: the key URI names no token: add token=LABEL", flag)
	}
	module := firstNonEmpty(h.module, u.ModulePath)
	if module == "" {
		return nil, usagef("--module: name the PKCS#11 library (or give module-path in --%s)", flag)
	}
	var pin []byte
	switch src := firstNonEmpty(h.pinFile, u.PinSource); {
	case src != "":
		path := strings.TrimPrefix(src, "file:")
		if strings.HasPrefix(path, "|") {
			return nil, invalidf("--%s: a pin-source that runs a command is not supported; give a file", flag)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, invalidf("reading the PIN: %v", err)
		}
		pin = []byte(strings.TrimRight(string(b), "\r\n"))
	default:
		v, ok := os.LookupEnv(h.pinEnv)
		if !ok || v == "" {
			return nil, usagef("no PIN: set $%s, or give --pin-file", h.pinEnv)
		}
		pin = []byte(v)
	}
	p, err := pkcs11.Open(pkcs11.Config{ModulePath: module, Token: u.Token, Serial: u.Serial, PIN: keys.Secret(pin), MaxSessions: 2})
	clear(pin)
	return p, err
}

// ceremonyRecord is one step's transcript: what was made, where its key is and the hashes
// that identify it. The operator keeps it (--transcript appends it to a file).
type ceremonyRecord struct {
	Step            string `json:"step"`
	At              string `json:"at"`
	Host            string `json:"host"`
	KeyURI          string `json:"key_uri"`
	Algorithm       string `json:"algorithm,omitempty"`
	PublicKeySHA256 string `json:"public_key_sha256"`
	Subject         string `json:"subject,omitempty"`
	Issuer          string `json:"issuer,omitempty"`
	Serial          string `json:"serial,omitempty"`
	NotBefore       string `json:"not_before,omitempty"`
	NotAfter        string `json:"not_after,omitempty"`
	Output          string `json:"output"`
	OutputSHA256    string `json:"output_sha256"`
}

func newRecord(step, keyURI string, pub crypto.PublicKey, out string, data []byte) (ceremonyRecord, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ceremonyRecord{}, err
	}
	host, _ := os.Hostname()
	return ceremonyRecord{Step: step, At: time.Now().UTC().Format(time.RFC3339), Host: host, KeyURI: keyURI,
		PublicKeySHA256: fmt.Sprintf("%x", sha256.Sum256(spki)), Output: out, OutputSHA256: fmt.Sprintf("%x", sha256.Sum256(data))}, nil
}

func (r *ceremonyRecord) cert(c *x509.Certificate) {
	r.Subject, r.Issuer, r.Serial = c.Subject.String(), c.Issuer.String(), serialText(c.SerialNumber)
	r.NotBefore, r.NotAfter = ts(c.NotBefore), ts(c.NotAfter)
}

// finish writes the step's output file, appends the record to the transcript file and prints it.
func (e *env) finishStep(r ceremonyRecord, outFile string, data []byte, transcript string) error {
	if err := os.WriteFile(outFile, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", outFile, err)
	}
	if transcript != "" {
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(transcript, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("opening the transcript: %w", err)
		}
		_, err = f.Write(append(line, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing the transcript: %w", err)
		}
	}
	return e.emit(r, []string{r.KeyURI}, func(w io.Writer) {
		kv(w, "step", r.Step)
		kv(w, "at", r.At)
		kv(w, "host", r.Host)
		kv(w, "key uri", r.KeyURI)
		kv(w, "algorithm", r.Algorithm)
		kv(w, "public key sha256", r.PublicKeySHA256)
		kv(w, "subject", r.Subject)
		kv(w, "issuer", r.Issuer)
		kv(w, "serial", r.Serial)
		kv(w, "not before", r.NotBefore)
		kv(w, "not after", r.NotAfter)
		kv(w, "output", r.Output)
		kv(w, "output sha256", r.OutputSHA256)
	})
}

func (e *env) ceremonyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ceremony",
		Short: "Key ceremony steps run against local HSM tokens: a root, an issuing CA's key and CSR, the root's signature",
		Long: `The steps of a key ceremony (docs/ceremony.md). They run on the machine the HSM tokens are
attached to, not against the server: "root" makes a root CA key in a token and its self-signed
certificate; "issuing-csr" makes the issuing CA's key in the server's token and a CSR for it;
"sign" has the root sign the issuing CA's certificate. "hallmark ca import --key-uri" then
hands the server the issuing CA by certificate and key URI: no private key leaves a token.

A key URI (RFC 7512) names the token and the key: pkcs11:token=LABEL;object=NAME[;id=%01%02].
The PIN comes from --pin-file, the URI's pin-source or $HALLMARK_HSM_PIN, never from the
command line. Each step prints a transcript record (-o json for JSON) and --transcript FILE
appends it to FILE, one JSON object a line: keep it with the ceremony's minutes.

A key in a TPM 2.0 is named tpmkms:name=NAME; --tpm-device and --tpm-storage-dir (or the
URI's device and storage-directory) say which TPM and where its keys' wrapped blobs go: the
server's keys.tpm.storage_dir, for the issuing CA. A TPM holds ECDSA P-256 and P-384 keys
only: --algorithm ed25519 or rsa-3072 with a tpmkms: URI is refused before the TPM is opened.

The PKCS#11 steps need a hallmark built with PKCS#11 support (CGO_ENABLED=1 go build -tags
pkcs11); the TPM steps work in every build.`,
		Example: `  export HALLMARK_HSM_PIN=...   # or --pin-file
  hallmark ceremony root --module /usr/lib/softhsm/libsofthsm2.so \
    --key-uri 'pkcs11:token=acme-root;object=acme-root-2026' --name "Acme Root CA" --org "Acme Devices" --out root.pem
  hallmark ceremony issuing-csr --module /usr/lib/softhsm/libsofthsm2.so \
    --key-uri 'pkcs11:token=hallmark;object=acme-issuing-2026' --name "Acme Issuing CA 2026" --org "Acme Devices" --out issuing.csr
  hallmark ceremony sign --module /usr/lib/softhsm/libsofthsm2.so --root-cert root.pem \
    --root-key-uri 'pkcs11:token=acme-root;object=acme-root-2026' --csr issuing.csr --out issuing.pem
  # the issuing CA's key in the server's TPM instead
  hallmark ceremony issuing-csr --tpm-storage-dir /var/lib/hallmark/tpm \
    --key-uri 'tpmkms:name=acme-issuing-2026' --name "Acme Issuing CA 2026" --org "Acme Devices" --out issuing.csr`,
	}
	cmd.AddCommand(e.ceremonyRoot(), e.ceremonyIssuingCSR(), e.ceremonySign())
	return cmd
}

func (e *env) ceremonyRoot() *cobra.Command {
	var (
		h                           hsmFlags
		keyURI, name, org, out, trn string
		alg                         keys.Algorithm
		life                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "root",
		Short: "Create a root CA key in a token and its self-signed certificate",
		Long: `Create a root CA key in the token --key-uri names (with that object label and, if the URI
gives one, that id; else a random 16-byte id), then the root's self-signed certificate, linted
before it is signed. The key never leaves the token. Prints the key's full URI.`,
		Example: `  hallmark ceremony root --module /usr/lib/softhsm/libsofthsm2.so --pin-file root.pin \
    --key-uri 'pkcs11:token=acme-root;object=acme-root-2026' --name "Acme Root CA" --org "Acme Devices" --out root.pem --transcript ceremony.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkAlgorithm("key-uri", keyURI, alg); err != nil {
				return err
			}
			linter, err := issuance.NewLinter()
			if err != nil {
				return err
			}
			p, err := h.open("key-uri", keyURI)
			if err != nil {
				return err
			}
			defer p.Close()
			signer, uri, err := p.CreateURI(cmd.Context(), keyOnly(keyURI), alg)
			if err != nil {
				return fmt.Errorf("creating the root key: %w", err)
			}
			now := time.Now()
			tmpl, err := issuance.CATemplate(issuance.CAParams{Profile: issuance.ProfileRootCA, CommonName: name, Organization: org,
				PublicKey: signer.Public(), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(life), MaxPathLen: 1})
			if err != nil {
				return err
			}
			prep, err := issuance.PrepareSelfSigned(issuance.ProfileRootCA, tmpl, signer, linter, rand.Reader)
			if err != nil {
				return fmt.Errorf("preparing the root certificate: %w", err)
			}
			cert, err := issuance.SignSelfSigned(prep, signer)
			if err != nil {
				return fmt.Errorf("signing the root certificate: %w", err)
			}
			data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
			r, err := newRecord("root", uri, signer.Public(), out, data)
			if err != nil {
				return err
			}
			r.Algorithm = string(alg)
			r.cert(cert)
			return e.finishStep(r, out, data, trn)
		},
	}
	h.add(cmd)
	cmd.Flags().StringVar(&keyURI, "key-uri", "", "the new key: pkcs11:token=LABEL;object=NAME[;id=HEX-ESCAPED], or tpmkms:name=NAME")
	cmd.Flags().StringVar(&name, "name", "", "the root's common name, e.g. \"Acme Root CA\"")
	cmd.Flags().StringVar(&org, "org", "", "the root's organization")
	cmd.Flags().StringVar((*string)(&alg), "algorithm", string(keys.ECDSAP384), "key algorithm: ecdsa-p256, ecdsa-p384, ed25519 or rsa-3072")
	cmd.Flags().DurationVar(&life, "lifetime", 30*365*24*time.Hour, "how long the root is valid")
	cmd.Flags().StringVar(&out, "out", "", "where to write the root certificate (PEM)")
	cmd.Flags().StringVar(&trn, "transcript", "", "append this step's record to FILE (JSON lines)")
	required(cmd, "key-uri", "name", "out")
	return cmd
}

func (e *env) ceremonyIssuingCSR() *cobra.Command {
	var (
		h                           hsmFlags
		keyURI, name, org, out, trn string
		alg                         keys.Algorithm
	)
	cmd := &cobra.Command{
		Use:   "issuing-csr",
		Short: "Create an issuing CA key in a token and a CSR for it",
		Long: `Create the issuing CA's key in the token --key-uri names (the token the server uses, so
that the server can sign with it), and a PKCS#10 CSR signed by that key, for the root to sign.
Prints the key's full URI: give it to "hallmark ca import --key-uri".`,
		Example: `  hallmark ceremony issuing-csr --module /usr/lib/softhsm/libsofthsm2.so --pin-file hallmark.pin \
    --key-uri 'pkcs11:token=hallmark;object=acme-issuing-2026' --name "Acme Issuing CA 2026" --org "Acme Devices" --out issuing.csr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkAlgorithm("key-uri", keyURI, alg); err != nil {
				return err
			}
			subject := pkix.Name{CommonName: name}
			if org != "" {
				subject.Organization = []string{org}
			}
			p, err := h.open("key-uri", keyURI)
			if err != nil {
				return err
			}
			defer p.Close()
			signer, uri, err := p.CreateURI(cmd.Context(), keyOnly(keyURI), alg)
			if err != nil {
				return fmt.Errorf("creating the issuing CA key: %w", err)
			}
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, signer)
			if err != nil {
				return fmt.Errorf("signing the CSR in the token: %w", err)
			}
			data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
			r, err := newRecord("issuing-csr", uri, signer.Public(), out, data)
			if err != nil {
				return err
			}
			r.Algorithm, r.Subject = string(alg), subject.String()
			return e.finishStep(r, out, data, trn)
		},
	}
	h.add(cmd)
	cmd.Flags().StringVar(&keyURI, "key-uri", "", "the new key, in the server's token or TPM: pkcs11:token=LABEL;object=NAME[;id=HEX-ESCAPED], or tpmkms:name=NAME")
	cmd.Flags().StringVar(&name, "name", "", "the issuing CA's common name")
	cmd.Flags().StringVar(&org, "org", "", "the issuing CA's organization")
	cmd.Flags().StringVar((*string)(&alg), "algorithm", string(keys.ECDSAP256), "key algorithm: ecdsa-p256, ecdsa-p384, ed25519 or rsa-3072")
	cmd.Flags().StringVar(&out, "out", "", "where to write the CSR (PEM)")
	cmd.Flags().StringVar(&trn, "transcript", "", "append this step's record to FILE (JSON lines)")
	required(cmd, "key-uri", "name", "out")
	return cmd
}

func (e *env) ceremonySign() *cobra.Command {
	var (
		h                                    hsmFlags
		rootCert, rootKey, csrFile, out, trn string
		life                                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sign",
		Short: "Sign an issuing CA certificate for a CSR with the root's key",
		Long: `Check the CSR's signature, find the root's key by --root-key-uri and check it against the
root certificate, then issue the issuing CA certificate (pathLen 0, the CSR's subject and key)
through the same lint-then-sign cycle the server uses. Its lifetime ends with the root's at
the latest.`,
		Example: `  hallmark ceremony sign --module /usr/lib/softhsm/libsofthsm2.so --pin-file root.pin --root-cert root.pem \
    --root-key-uri 'pkcs11:token=acme-root;object=acme-root-2026' --csr issuing.csr --lifetime 87600h --out issuing.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			certs, err := readCerts("root-cert", rootCert)
			if err != nil {
				return err
			}
			root := certs[0]
			b, err := readInput("csr", csrFile)
			if err != nil {
				return err
			}
			blk, _ := pem.Decode(b)
			if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
				return invalidf("--csr: no CERTIFICATE REQUEST PEM block")
			}
			csr, err := x509.ParseCertificateRequest(blk.Bytes)
			if err != nil {
				return invalidf("--csr: %v", err)
			}
			if err := csr.CheckSignature(); err != nil {
				return invalidf("--csr: its signature does not verify: %v", err)
			}
			org := ""
			if len(csr.Subject.Organization) > 0 {
				org = csr.Subject.Organization[0]
			}
			linter, err := issuance.NewLinter()
			if err != nil {
				return err
			}
			p, err := h.open("root-key-uri", rootKey)
			if err != nil {
				return err
			}
			defer p.Close()
			signer, uri, err := p.Locate(cmd.Context(), keyOnly(rootKey))
			if err != nil {
				return fmt.Errorf("finding the root key: %w", err)
			}
			if err := authority.CheckKeyMatches(root, signer); err != nil {
				return fmt.Errorf("--root-key-uri: %w", err)
			}
			now := time.Now()
			notAfter := now.Add(life)
			if notAfter.After(root.NotAfter) {
				notAfter = root.NotAfter
			}
			tmpl, err := issuance.CATemplate(issuance.CAParams{Profile: issuance.ProfileIssuingCA, CommonName: csr.Subject.CommonName, Organization: org,
				PublicKey: csr.PublicKey, NotBefore: now.Add(-time.Minute), NotAfter: notAfter, MaxPathLen: 0})
			if err != nil {
				return err
			}
			is, err := issuance.NewIssuer(root, signer, linter)
			if err != nil {
				return fmt.Errorf("the root cannot issue: %w", err)
			}
			prep, err := is.Prepare(issuance.ProfileIssuingCA, tmpl, rand.Reader)
			if err != nil {
				return fmt.Errorf("preparing the issuing CA certificate: %w", err)
			}
			cert, err := is.Sign(prep)
			if err != nil {
				return fmt.Errorf("signing the issuing CA certificate: %w", err)
			}
			data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
			r, err := newRecord("sign", uri, signer.Public(), out, data)
			if err != nil {
				return err
			}
			r.cert(cert)
			return e.finishStep(r, out, data, trn)
		},
	}
	h.add(cmd)
	cmd.Flags().StringVar(&rootCert, "root-cert", "", "the root certificate (PEM)")
	cmd.Flags().StringVar(&rootKey, "root-key-uri", "", "the root's key: pkcs11:token=LABEL;id=...|object=..., or tpmkms:name=NAME")
	cmd.Flags().StringVar(&csrFile, "csr", "", "the issuing CA's CSR (PEM, from hallmark ceremony issuing-csr)")
	cmd.Flags().DurationVar(&life, "lifetime", 20*365*24*time.Hour, "how long the issuing CA is valid (at most to the root's end)")
	cmd.Flags().StringVar(&out, "out", "", "where to write the issuing CA certificate (PEM)")
	cmd.Flags().StringVar(&trn, "transcript", "", "append this step's record to FILE (JSON lines)")
	required(cmd, "root-cert", "root-key-uri", "csr", "out")
	return cmd
}

// keyOnly drops a key URI's query (module-path, pin-source), which Locate refuses: the
// command line has already used them to open the token.
func keyOnly(uri string) string {
	if isTPMURI(uri) {
		if u, err := tpm.ParseURI(uri); err == nil {
			return u.KeyOnly().String()
		}
		return uri
	}
	u, err := pkcs11.ParseURI(uri)
	if err != nil {
		return uri
	}
	return u.KeyOnly().String()
}

// readCerts reads PEM certificates from a file named by a flag.
func readCerts(flag, file string) ([]*x509.Certificate, error) {
	b, err := readInput(flag, file)
	if err != nil {
		return nil, err
	}
	certs, err := certpem.Parse(b, certpem.Options{What: "--" + flag})
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return certs, nil
}
