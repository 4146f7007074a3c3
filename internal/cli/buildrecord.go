package cli

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/oid"
)

func (e *env) buildRecordCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "buildrecord",
		Short: "Verify signed build records offline",
		Long: `A build record is what the factory asserted about a device, signed by its manufacturer (a DSSE
envelope of an in-toto statement) and bound to the device's factory certificate by digest.`,
		Example: `  hallmark buildrecord key acme --out acme-build-records.pem
  hallmark buildrecord verify --key acme-build-records.pem --record build.dsse.json --cert device.pem
  hallmark buildrecord keys acme --out acme-keys.pem`,
	}
	cmd.AddCommand(e.buildRecordVerifyCmd(), e.buildRecordKeyCmd())
	cmd.AddCommand(e.buildRecordKeyCommands()...) // rotation.go
	return cmd
}

func (e *env) buildRecordVerifyCmd() *cobra.Command {
	var keyFile, recordFile, certFile string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify a signed build record, and its binding to a certificate (offline)",
		Long: `Verify a signed build record envelope with the manufacturer's build-record public key, without
contacting any server. --key may hold the manufacturer's whole key history ("hallmark buildrecord
keys"): the signature's keyid picks the key, so records signed before a key rotation verify. With --cert, also check that the record is bound to that factory
certificate: the certificate's public key is the record's subject, and the certificate's
build-record extension holds the SHA-256 of this record.

Prints "build record OK: ..." and exits 0, or says what failed and exits 3.`,
		Example: `  hallmark buildrecord verify --key acme-build-records.pem --record build.dsse.json
  hallmark buildrecord verify --key acme-build-records.pem --record build.dsse.json --cert device.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.verifyBuildRecord(keyFile, recordFile, certFile)
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the manufacturer's build-record public key or key history (PEM file)")
	cmd.Flags().StringVar(&recordFile, "record", "", "the signed build record envelope (JSON file)")
	cmd.Flags().StringVar(&certFile, "cert", "", "the device's factory certificate (PEM or DER file) to check the binding to")
	required(cmd, "key", "record")
	return cmd
}

// verifyBuildRecord verifies the envelope in recordFile with the key in keyFile and, when
// certFile is given, its binding to that certificate, offline, and prints the result.
func (e *env) verifyBuildRecord(keyFile, recordFile, certFile string) error {
	keyPEM, err := readInput("key", keyFile)
	if err != nil {
		return err
	}
	envJSON, err := readInput("record", recordFile)
	if err != nil {
		return err
	}
	pubs, err := buildrecord.ParsePublicKeysPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("--key %s: %w", keyFile, err)
	}
	env, err := buildrecord.ParseEnvelope(envJSON)
	if err != nil {
		return fmt.Errorf("--record %s: %w", recordFile, err)
	}
	v, err := buildrecord.VerifyKeys(env, pubs)
	if err != nil {
		return err
	}
	res := verifyResult{
		OK: true, Serial: v.Record.Serial, Manufacturer: v.Record.Manufacturer, Model: v.Record.Model,
		Lot: v.Record.Lot, KeyID: v.KeyID, PayloadSHA256: hex.EncodeToString(v.PayloadDigest[:]),
	}
	if certFile != "" {
		cert, err := readCertificate(certFile)
		if err != nil {
			return err
		}
		digest, err := buildRecordDigestOf(cert)
		if err != nil {
			return fmt.Errorf("--cert %s: %w", certFile, err)
		}
		if err := buildrecord.CheckBinding(v, cert.PublicKey, digest); err != nil {
			return err
		}
		res.CertificateSerial = serialText(cert.SerialNumber)
	}
	return e.emit(res, []string{res.Serial}, func(w io.Writer) {
		fmt.Fprintf(w, "build record OK: serial %s, manufacturer %s, signed by key %s\n", res.Serial, res.Manufacturer, res.KeyID)
		if res.CertificateSerial != "" {
			fmt.Fprintf(w, "bound to certificate %s: its key is the record's subject and it names this record (sha256 %s)\n", res.CertificateSerial, res.PayloadSHA256)
		} else {
			fmt.Fprintln(w, "not checked against a certificate (give --cert to check the binding)")
		}
	})
}

func (e *env) buildRecordKeyCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "key MANUFACTURER",
		Short:   "Fetch a manufacturer's build-record public key (PEM)",
		Long:    "Fetch the public key a manufacturer signs build records with, as PEM on stdout or to --out. This route is public: no token is needed.",
		Example: `  hallmark buildrecord key acme --out acme-build-records.pem`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			b, err := c.BuildRecordKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.writeOut(out, b, "build-record key")
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the PEM to this file instead of stdout")
	return cmd
}

type verifyResult struct {
	OK                bool   `json:"ok"`
	Serial            string `json:"serial"`
	Manufacturer      string `json:"manufacturer"`
	Model             string `json:"model"`
	Lot               string `json:"lot"`
	KeyID             string `json:"key_id"`
	PayloadSHA256     string `json:"payload_sha256"`
	CertificateSerial string `json:"certificate_serial,omitempty"` // set when the binding was checked
}

func readCertificate(file string) (*x509.Certificate, error) {
	b, err := readInput("cert", file)
	if err != nil {
		return nil, err
	}
	der := b
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, invalidf("--cert %s holds a %s, not a CERTIFICATE", file, blk.Type)
		}
		der = blk.Bytes
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, invalidf("--cert %s: %v", file, err)
	}
	return c, nil
}

// buildRecordDigestOf reads the build-record digest extension of a factory certificate: an
// OCTET STRING holding the SHA-256 of the signed build record's payload (see internal/oid).
// It mirrors issuance.BuildRecordDigestOf, which the CLI does not link: the signing side of
// issuance has no place in a client.
func buildRecordDigestOf(cert *x509.Certificate) ([32]byte, error) {
	var d [32]byte
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oid.BuildRecordDigest) {
			continue
		}
		var b []byte
		if rest, err := asn1.Unmarshal(ext.Value, &b); err != nil || len(rest) != 0 || len(b) != len(d) {
			return d, invalidf("malformed build record digest extension")
		}
		copy(d[:], b)
		return d, nil
	}
	return d, invalidf("certificate has no build record digest extension: it is not a Hallmark factory certificate")
}
