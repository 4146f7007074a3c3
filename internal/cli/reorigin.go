package cli

import (
	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
)

func (e *env) deviceReoriginCmd() *cobra.Command {
	var certFile, reason string
	cmd := &cobra.Command{
		Use:   "reorigin ID",
		Short: "Ask to accept a maker's re-issued factory certificate for its device (it waits for an approval)",
		Long: `Ask to make --cert, a factory certificate that a maker re-issued for one of its devices (after a
repair, for a new key, or as the old one expires), the device's current one. Only the device's
current factory certificate onboards it, so until then the device cannot onboard or renew with
the new certificate. You need operational/issue over the device's environment and your party
must hold the device. This is for devices of registered makers (docs/external-makers.md); a
device this deployment made gets a new factory identity by "hallmark device repair".

The certificate is checked as a first onboarding checks it: it chains to the maker's registered
anchor and is valid now, it meets the maker's policy, the maker's CRL or OCSP does not revoke it,
its manifest lists it when the maker requires one, it names the same device serial and model
as the device's current certificate, and it is valid from no earlier than that one. A refusal
names its rule (origin:other-maker, origin:other-device, origin:revoked, origin:chain,
origin:older, origin:not-custodian, ...) and is recorded in the refusals report.

The request waits for an approval (kind reorigin) by another principal of the party owning
operational/approve: "hallmark approval approve ID" checks the certificate again and makes it
the device's current one, provided the device still has the certificate the approvers saw
(else origin:stale); the audit event device.reorigin keeps the old one. Nothing else changes:
the device's operational certificates keep working. Asking again for the same certificate
returns its request; asking for another while one is pending is refused (origin:pending-other:
cancel it first). -o id prints the approval's ID.`,
		Example: `  APPROVAL=$(hallmark device reorigin dev_123 --cert new-idevid.pem --reason "maker replaced the secure element" -o id)
  eval "$(hallmark dev env --as contoso/olivia)"     # another principal of the operator
  hallmark approval approve "$APPROVAL"`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cert, err := readInput("cert", certFile)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			res, err := c.ReoriginDevice(cmd.Context(), args[0], api.ReoriginRequest{Certificate: string(cert), Reason: reason})
			if err != nil {
				return err
			}
			return e.emitDeviceApproval(res, res.Device, res.Approval)
		},
	}
	cmd.Flags().StringVar(&certFile, "cert", "", "the maker's new factory certificate of the device (PEM file, optionally followed by its chain)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the maker re-issued it (shown to the approvers, recorded in the audit log)")
	required(cmd, "cert", "reason")
	return cmd
}
