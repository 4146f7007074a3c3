package app

import "testing"

// DevHarness exposes the in-process dev server of startDevOpts to the external test package
// app_test, whose tests may import the CLI (which imports this package).
type DevHarness struct {
	Dir    string // the data folder (dev.json, tokens.json)
	Info   DevInfo
	Tokens map[string]string
	s      *devServer
}

// StartDevHarness starts a dev server (a fresh data folder) for an app_test test.
func StartDevHarness(t testing.TB) *DevHarness {
	t.Helper()
	s := startDevOpts(t, Options{})
	return &DevHarness{Dir: s.dir, Info: s.info, Tokens: s.tokens, s: s}
}

// Must calls the API as who (a key of Tokens, or "" for none), checks the status and returns
// the body.
func (h *DevHarness) Must(t *testing.T, want int, who, method, path string, body any) []byte {
	t.Helper()
	return h.s.must(t, want, who, method, path, body).Body
}

// CallWithToken calls the API with a bearer token of the caller's and returns the status.
func (h *DevHarness) CallWithToken(t *testing.T, token, method, path string) int {
	t.Helper()
	h.s.tokens["\x00raw"] = token
	defer delete(h.s.tokens, "\x00raw")
	return h.s.call(t, "\x00raw", method, path, nil).Status
}

// OnboardedDevice makes a device of acme's demo lot lotName (made by fabrikam's station,
// handed to contoso) and has contoso's oscar onboard it into a new environment; it returns
// the device's ID.
func (h *DevHarness) OnboardedDevice(t *testing.T, lotName, serial string) string {
	t.Helper()
	dir := t.TempDir()
	fi := deliveredDevice(t, h.s, dir, demoLot(t, h.s, lotName), lotName, serial)
	onboard(t, h.s, dir, opEnv(t, h.s, "env-"+lotName, nil), serial, "op-"+serial, 201)
	return fi.Device.ID
}
