package httpapi

import (
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/custody"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/inventory"
	"github.com/hallmark-id/hallmark/internal/party"
)

// deviceRoutes are the inventory (inventory.Service) and custody transfers
// (custody.Service).
func (s *Server) deviceRoutes() {
	s.handle("GET", "/v1/devices", s.listDevices)
	s.handle("GET", "/v1/devices/{id}", s.getDevice)
	s.handle("GET", "/v1/devices/{id}/certificates/{serial}", s.deviceCertificate)
	s.handle("GET", "/v1/devices/{id}/build-record", s.deviceBuildRecord)

	s.handle("POST", "/v1/transfers", s.offerTransfer)
	s.handle("GET", "/v1/transfers", s.listTransfers)
	s.handle("GET", "/v1/transfers/{id}", s.getTransfer)
	s.handle("GET", "/v1/transfers/{id}/devices", s.transferDevices)
	s.handle("POST", "/v1/transfers/{id}/"+string(custody.Accept), s.acceptTransfer)
	s.handle("POST", "/v1/transfers/{id}/"+string(custody.Refuse), s.refuseTransfer)
	s.handle("POST", "/v1/transfers/{id}/"+string(custody.Cancel), s.cancelTransfer)
}

// listDevices filters by the query (lot, custodian, manufacturer, environment, state,
// expiring_before) and pages by device ID (after, limit); a full page names the next.
func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	q := r.URL.Query()
	f := inventory.DeviceFilter{LotID: q.Get("lot"), CustodianID: q.Get("custodian"), ManufacturerID: q.Get("manufacturer"), EnvironmentID: q.Get("environment"),
		State: device.State(q.Get("state")), After: q.Get("after")}
	if v := q.Get("expiring_before"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return failure.New(failure.Invalid, "expiring_before must be an RFC 3339 time such as 2026-12-01T00:00:00Z")
		}
		f.ExpiringBefore = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return failure.New(failure.Invalid, "limit must be 1-1000")
		}
		f.Limit = n
	}
	out, err := s.inv.List(r.Context(), actor(p), f)
	if err != nil {
		return err
	}
	page := api.DevicePage{Items: nonNil(each(out, toDevice))}
	if f.Limit > 0 && len(out) == f.Limit || f.Limit == 0 && len(out) == 1000 {
		page.NextAfter = out[len(out)-1].ID
	}
	return writeJSON(w, 200, page)
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	v, err := s.inv.Get(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toDeviceView(v))
}

// deviceCertificate serves one of the device's certificates as PEM (never a reserved one).
// The serial may be written as the API writes it or as openssl prints it (see pathSerial);
// the device is looked up first, so a party that cannot see it learns nothing from the serial.
func (s *Server) deviceCertificate(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	v, err := s.inv.Get(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	serial, ok := pathSerial(r.PathValue("serial"))
	if !ok {
		return failure.New(failure.Invalid, "serial %q is not a hexadecimal certificate serial of at most 20 octets (such as 0a1b2c or 0A:1B:2C)", r.PathValue("serial"))
	}
	for _, c := range v.Certificates {
		if c.SerialHex == serial && c.State != ca.Reserved {
			return writePEM(w, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})))
		}
	}
	return failure.New(failure.NotFound, "device %s has no certificate %s", v.ID, r.PathValue("serial"))
}

// deviceBuildRecord serves the signed build record exactly as stored.
func (s *Server) deviceBuildRecord(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	v, err := s.inv.Get(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	if len(v.BuildRecord) == 0 {
		return failure.New(failure.NotFound, "device %s has no build record", v.ID)
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(v.BuildRecord)
	return err
}

func (s *Server) offerTransfer(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	var req api.OfferRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := s.cus.Offer(r.Context(), actor(p), fromOfferRequest(req))
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toTransfer(t))
}

func (s *Server) listTransfers(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	out, err := s.cus.List(r.Context(), actor(p))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, list(each(out, toTransfer)))
}

func (s *Server) getTransfer(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	t, err := s.cus.Get(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toTransfer(t))
}

// transferDevices pages the transfer's device IDs (after, limit up to custody.MaxPage); a
// full page names the next.
func (s *Server) transferDevices(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	q := r.URL.Query()
	limit := custody.MaxPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > custody.MaxPage {
			return failure.New(failure.Invalid, "limit must be 1-%d", custody.MaxPage)
		}
		limit = n
	}
	out, err := s.cus.Devices(r.Context(), actor(p), r.PathValue("id"), q.Get("after"), limit)
	if err != nil {
		return err
	}
	page := api.IDPage{Items: nonNil(out)}
	if len(out) == limit { // a full page: there may be more
		page.NextAfter = out[len(out)-1]
	}
	return writeJSON(w, 200, page)
}

func (s *Server) acceptTransfer(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return s.decideTransfer(w, r, p, custody.Accept)
}

func (s *Server) refuseTransfer(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return s.decideTransfer(w, r, p, custody.Refuse)
}

func (s *Server) cancelTransfer(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	return s.decideTransfer(w, r, p, custody.Cancel)
}

// decideTransfer is the accept, refuse and cancel routes: one decision on the transfer in the
// path.
func (s *Server) decideTransfer(w http.ResponseWriter, r *http.Request, p party.Principal, d custody.Decision) error {
	t, err := s.cus.Decide(r.Context(), actor(p), r.PathValue("id"), d)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toTransfer(t))
}

// pathSerial turns a serial from a URL path into the API's form (ca.SerialHex: lower-case hex
// without leading zeros). It accepts that form and openssl's: either case, leading zeros, and
// colons between octets ("0A:1B"), at most 20 octets (RFC 5280 section 4.1.2.2) once the colons
// and leading zeros are gone. It reports false for anything else, including the serial 0.
func pathSerial(s string) (string, bool) {
	s = strings.TrimLeft(strings.ReplaceAll(s, ":", ""), "0")
	if s == "" || len(s) > 40 {
		return "", false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return "", false
		}
	}
	return strings.ToLower(s), true
}
