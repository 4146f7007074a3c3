package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

func (e *env) operationalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operational",
		Short: "Create operational certificate authorities",
		Long: `Operational CAs sign the operational (LDevID) certificates devices receive when they are
onboarded into an operator's environment. A hierarchy is an operational root CA and an issuing
CA under it.`,
		Example: `  hallmark operational create-hierarchy --operator fleetco --name fleet-ops`,
	}
	cmd.AddCommand(e.operationalCreateHierarchyCmd())
	return cmd
}

func (e *env) operationalCreateHierarchyCmd() *cobra.Command {
	var h api.CreateOperationalHierarchyRequest
	cmd := &cobra.Command{
		Use:   "create-hierarchy",
		Short: "Create an operational root CA and an issuing CA under it",
		Long: `Create an operational root CA and an issuing CA for an operator; their keys are generated and
kept by the server. Environments name the issuing CA. -o id prints the root CA's ID, then the
issuing CA's ID, one a line.`,
		Example: `  hallmark operational create-hierarchy --operator fleetco --name fleet-ops --algorithm ecdsa-p384
  OPS_CA=$(hallmark operational create-hierarchy --operator fleetco --name fleet-ops -o id | tail -n 1)`,
		Args: cobra.NoArgs,
		RunE: e.createHierarchy(&h.Algorithm, func(ctx context.Context, c *client.Client) (api.Hierarchy, error) {
			return c.CreateOperationalHierarchy(ctx, h)
		}),
	}
	cmd.Flags().StringVar(&h.OperatorID, "operator", "", "operator party ID")
	cmd.Flags().StringVar(&h.Name, "name", "", "CA name (a slug)")
	algorithmFlag(cmd, &h.Algorithm)
	crlPartitionsFlag(cmd, &h.CRLPartitions)
	required(cmd, "operator", "name")
	return cmd
}
