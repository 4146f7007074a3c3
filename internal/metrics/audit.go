package metrics

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/issuance"
)

// issuedBy maps the audit action recorded with an end-entity certificate, in the transaction
// that stores it, to the certificate's profile. CA certificates (ca.create) are not counted:
// one event covers a whole hierarchy.
var issuedBy = map[string]issuance.Profile{
	"factory.issue":        issuance.ProfileFactory,
	"operational.onboard":  issuance.ProfileOperational,
	"operational.renew":    issuance.ProfileOperational,
	"support.issue":        issuance.ProfileSupport,
	"ocsp.responder.issue": issuance.ProfileOCSPResponder,
}

// issuedProfiles are the profile label values, each present from the start.
var issuedProfiles = []string{
	string(issuance.ProfileFactory), string(issuance.ProfileOperational),
	string(issuance.ProfileSupport), string(issuance.ProfileOCSPResponder),
}

// AuditCommitted counts a committed audit event, and the certificate it records if any. Give
// it to auditlog.ObserveCommitted.
func (m *Registry) AuditCommitted(_ context.Context, e audit.Event) {
	m.events.WithLabelValues(e.Action).Inc()
	if p, ok := issuedBy[e.Action]; ok {
		m.issued.WithLabelValues(string(p)).Inc()
	}
}
