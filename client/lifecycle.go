package client

import (
	"context"

	"github.com/hallmark-id/hallmark/api"
)

// ReleaseDevice releases a device from its environment so that custody can move: its
// operational certificate is revoked (cessationOfOperation) and the device becomes released.
func (c *Client) ReleaseDevice(ctx context.Context, id string, r api.ReleaseRequest) (api.Device, error) {
	var d api.Device
	return d, c.do(ctx, "POST", "/v1/devices/"+seg(id)+"/release", r, &d)
}

// DecommissionDevice takes a device out of service: the transition of ReleaseDevice, recorded
// as a decommissioning.
func (c *Client) DecommissionDevice(ctx context.Context, id string, r api.ReleaseRequest) (api.Device, error) {
	var d api.Device
	return d, c.do(ctx, "POST", "/v1/devices/"+seg(id)+"/decommission", r, &d)
}
