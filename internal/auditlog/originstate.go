package auditlog

import (
	"encoding/json"
	"strings"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/maker"
)

// The origins the audit log vouches for. A device made by a maker that does not run Hallmark
// has an origin row (internal/maker.Origin): its maker, and the factory certificate the device
// onboards with, which onboarding compares byte for byte with the one the device presents. A
// row edited to hold another certificate would let that certificate's key onboard the device,
// so reconciliation compares every origin row with the events that wrote it:
//
//	operational.onboard.external  detail.first: the origin is created, holding
//	                              detail.factory_certificate (and detail.factory_sha256,
//	                              written since the reconciliation of origins); a later
//	                              onboarding presented the same certificate and changes nothing
//	custody.voucher.import        detail.origins: each device's origin and its certificate
//	                              (detail.devices alone before then: the maker only)
//	device.reorigin               detail.new_factory_certificate and detail.new_sha256: the
//	                              origin holds the new certificate, its factory state good
//	factory.revoke.external       the maker revoked the certificate the origin holds
//
// As with certificates, each event says the whole of what it changes, so the last one that
// names a device's origin says what its row must hold.

// LogOrigin is what the log says of one device's origin after the last event that named it.
type LogOrigin struct {
	Maker string
	// Serial (hex) and SHA256 (hex, of the DER) name the factory certificate the origin
	// holds; either is "" when no event since the origin's creation named it.
	Serial, SHA256 string
	State          maker.FactoryState
	Seq            int64
}

// String renders it as reconciliation reports show it.
func (o LogOrigin) String() string { return originText(o.Maker, o.Serial, o.SHA256, string(o.State)) }

func originText(makerID, serial, sha, state string) string {
	s := "maker " + makerID
	if serial != "" {
		s += ", factory certificate " + serial
	}
	if sha != "" {
		s += " (sha256 " + sha + ")"
	}
	return s + ", " + state
}

// originDetail is the union of the detail fields the origin events use.
type originDetail struct {
	Maker      string   `json:"maker"`
	First      *bool    `json:"first"`
	Factory    string   `json:"factory_certificate"`
	FactorySHA string   `json:"factory_sha256"`
	NewFactory string   `json:"new_factory_certificate"`
	NewSHA     string   `json:"new_sha256"`
	Devices    []string `json:"devices"`
	Origins    []struct {
		Device     string `json:"device"`
		Factory    string `json:"factory_certificate"`
		FactorySHA string `json:"factory_sha256"`
	} `json:"origins"`
}

// applyOrigin folds one event into s.Origins; an event that names no origin is ignored, and
// so is a detail that is not the JSON its action writes (reconciliation then reports the
// device's row, as no event recorded it).
func (s *LogState) applyOrigin(e audit.Event) {
	switch e.Action {
	case "operational.onboard.external", "custody.voucher.import", "device.reorigin", "factory.revoke.external":
	default:
		return
	}
	var d originDetail
	if json.Unmarshal(e.Detail, &d) != nil {
		return
	}
	device := strings.TrimPrefix(e.Subject, "device:")
	set := func(device, serial, sha string) {
		s.Origins[device] = LogOrigin{Maker: d.Maker, Serial: lower(serial), SHA256: lower(sha), State: maker.Good, Seq: e.Seq}
	}
	switch e.Action {
	case "operational.onboard.external":
		if _, known := s.Origins[device]; d.First != nil && *d.First || !known {
			set(device, d.Factory, d.FactorySHA)
		}
	case "custody.voucher.import":
		if len(d.Origins) > 0 {
			for _, o := range d.Origins {
				set(o.Device, o.Factory, o.FactorySHA)
			}
			return
		}
		for _, id := range d.Devices {
			set(id, "", "")
		}
	case "device.reorigin":
		set(device, d.NewFactory, d.NewSHA)
	case "factory.revoke.external":
		o, ok := s.Origins[device]
		if !ok {
			o = LogOrigin{Maker: d.Maker}
		}
		if o.Serial == "" {
			o.Serial = lower(d.Factory)
		}
		o.State, o.Seq = maker.Revoked, e.Seq
		s.Origins[device] = o
	}
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
