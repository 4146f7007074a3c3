package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

func (e *env) factoryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "factory",
		Short: "Issue factory identities (IDevID certificates with signed build records)",
		Long: `At the end of the line, a factory station sends the device's CSR and its build record; Hallmark
signs the build record with the manufacturer's key and issues a factory certificate bound to it.`,
		Example: `  hallmark factory issue --lot lot_123 --csr device.csr --record build.json --cert-out device.pem`,
	}
	var lotID, csrFile, recordFile, certOut, chainOut, recordOut string
	issue := &cobra.Command{
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
		RunE: func(cmd *cobra.Command, args []string) error {
			csr, err := readInput("csr", csrFile)
			if err != nil {
				return err
			}
			rec, err := readInput("record", recordFile)
			if err != nil {
				return err
			}
			if !json.Valid(rec) {
				return invalidf("--record %s is not JSON", recordFile)
			}
			req := api.IssueFactoryRequest{CSR: csrText(csr), BuildRecord: json.RawMessage(bytes.TrimSpace(rec))}
			c, err := e.client()
			if err != nil {
				return err
			}
			fi, err := c.IssueFactory(cmd.Context(), lotID, req)
			if err != nil {
				return err
			}
			for _, f := range []struct{ file, what, data string }{
				{certOut, "certificate", fi.CertificatePEM},
				{chainOut, "chain", fi.ChainPEM},
				{recordOut, "build record", string(fi.BuildRecord)},
			} {
				if f.file != "" {
					if err := e.writeOut(f.file, []byte(f.data), f.what); err != nil {
						return err
					}
				}
			}
			certSerial := fi.Device.FactoryCert
			if certSerial == "" {
				certSerial = serialOfPEM(fi.CertificatePEM)
			}
			return e.emit(fi, []string{fi.Device.ID}, func(w io.Writer) {
				row(w, "DEVICE", "SERIAL", "CERTIFICATE SERIAL", "BUILD RECORD SHA-256")
				row(w, fi.Device.ID, fi.Device.Serial, certSerial, fi.BuildRecordSHA)
			})
		},
	}
	f := issue.Flags()
	f.StringVar(&lotID, "lot", "", "lot ID")
	f.StringVar(&csrFile, "csr", "", "the device's CSR (PEM or DER file)")
	f.StringVar(&recordFile, "record", "", "the build record (JSON file)")
	f.StringVar(&certOut, "cert-out", "", "write the certificate (PEM) to this file")
	f.StringVar(&chainOut, "chain-out", "", "write the chain (PEM: issuing CA, then root) to this file")
	f.StringVar(&recordOut, "record-out", "", "write the signed build record envelope (JSON) to this file")
	required(issue, "lot", "csr", "record")
	cmd.AddCommand(issue)
	return cmd
}

// csrText sends PEM as it is and DER as base64, the two forms the API accepts.
func csrText(b []byte) string {
	if t := bytes.TrimSpace(b); bytes.HasPrefix(t, []byte("-----BEGIN")) {
		return string(t)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func serialOfPEM(s string) string {
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		return ""
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return ""
	}
	return c.SerialNumber.Text(16)
}

func (e *env) deviceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "List, inspect, onboard, renew, revoke and re-admit devices",
		Long: `Devices you may see: those your party made or holds (auditors see all). An operator onboards the
devices it holds into an environment, renews their operational identities, revokes them after a
runtime compromise and re-admits them after repair.`,
		Example: `  hallmark device list --lot lot_123
  hallmark device show dev_123
  hallmark device onboard --env env_123 --factory-cert idevid.pem --factory-key idevid.key --csr ldevid.csr`,
	}
	var f client.DeviceFilter
	var all bool
	var expiring string
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List devices",
		Long: `List the devices you may see, filtered by lot, state, custodian, manufacturer or environment;
--expiring-before lists the devices whose operational certificate expires before a time (RFC 3339),
those due for renewal. The server
returns pages of up to --limit devices (default and most 1000); --all follows the pages to the
end, and --after starts after a device ID. When more devices remain, a note on stderr says how
to fetch them.`,
		Example: `  hallmark device list --lot lot_123 --state manufactured
  hallmark device list --custodian distrib --all -o id
  hallmark device list --environment env_123 --expiring-before 2026-12-01T00:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.Limit < 0 || f.Limit > 1000 {
				return usagef("--limit must be 1-1000")
			}
			if expiring != "" {
				t, err := time.Parse(time.RFC3339, expiring)
				if err != nil {
					return usagef("--expiring-before must be an RFC 3339 time such as 2026-12-01T00:00:00Z, not %q", expiring)
				}
				f.ExpiringBefore = t
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			var ds []api.Device
			if all {
				if ds, err = c.AllDevices(cmd.Context(), f); err != nil {
					return err
				}
			} else {
				p, err := c.ListDevices(cmd.Context(), f)
				if err != nil {
					return err
				}
				ds = p.Items
				if p.NextAfter != "" {
					fmt.Fprintf(e.stderr, "more devices: add --after %s, or --all\n", p.NextAfter)
				}
			}
			ids := make([]string, len(ds))
			for i, d := range ds {
				ids[i] = d.ID
			}
			return e.emit(ds, ids, func(w io.Writer) {
				row(w, "ID", "SERIAL", "STATE", "MANUFACTURER", "MODEL", "LOT", "CUSTODIAN", "ENVIRONMENT", "UPDATED")
				for _, d := range ds {
					row(w, d.ID, d.Serial, d.State, d.ManufacturerID, d.ModelID, d.LotID, d.CustodianID, d.EnvironmentID, ts(d.UpdatedAt))
				}
			})
		},
	}
	lf := listCmd.Flags()
	lf.StringVar(&f.Lot, "lot", "", "only devices of this lot")
	lf.StringVar(&f.State, "state", "", "only devices in this state")
	lf.StringVar(&f.Custodian, "custodian", "", "only devices this party holds")
	lf.StringVar(&f.Manufacturer, "manufacturer", "", "only devices this party made")
	lf.StringVar(&f.Environment, "environment", "", "only devices onboarded into this environment")
	lf.StringVar(&expiring, "expiring-before", "", "only devices whose operational certificate expires before this time (RFC 3339)")
	lf.StringVar(&f.After, "after", "", "start after this device ID")
	lf.IntVar(&f.Limit, "limit", 0, "devices per page, 1-1000 (default 1000)")
	lf.BoolVar(&all, "all", false, "follow the pages to the last device")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a device with its certificates, custody chain and lineage",
		Long: `Show everything Hallmark knows of a device: its identity and state, every certificate issued
to it, whether it has a build record, its custody chain (who handed it to whom) and its lineage:
what each operational certificate was issued on (onboarding or renewal, the certificate presented
as proof, the protocol, the policy version that allowed it, and who asked).`,
		Example: `  hallmark device show dev_123
  hallmark device show dev_123 -o json | jq .certificates`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.GetDevice(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.emit(v, []string{v.ID}, func(w io.Writer) {
				fmt.Fprintln(w, "Device")
				kv(w, "  ID", v.ID)
				kv(w, "  Serial", v.Serial)
				kv(w, "  State", v.State)
				kv(w, "  Manufacturer", v.ManufacturerID)
				kv(w, "  Model", v.ModelID)
				kv(w, "  Lot", v.LotID)
				kv(w, "  Custodian", v.CustodianID)
				kv(w, "  Factory certificate", v.FactoryCert)
				kv(w, "  Environment", v.EnvironmentID)
				kv(w, "  Operational certificate", v.OperationalCert)
				kv(w, "  Created", ts(v.CreatedAt))
				kv(w, "  Updated", ts(v.UpdatedAt))
				if len(v.BuildRecord) > 0 {
					kv(w, "  Build record", fmt.Sprintf("yes (hallmark device build-record %s)", v.ID))
				} else {
					kv(w, "  Build record", "none")
				}
				externalOrigin(w, v.External)
				fmt.Fprintln(w, "\nCertificates")
				if len(v.Certificates) == 0 {
					fmt.Fprintln(w, "  none")
				} else {
					row(w, "  SERIAL", "PROFILE", "STATE", "CA", "NOT BEFORE", "NOT AFTER", "REVOKED")
					for _, c := range v.Certificates {
						row(w, "  "+c.Serial, c.Profile, c.State, c.CAID, ts(c.NotBefore), ts(c.NotAfter), tsp(c.RevokedAt))
					}
				}
				fmt.Fprintln(w, "\nCustody")
				if len(v.Custody) == 0 {
					fmt.Fprintln(w, "  no transfers: still with its maker")
				} else {
					row(w, "  AT", "FROM", "TO", "TRANSFER")
					for _, l := range v.Custody {
						row(w, "  "+ts(l.At), l.FromID, l.ToID, l.TransferID)
					}
				}
				fmt.Fprintln(w, "\nLineage")
				if len(v.Lineage) == 0 {
					fmt.Fprintln(w, "  no operational certificates")
				} else {
					row(w, "  KIND", "SERIAL", "BASED ON", "ENVIRONMENT", "PROTOCOL", "POLICY", "PRINCIPAL", "AT")
					for _, ev := range v.Lineage {
						row(w, "  "+ev.Kind, ev.Serial, ev.BasedOn, ev.EnvironmentID, ev.Protocol,
							fmt.Sprintf("%s v%d", ev.PolicyKind, ev.PolicyVersion), ev.PrincipalID, ts(ev.CreatedAt))
					}
				}
			})
		},
	}

	var certOut string
	certCmd := &cobra.Command{
		Use:   "cert ID SERIAL",
		Short: "Print one of a device's certificates (PEM)",
		Long:  "Print a device's certificate, named by its serial in hex, as PEM on stdout or to --out.",
		Example: `  hallmark device cert dev_123 5f3a9c... --out device.pem
  hallmark device cert dev_123 "$(hallmark device show dev_123 -o json | jq -r .factory_certificate)"`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			b, err := c.DeviceCertificate(cmd.Context(), args[0], strings.ToLower(strings.ReplaceAll(args[1], ":", "")))
			if err != nil {
				return err
			}
			return e.writeOut(certOut, b, "certificate")
		},
	}
	certCmd.Flags().StringVar(&certOut, "out", "", "write the PEM to this file instead of stdout")

	var recOut string
	rec := &cobra.Command{
		Use:   "build-record ID",
		Short: "Print a device's signed build record envelope (JSON)",
		Long: `Print the signed build record envelope of a device on stdout or to --out. Check it offline
with "hallmark buildrecord verify".`,
		Example: `  hallmark device build-record dev_123 --out build.dsse.json`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			b, err := c.DeviceBuildRecord(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if len(b) > 0 && b[len(b)-1] != '\n' && (recOut == "" || recOut == "-") {
				b = append(b, '\n')
			}
			return e.writeOut(recOut, b, "build record")
		},
	}
	rec.Flags().StringVar(&recOut, "out", "", "write the envelope to this file instead of stdout")
	cmd.AddCommand(listCmd, show, certCmd, rec)
	cmd.AddCommand(e.deviceOperationalCommands()...)
	return cmd
}
