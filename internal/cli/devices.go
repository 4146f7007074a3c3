package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

func (e *env) deviceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "List, inspect, onboard, renew, revoke and re-admit devices",
		Long: `Devices you may see: those your party made or holds (auditors see all). An operator onboards the
devices it holds into an environment, renews their operational identities, revokes them after a
runtime compromise, re-admits them after repair, and releases or decommissions them when they
leave.`,
		Example: `  hallmark device list --lot lot_123
  hallmark device show dev_123
  hallmark device onboard --env env_123 --factory-cert idevid.pem --factory-key idevid.key --csr ldevid.csr`,
	}
	cmd.AddCommand(e.deviceListCmd(), e.deviceShowCmd(), e.deviceCertCmd(), e.deviceBuildRecordCmd(),
		e.deviceOnboardCmd(), e.deviceRenewCmd(), e.deviceRevokeCmd(), e.deviceReadmitCmd())
	cmd.AddCommand(e.deviceLifecycleCommands()...)
	cmd.AddCommand(e.deviceRepairCmd())   // repair.go
	cmd.AddCommand(e.deviceReoriginCmd()) // reorigin.go
	return cmd
}

func (e *env) deviceListCmd() *cobra.Command {
	var f client.DeviceFilter
	var pages devicePages
	var expiring string
	cmd := &cobra.Command{
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
			return e.listDevices(cmd.Context(), f, expiring, pages)
		},
	}
	lf := cmd.Flags()
	lf.StringVar(&f.Lot, "lot", "", "only devices of this lot")
	lf.StringVar(&f.State, "state", "", "only devices in this state")
	lf.StringVar(&f.Custodian, "custodian", "", "only devices this party holds")
	lf.StringVar(&f.Manufacturer, "manufacturer", "", "only devices this party made")
	lf.StringVar(&f.Environment, "environment", "", "only devices onboarded into this environment")
	lf.StringVar(&expiring, "expiring-before", "", "only devices whose operational certificate expires before this time (RFC 3339)")
	pages.add(cmd)
	return cmd
}

// listDevices lists the devices matching f, one page or all of them, and prints them.
func (e *env) listDevices(ctx context.Context, f client.DeviceFilter, expiring string, pages devicePages) error {
	if err := pages.check(); err != nil {
		return err
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
	f.After, f.Limit = pages.after, pages.limit
	ds, err := fetchPages(e, pages, func() ([]api.Device, error) { return c.AllDevices(ctx, f) }, func() ([]api.Device, string, error) {
		p, err := c.ListDevices(ctx, f)
		return p.Items, p.NextAfter, err
	})
	if err != nil {
		return err
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
}

func (e *env) deviceShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a device with its certificates, custody chain and lineage",
		Long: `Show everything Hallmark knows of a device: its identity and state, every certificate issued
to it, whether it has a build record, its custody chain (who handed it to whom) and its lineage:
what each operational certificate was issued on (onboarding or renewal, the certificate presented
as proof, the protocol, the policy version that allowed it, and who asked: by name where you may
read the principal, by ID otherwise; -o json keeps the IDs).`,
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
			return e.emit(v, []string{v.ID}, func(w io.Writer) { deviceDetail(w, v, newPrincipalNames(cmd.Context(), c)) })
		},
	}
}

// deviceDetail shows the lineage's principals by name where the caller may read them (see
// principalNames).
func deviceDetail(w io.Writer, v api.DeviceView, names *principalNames) {
	fmt.Fprintln(w, "Device")
	kv(w, "  ID", v.ID)
	kv(w, "  Serial", v.Serial)
	kv(w, "  State", v.State)
	kv(w, "  Manufacturer", v.ManufacturerID)
	kv(w, "  Model", v.ModelID)
	kv(w, "  Lot", v.LotID)
	kv(w, "  Custodian", v.CustodianID)
	kv(w, "  Factory certificate", certSerial(v.FactoryCert))
	kv(w, "  Environment", v.EnvironmentID)
	kv(w, "  Operational certificate", certSerial(v.OperationalCert))
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
			row(w, "  "+certSerial(c.Serial), c.Profile, c.State, c.CAID, ts(c.NotBefore), ts(c.NotAfter), tsp(c.RevokedAt))
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
	factoryLineageTable(w, v.FactoryLineage) // repair.go
	fmt.Fprintln(w, "\nLineage")
	if len(v.Lineage) == 0 {
		fmt.Fprintln(w, "  no operational certificates")
	} else {
		row(w, "  KIND", "SERIAL", "BASED ON", "ENVIRONMENT", "PROTOCOL", "POLICY", "PRINCIPAL", "AT")
		for _, ev := range v.Lineage {
			row(w, "  "+ev.Kind, certSerial(ev.Serial), certSerial(ev.BasedOn), ev.EnvironmentID, ev.Protocol,
				fmt.Sprintf("%s v%d", ev.PolicyKind, ev.PolicyVersion), names.name(ev.PrincipalID), ts(ev.CreatedAt))
		}
	}
}

func (e *env) deviceCertCmd() *cobra.Command {
	var certOut string
	cmd := &cobra.Command{
		Use:   "cert ID SERIAL",
		Short: "Print one of a device's certificates (PEM)",
		Long: `Print a device's certificate, named by its serial in hex, as PEM on stdout or to --out. The
serial may be written as openssl prints it ("0A1B", "serial=0A1B", "0a:1b") or as the API lists
it ("a1b"); the CLI's tables print serials as openssl does.`,
		Example: `  hallmark device cert dev_123 5F3A9C... --out device.pem
  hallmark device cert dev_123 "$(hallmark device show dev_123 -o json | jq -r .factory_certificate)"`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			b, err := c.DeviceCertificate(cmd.Context(), args[0], apiSerial(args[1]))
			if err != nil {
				return err
			}
			return e.writeOut(certOut, b, "certificate")
		},
	}
	cmd.Flags().StringVar(&certOut, "out", "", "write the PEM to this file instead of stdout")
	return cmd
}

func (e *env) deviceBuildRecordCmd() *cobra.Command {
	var recOut string
	cmd := &cobra.Command{
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
	cmd.Flags().StringVar(&recOut, "out", "", "write the envelope to this file instead of stdout")
	return cmd
}

func (e *env) deviceRevokeCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a device's operational identity after a runtime compromise",
		Long: `Revoke the device's current operational certificate (the operator's runtime path) and quarantine
the device. Its factory identity is untouched: after repair, "hallmark device readmit" returns it
to onboarding. --reason is an RFC 5280 reason the runtime path allows: unspecified, keyCompromise,
affiliationChanged, superseded, cessationOfOperation or privilegeWithdrawn.

To revoke factory identities (a manufacturing compromise), use "hallmark revocation create".`,
		Example: `  hallmark device revoke dev_123 --reason keyCompromise`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			d, err := c.RevokeDevice(cmd.Context(), args[0], api.RevokeRequest{Reason: reason})
			if err != nil {
				return err
			}
			return e.emit(d, []string{d.ID}, func(w io.Writer) { deviceStateTable(w, d) })
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "RFC 5280 revocation reason, e.g. keyCompromise")
	required(cmd, "reason")
	return cmd
}

func (e *env) deviceReadmitCmd() *cobra.Command {
	var readmitReason string
	cmd := &cobra.Command{
		Use:   "readmit ID",
		Short: "Ask to re-admit a quarantined or suspended device (it waits for an approval)",
		Long: `Ask to trust a device again, for --reason. Re-admission waits for an approval (kind readmit)
by another principal of the operator than you: "hallmark approval approve ID" re-admits the
device at once. A quarantined device (its operational identity revoked) then returns to the
onboarding path and must onboard again; a suspended device (its operational certificate on hold
after a manufacturing revocation) has the hold lifted and is active again.

Asking again while a request is pending returns that request. The summary shows the device as
it is now and the approval's ID; -o id prints the approval's ID alone.`,
		Example: `  APPROVAL=$(hallmark device readmit dev_123 --reason "board replaced, firmware re-flashed" -o id)
  eval "$(hallmark dev env --as contoso/olivia)"     # another principal of the operator
  hallmark approval approve "$APPROVAL"`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			res, err := c.ReadmitDevice(cmd.Context(), args[0], api.ReadmitRequest{Reason: readmitReason})
			if err != nil {
				return err
			}
			return e.emitDeviceApproval(res, res.Device, res.Approval)
		},
	}
	cmd.Flags().StringVar(&readmitReason, "reason", "", "why the device may be trusted again (shown to the approvers)")
	required(cmd, "reason")
	return cmd
}

func deviceStateTable(w io.Writer, d api.Device) {
	row(w, "ID", "SERIAL", "STATE", "ENVIRONMENT", "OPERATIONAL CERTIFICATE", "UPDATED")
	row(w, d.ID, d.Serial, d.State, d.EnvironmentID, certSerial(d.OperationalCert), ts(d.UpdatedAt))
}
