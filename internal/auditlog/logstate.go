package auditlog

import (
	"encoding/json"
	"strings"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/revocation"
)

// The certificate state the audit log vouches for. Every transaction that changes a
// certificate's state appends an event that names the certificate (store.ErrUnaudited makes
// the event mandatory; this file reads what the events name). Each event moves a certificate
// to an absolute state: issued, revoked with a reason, or held (revoked, certificateHold),
// never "one step back", so the last event that names a certificate says what its row must
// hold now, whatever came before it. That is what lets the start-up reconciliation read only
// the events since the last checkpoint.
//
// The events that change certificate state, and where they name the certificate:
//
//	factory.issue                       detail.certificate → issued (device: subject)
//	operational.onboard, .renew         detail.serial → issued; detail.superseded → superseded
//	operational.revoke                  detail.certificate → revoked, detail.reason
//	operational.readmit                 from "suspended": detail.certificate → issued (unhold)
//	operational.release, .decommission  detail.revoked: detail.certificate → cessationOfOperation
//	factory.revoke                      detail.factory_certificates → detail.reason;
//	                                    detail.held → held (events before "held" was added:
//	                                    the run's cascade items, Legacy below)
//	factory.revoke.external             detail.suspended → held
//	support.issue / support.revoke      detail.certificate → issued / revoked, detail.reason
//	ocsp.responder.issue                subject certificate:<serial> → issued
//	factory.repair                      detail.certificate → issued; detail.superseded → superseded
//
// Certificates of CA profiles (issuing-ca, cross-ca) are recorded by the CA events (ca.create,
// ca.rotate) without their serial and no path revokes them: reconciliation does not cover
// them (CoveredProfile).

// LogCert is what the log says of one certificate: its state after the last event that
// named it, and that event.
type LogCert struct {
	State    ca.CertState
	Reason   int    // the RFC 5280 reason of a revoked certificate; -1 when issued
	DeviceID string // the device an issuing event named, if any
	Seq      int64  // the last event that named the certificate
}

// String renders the state as reports show it: "issued" or "revoked (keyCompromise)".
func (c LogCert) String() string { return stateText(c.State, c.Reason) }

func stateText(st ca.CertState, reason int) string {
	if st == ca.Revoked {
		return string(st) + " (" + revocation.Reason(reason).String() + ")"
	}
	return string(st)
}

// CoveredProfile reports whether reconciliation covers certificates of profile p.
func CoveredProfile(p string) bool {
	switch p {
	case "factory", "operational", "support", "ocsp-responder":
		return true
	}
	return false
}

// LogState folds audit events, in order, into the certificate states they vouch for.
type LogState struct {
	Certs map[string]LogCert // by serial (hex)
	// Origins are the origins of makers' devices, by device ID (originstate.go).
	Origins map[string]LogOrigin
	// Legacy lists the revocation runs whose factory.revoke events predate the "held" list;
	// the caller adds their holds from the runs' cascade items (ApplyHold).
	Legacy map[string]int64 // run ID → the seq of the run's last such event
}

// NewLogState returns an empty LogState.
func NewLogState() *LogState {
	return &LogState{Certs: map[string]LogCert{}, Origins: map[string]LogOrigin{}, Legacy: map[string]int64{}}
}

// eventDetail is the union of the detail fields the state-changing events use.
type eventDetail struct {
	Certificate  string   `json:"certificate"`
	Serial       string   `json:"serial"`
	Superseded   string   `json:"superseded"`
	Reason       string   `json:"reason"`
	From         string   `json:"from"`
	Revoked      *bool    `json:"revoked"`
	FactoryCerts []string `json:"factory_certificates"`
	Held         []string `json:"held"`
	Suspended    string   `json:"suspended"`
	CACert       string   `json:"ca_certificate"`
	CACertReason string   `json:"ca_certificate_reason"`
}

// Apply folds one event in: the certificates it changes, and the origin it writes
// (applyOrigin). An event that changes neither is ignored; a detail that is not the JSON its
// action writes is ignored too (it names nothing this can read), and reconciliation then
// reports the certificate's row.
func (s *LogState) Apply(e audit.Event) {
	s.applyOrigin(e)
	if !certAction(e.Action) {
		return
	}
	var d eventDetail
	var raw map[string]json.RawMessage
	if len(e.Detail) > 0 {
		if json.Unmarshal(e.Detail, &d) != nil || json.Unmarshal(e.Detail, &raw) != nil {
			return
		}
	}
	device := strings.TrimPrefix(e.Subject, "device:")
	if device == e.Subject {
		device = ""
	}
	issued := func(serial, dev string) { s.set(serial, ca.Issued, -1, dev, e.Seq) }
	revoked := func(serial string, r int) { s.set(serial, ca.Revoked, r, "", e.Seq) }
	switch e.Action {
	case "factory.issue", "support.issue":
		issued(d.Certificate, device)
	case "factory.repair":
		issued(d.Certificate, device)
		revoked(d.Superseded, int(revocation.Superseded))
	case "operational.onboard", "operational.renew":
		issued(d.Serial, device)
		revoked(d.Superseded, int(revocation.Superseded))
	case "operational.revoke", "support.revoke":
		revoked(d.Certificate, reasonCode(d.Reason))
	case "operational.readmit":
		if d.From == "suspended" {
			issued(d.Certificate, "")
		}
	case "operational.release", "operational.decommission":
		if d.Revoked != nil && *d.Revoked {
			revoked(d.Certificate, int(revocation.CessationOfOperation))
		}
	case "factory.revoke":
		for _, c := range d.FactoryCerts {
			revoked(c, reasonCode(d.Reason))
		}
		if _, ok := raw["held"]; !ok {
			s.Legacy[strings.TrimPrefix(e.Subject, "revocation:")] = e.Seq
		}
		for _, c := range d.Held {
			revoked(c, int(revocation.CertificateHold))
		}
	case "factory.revoke.external":
		revoked(d.Suspended, int(revocation.CertificateHold))
	case "ocsp.responder.issue":
		issued(strings.TrimPrefix(e.Subject, "certificate:"), "")
	case "ca.retire":
		// A whole-CA revocation revokes the CA's own certificate at its root (CA profiles
		// are not reconciled, CoveredProfile, but the log still says what it vouches for).
		revoked(d.CACert, reasonCode(d.CACertReason))
	}
}

// ApplyHold records that the event seq put serial on hold (a legacy factory.revoke).
func (s *LogState) ApplyHold(serial string, seq int64) {
	if c, ok := s.Certs[serial]; !ok || c.Seq <= seq {
		s.set(serial, ca.Revoked, int(revocation.CertificateHold), "", seq)
	}
}

func (s *LogState) set(serial string, st ca.CertState, reason int, device string, seq int64) {
	serial = strings.ToLower(strings.TrimSpace(serial))
	if serial == "" {
		return
	}
	c := s.Certs[serial]
	if device == "" {
		device = c.DeviceID
	}
	s.Certs[serial] = LogCert{State: st, Reason: reason, DeviceID: device, Seq: seq}
}

func certAction(a string) bool {
	switch a {
	case "factory.issue", "support.issue", "factory.repair", "operational.onboard", "operational.renew",
		"operational.revoke", "support.revoke", "operational.readmit", "operational.release",
		"operational.decommission", "factory.revoke", "factory.revoke.external", "ocsp.responder.issue", "ca.retire":
		return true
	}
	return false
}

// reasonCode reads a reason name as the events write it; an unknown name reads as -2, which
// matches no row.
func reasonCode(name string) int {
	for r := revocation.Reason(0); r <= revocation.AACompromise; r++ {
		if strings.EqualFold(r.String(), name) {
			return int(r)
		}
	}
	return -2
}
