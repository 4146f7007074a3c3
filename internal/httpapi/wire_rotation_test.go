package httpapi

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/rotation"
)

func TestWireRotation(t *testing.T) {
	checkIn(t, noErr(fromRotateCARequest))
	checkOut(t, toCrossCert, "certificate_pem")
	checkOut(t, toBuildRecordKey)
	checkOut(t, toAuditKey)
	checkOut(t, toCAExpiryReport)
	checkOut(t, toCAExpiryGap)
}

// TestSuccessionShowsBothCAsAndCrossCertificates: the service's Succession has no JSON of its
// own; the wire form names each part.
func TestSuccessionShowsBothCAsAndCrossCertificates(t *testing.T) {
	s := toSuccession(rotation.Succession{Old: ca.CA{ID: "old"}, New: ca.CA{ID: "new"}, LotsMoved: 2, EnvironmentsMoved: 1,
		Cross: []ca.CrossCert{{Serial: "0a", SubjectID: "new", IssuerID: "old", CertDER: []byte{1}}}})
	if s.Predecessor.ID != "old" || s.Successor.ID != "new" || s.LotsMoved != 2 || s.EnvironmentsMoved != 1 {
		t.Errorf("succession = %+v", s)
	}
	if len(s.CrossCertificates) != 1 || s.CrossCertificates[0].SubjectCAID != "new" || s.CrossCertificates[0].IssuerCAID != "old" || s.CrossCertificates[0].CertificatePEM == "" {
		t.Errorf("cross-certificates = %+v", s.CrossCertificates)
	}
	if none := toSuccession(rotation.Succession{}); none.CrossCertificates != nil {
		t.Errorf("a rotation without cross-certificates shows %v, want none (omitted)", none.CrossCertificates)
	}
}
