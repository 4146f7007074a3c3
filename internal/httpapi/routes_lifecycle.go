package httpapi

import (
	"context"
	"net/http"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/operational"
	"github.com/hallmark-id/hallmark/internal/party"
)

// lifecycleRoutes registers the end of a device's stay in an environment: release and
// decommission (PRODUCT.md: active → release/decommission → released).
func (s *Server) lifecycleRoutes() {
	s.handle("POST", "/v1/devices/{id}/release", s.releaseDevice)
	s.handle("POST", "/v1/devices/{id}/decommission", s.decommissionDevice)
}

// releaseDevice is POST /v1/devices/{id}/release: operational.Service.Release.
func (s *Server) releaseDevice(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return s.endDevice(w, r, p, s.ops.Release)
}

// decommissionDevice is POST /v1/devices/{id}/decommission: operational.Service.Decommission.
func (s *Server) decommissionDevice(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return s.endDevice(w, r, p, s.ops.Decommission)
}

type endFunc func(ctx context.Context, a audit.Actor, deviceID string, r operational.ReleaseRequest) (device.Device, error)

func (s *Server) endDevice(w http.ResponseWriter, r *http.Request, p party.Principal, end endFunc) error {
	var req api.ReleaseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := end(r.Context(), actor(p), r.PathValue("id"), fromReleaseRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toDevice(d))
}
