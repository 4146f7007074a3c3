package httpapi

import (
	"testing"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/custody"
)

func TestWireDevicesCustodyAudit(t *testing.T) {
	checkOut(t, toDeviceView, "external") // the origin of an external device, from inventory's Origin and Maker
	checkOut(t, toCertificate)
	checkOut(t, toCustodyLink)
	checkOut(t, toEvidence)
	checkOut(t, toGrant)
	checkIn(t, noErr(fromOfferRequest))
	checkOut(t, toTransfer)
	checkOut(t, toAuditEvent)
	checkOut(t, toInclusionProof)
	checkOut(t, toConsistencyProof)
	checkOut(t, toReconciliation)
	checkOut(t, toFactoryLink)
	checkOut(t, toDisagreement)
	checkOut(t, toSignedReport)
	checkOut(t, toDSSESignature)
}

// TestTransferDecisionsAreTheRoutes: the decision names in api are the service's.
func TestTransferDecisionsAreTheRoutes(t *testing.T) {
	for _, tt := range []struct {
		wire    string
		service custody.Decision
	}{{api.TransferAccept, custody.Accept}, {api.TransferRefuse, custody.Refuse}, {api.TransferCancel, custody.Cancel}} {
		if tt.wire != string(tt.service) {
			t.Errorf("api says %q, custody %q", tt.wire, tt.service)
		}
	}
}
