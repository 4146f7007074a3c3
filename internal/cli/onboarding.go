package cli

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/api/proof"
	"github.com/hallmark-id/hallmark/client"
)

// "hallmark device onboard" and "hallmark device renew" act for the device: they prove
// possession of its key here, with a challenge from the server, and send its next CSR. The
// steps they share are deviceKeyFlags.read and env.proveAndSend.

func (e *env) deviceOnboardCmd() *cobra.Command {
	var envID string
	f := deviceKeyFlags{certFlag: "factory-cert", keyFlag: "factory-key"}
	cmd := &cobra.Command{
		Use:   "onboard",
		Short: "Onboard a device into an environment with its factory identity",
		Long: `Exchange a device's factory identity for an operational identity in an environment. The command
acts for the device, or for a gateway that holds its factory key: it asks the server for a
challenge bound to this environment and to the key of --csr, signs the challenge's proof message
here with --factory-key, and sends the factory certificate, the signature, the device's new CSR
and the facts the device reports. The factory key never leaves this machine; the CSR must be for
a new key, not the factory key. The proof serves this one request: it names the purpose, the
environment and the CSR's key, so it cannot be replayed or sent with another CSR.

--factory-cert is the device's factory (IDevID) certificate, PEM, optionally followed by its
chain. --csr is PEM or DER. An encrypted key's passphrase is read from the environment variable
named by --passphrase-env. The environment's onboarding policy decides, and the issuance records
the policy version it used. The summary shows the device, its state, the operational
certificate's serial, the environment, the policy version and the certificate's expiry; -o id
prints the device ID.`,
		Example: `  hallmark device onboard --env env_123 --factory-cert idevid.pem --factory-key idevid.key \
      --csr ldevid.csr --firmware-digest 9f86d0... --fact region=eu --cert-out ldevid.pem --chain-out chain.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			challenge := func(*x509.Certificate) api.ChallengeRequest {
				return api.ChallengeRequest{Purpose: proof.PurposeOnboard, EnvironmentID: envID}
			}
			return e.proveAndSend(cmd.Context(), &f, challenge, func(c *client.Client, r provenRequest) (api.Identity, error) {
				return c.Onboard(cmd.Context(), envID, api.OnboardRequest{
					CSR: r.CSR, FactoryCertificate: r.Certificate, Proof: r.Proof, Facts: r.Facts,
				})
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&envID, "env", "", "environment ID")
	fl.StringVar(&f.certFile, "factory-cert", "", "the device's factory certificate, optionally followed by its chain (PEM file)")
	fl.StringVar(&f.keyFile, "factory-key", "", "the device's factory private key (PEM file); used here to sign the challenge, never sent")
	fl.StringVar(&f.csrFile, "csr", "", "CSR for the device's new operational key (PEM or DER file)")
	f.addCommon(cmd, "write the operational certificate (PEM) to this file")
	required(cmd, "env", "factory-cert", "factory-key", "csr")
	return cmd
}

func (e *env) deviceRenewCmd() *cobra.Command {
	f := deviceKeyFlags{certFlag: "cert", keyFlag: "key"}
	cmd := &cobra.Command{
		Use:   "renew",
		Short: "Renew a device's operational identity",
		Long: `Renew an operational identity before it expires. Like onboard, the command acts for the device:
it asks for a challenge bound to the certificate's environment and to the key of --csr, signs
its proof message here with the current operational key (--key, never sent), and sends the
current certificate, the signature, a CSR and the facts the device reports now. The environment's renewal policy decides. A lapsed certificate cannot renew: the device
onboards again with its factory identity.

An encrypted key's passphrase is read from the environment variable named by --passphrase-env.
The summary is that of onboard; -o id prints the device ID.`,
		Example: `  hallmark device renew --cert ldevid.pem --key ldevid.key --csr ldevid-next.csr \
      --firmware-digest 9f86d0... --cert-out ldevid.pem --chain-out chain.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			challenge := func(leaf *x509.Certificate) api.ChallengeRequest {
				return api.ChallengeRequest{Purpose: proof.PurposeRenew, CertificateSerial: leaf.SerialNumber.Text(16)}
			}
			return e.proveAndSend(cmd.Context(), &f, challenge, func(c *client.Client, r provenRequest) (api.Identity, error) {
				return c.Renew(cmd.Context(), api.RenewRequest{
					CSR: r.CSR, CurrentCertificate: r.Certificate, Proof: r.Proof, Facts: r.Facts,
				})
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.certFile, "cert", "", "the device's current operational certificate, optionally followed by its chain (PEM file)")
	fl.StringVar(&f.keyFile, "key", "", "the current operational private key (PEM file); used here to sign the challenge, never sent")
	fl.StringVar(&f.csrFile, "csr", "", "CSR for the renewed certificate (PEM or DER file)")
	f.addCommon(cmd, "write the new certificate (PEM) to this file")
	required(cmd, "cert", "key", "csr")
	return cmd
}

// deviceKeyFlags are what onboard and renew read: the certificate whose key the device proves
// (certFlag) and that key (keyFlag), the CSR for its next key, the facts it reports, and
// where the new identity is written.
type deviceKeyFlags struct {
	certFlag, keyFlag                   string // the flags' names
	certFile, keyFile, csrFile, passEnv string
	certOut, chainOut                   string
	facts                               factsFlags
}

// addCommon adds the flags onboard and renew describe alike; certOut describes --cert-out.
func (f *deviceKeyFlags) addCommon(cmd *cobra.Command, certOut string) {
	fl := cmd.Flags()
	fl.StringVar(&f.passEnv, "passphrase-env", "", "name of the environment variable holding the key's passphrase")
	f.facts.add(cmd)
	fl.StringVar(&f.certOut, "cert-out", "", certOut)
	fl.StringVar(&f.chainOut, "chain-out", "", "write the chain (PEM: issuing CA, then root) to this file")
}

// deviceProof is what deviceKeyFlags.read read and checked.
type deviceProof struct {
	facts   api.Facts
	certPEM []byte
	certs   []*x509.Certificate // the leaf first
	csr     []byte
	csrKey  crypto.PublicKey
	keyHash string // proof.KeySHA256 of csrKey
	key     crypto.Signer
}

// read reads the files and checks them before a challenge is spent: the facts are well
// formed, the certificate file's leaf holds the key, and the CSR parses.
func (f *deviceKeyFlags) read() (deviceProof, error) {
	var d deviceProof
	var err error
	if d.facts, err = f.facts.facts(); err != nil {
		return d, err
	}
	if d.certPEM, err = readInput(f.certFlag, f.certFile); err != nil {
		return d, err
	}
	if d.csr, err = readInput("csr", f.csrFile); err != nil {
		return d, err
	}
	if d.key, err = readSigner(f.keyFlag, f.keyFile, f.passEnv); err != nil {
		return d, err
	}
	if d.certs, err = leafMatches(f.certFlag, f.certFile, d.certPEM, f.keyFlag, d.key); err != nil {
		return d, err
	}
	d.csrKey, d.keyHash, err = csrKeyOf("csr", f.csrFile, d.csr)
	return d, err
}

// provenRequest is what onboard and renew send: the CSR, the certificates of the certificate
// file (nothing else it holds), a proof signed here and the facts.
type provenRequest struct {
	CSR, Certificate string
	Proof            api.Proof
	Facts            api.Facts
}

// proveAndSend is onboard and renew: it reads and checks f, asks for the challenge that
// challenge describes given the certificate's leaf (with the CSR's key), signs its proof
// message here with the device's key, sends the request with send and writes the identity
// the server returns.
func (e *env) proveAndSend(ctx context.Context, f *deviceKeyFlags, challenge func(leaf *x509.Certificate) api.ChallengeRequest,
	send func(*client.Client, provenRequest) (api.Identity, error)) error {
	d, err := f.read()
	if err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	req := challenge(d.certs[0])
	req.CSRKeySHA256 = d.keyHash
	ch, err := c.NewChallenge(ctx, req)
	if err != nil {
		return err
	}
	p, err := client.Prove(ch, req.Purpose, req.EnvironmentID, d.csrKey, d.key)
	if err != nil {
		return err
	}
	id, err := send(c, provenRequest{CSR: csrText(d.csr), Certificate: certsPEM(d.certs), Proof: p, Facts: d.facts})
	if err != nil {
		return err
	}
	return e.writeIdentity(id, f.certOut, f.chainOut)
}

// factsFlags are the facts a device reports at onboarding and renewal.
type factsFlags struct {
	firmware, hwRev string
	extra           []string
}

func (f *factsFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.firmware, "firmware-digest", "", "SHA-256 (hex) of the firmware the device runs now")
	fl.StringVar(&f.hwRev, "hardware-revision", "", "hardware revision the device reports")
	fl.StringArrayVar(&f.extra, "fact", nil, "another fact as key=value (repeatable), for policies to read as facts.extra")
}

func (f *factsFlags) facts() (api.Facts, error) {
	out := api.Facts{FirmwareDigest: f.firmware, HardwareRevision: f.hwRev}
	if f.firmware != "" {
		if _, err := hex.DecodeString(f.firmware); err != nil {
			return out, usagef("--firmware-digest must be hex, not %q", f.firmware)
		}
	}
	for _, kvs := range f.extra {
		k, v, ok := strings.Cut(kvs, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return out, usagef("--fact must be key=value, not %q", kvs)
		}
		if out.Extra == nil {
			out.Extra = map[string]string{}
		}
		if _, dup := out.Extra[k]; dup {
			return out, usagef("--fact %s is given twice", k)
		}
		out.Extra[k] = v
	}
	return out, nil
}

// writeIdentity writes the certificate and chain where asked and prints the summary.
func (e *env) writeIdentity(id api.Identity, certOut, chainOut string) error {
	if err := e.writeFiles(outFile{certOut, "certificate", id.CertificatePEM}, outFile{chainOut, "chain", id.ChainPEM}); err != nil {
		return err
	}
	serial := firstNonEmpty(certSerial(firstNonEmpty(id.Evidence.Serial, id.Device.OperationalCert)), serialOfPEM(id.CertificatePEM))
	notAfter := "-"
	if c := leafOfPEM(id.CertificatePEM); c != nil {
		notAfter = ts(c.NotAfter)
	}
	pol := "-"
	if id.Evidence.PolicyKind != "" {
		pol = fmt.Sprintf("%s v%d", id.Evidence.PolicyKind, id.Evidence.PolicyVersion)
	}
	return e.emit(id, []string{id.Device.ID}, func(w io.Writer) {
		row(w, "DEVICE", "STATE", "OPERATIONAL SERIAL", "ENVIRONMENT", "POLICY", "NOT AFTER")
		row(w, id.Device.ID, id.Device.State, serial, firstNonEmpty(id.Evidence.EnvironmentID, id.Device.EnvironmentID), pol, notAfter)
	})
}
