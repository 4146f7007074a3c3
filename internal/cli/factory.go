package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
)

func (e *env) factoryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "factory",
		Short: "Issue factory identities (IDevID certificates with signed build records)",
		Long: `At the end of the line, a factory station sends the device's CSR and its build record; Hallmark
signs the build record with the manufacturer's key and issues a factory certificate bound to it.`,
		Example: `  hallmark factory issue --lot lot_123 --csr device.csr --record build.json --cert-out device.pem`,
	}
	cmd.AddCommand(e.factoryIssueCmd())
	return cmd
}

func (e *env) factoryIssueCmd() *cobra.Command {
	var o factoryIssueFlags
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Issue a factory identity for one device",
		Long: `Issue a factory certificate for a device of a lot. --csr is the device's PKCS#10 request, PEM or
DER; --record is the build record as JSON (manufacturer, model, lot, serial, components, ...).

The certificate, its chain (issuing CA then root) and the signed build record envelope are
written to --cert-out, --chain-out and --record-out when given. The summary shows the device
ID, its serial, the certificate serial and the SHA-256 of the build record; -o id prints the
device ID and -o json everything the server returned.`,
		Example: `  hallmark factory issue --lot lot_123 --csr device.csr --record build.json \
      --cert-out device.pem --chain-out chain.pem --record-out build.dsse.json
  DEVICE=$(hallmark factory issue --lot "$LOT" --csr device.der --record build.json -o id)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return e.issueFactory(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.lotID, "lot", "", "lot ID")
	f.StringVar(&o.csrFile, "csr", "", "the device's CSR (PEM or DER file)")
	f.StringVar(&o.recordFile, "record", "", "the build record (JSON file)")
	f.StringVar(&o.certOut, "cert-out", "", "write the certificate (PEM) to this file")
	f.StringVar(&o.chainOut, "chain-out", "", "write the chain (PEM: issuing CA, then root) to this file")
	f.StringVar(&o.recordOut, "record-out", "", "write the signed build record envelope (JSON) to this file")
	required(cmd, "lot", "csr", "record")
	return cmd
}

// factoryIssueFlags are the flags of "factory issue".
type factoryIssueFlags struct {
	lotID, csrFile, recordFile, certOut, chainOut, recordOut string
}

// issueFactory sends the CSR and build record, writes the files asked for and prints the
// summary.
func (e *env) issueFactory(ctx context.Context, o factoryIssueFlags) error {
	csr, err := readInput("csr", o.csrFile)
	if err != nil {
		return err
	}
	rec, err := readInput("record", o.recordFile)
	if err != nil {
		return err
	}
	if !json.Valid(rec) {
		return invalidf("--record %s is not JSON", o.recordFile)
	}
	req := api.IssueFactoryRequest{CSR: csrText(csr), BuildRecord: json.RawMessage(bytes.TrimSpace(rec))}
	c, err := e.client()
	if err != nil {
		return err
	}
	fi, err := c.IssueFactory(ctx, o.lotID, req)
	if err != nil {
		return err
	}
	err = e.writeFiles(outFile{o.certOut, "certificate", fi.CertificatePEM}, outFile{o.chainOut, "chain", fi.ChainPEM},
		outFile{o.recordOut, "build record", string(fi.BuildRecord)})
	if err != nil {
		return err
	}
	factorySerial := certSerial(fi.Device.FactoryCert)
	if factorySerial == "" {
		factorySerial = serialOfPEM(fi.CertificatePEM)
	}
	return e.emit(fi, []string{fi.Device.ID}, func(w io.Writer) {
		row(w, "DEVICE", "SERIAL", "CERTIFICATE SERIAL", "BUILD RECORD SHA-256")
		row(w, fi.Device.ID, fi.Device.Serial, factorySerial, fi.BuildRecordSHA)
	})
}
