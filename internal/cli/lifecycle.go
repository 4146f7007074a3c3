package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

// deviceLifecycleCommands are "device release" and "device decommission": the end of a
// device's stay in an environment (PRODUCT.md: active → release/decommission → released).
func (e *env) deviceLifecycleCommands() []*cobra.Command {
	return []*cobra.Command{e.deviceRelease(), e.deviceDecommission()}
}

func (e *env) deviceRelease() *cobra.Command {
	return e.deviceEnd("release", "Release a device from its environment so that custody can move",
		`Release an active, suspended or quarantined device from its environment: its operational
certificate, if still valid or on hold, is revoked as cessationOfOperation, and the device becomes
released, so that it no longer renews there. Its factory identity is
untouched: it onboards again, here or wherever it goes, with its factory certificate.

Custody ends trust: a transfer of a device that is still active, suspended or quarantined is
refused until its holder releases it. Needs operational/revoke over the device's environment,
whose operator must hold the device.`,
		`  hallmark device release dev_123 --note "sold to northwind"
  hallmark transfer offer --to northwind --device dev_123`,
		(*client.Client).ReleaseDevice)
}

func (e *env) deviceDecommission() *cobra.Command {
	return e.deviceEnd("decommission", "Take a device out of service",
		`Decommission a device (end of life, or sent for repair): the same transition as "hallmark
device release" (its operational certificate revoked as cessationOfOperation, the device
released, its factory identity untouched), recorded in the audit log as a decommissioning. A
repaired device comes back with a new build record and onboards again.`,
		`  hallmark device decommission dev_123 --note "end of life"`,
		(*client.Client).DecommissionDevice)
}

// deviceEnd builds one lifecycle command: verb ID [--note], printing the device's new state.
func (e *env) deviceEnd(verb, short, long, example string, call func(*client.Client, context.Context, string, api.ReleaseRequest) (api.Device, error)) *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:     verb + " ID",
		Short:   short,
		Long:    long,
		Example: example,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			d, err := call(c, cmd.Context(), args[0], api.ReleaseRequest{Note: note})
			if err != nil {
				return err
			}
			return e.emit(d, []string{d.ID}, func(w io.Writer) { deviceStateTable(w, d) })
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why, for the audit log (at most 1000 characters)")
	return cmd
}
