package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/ca"
)

func TestWireManufacturing(t *testing.T) {
	checkOut(t, toCA, "subject", "not_after", "certificate_pem")
	checkOut(t, toModel)
	checkOut(t, toLot)
	checkOut(t, toDevice)
	checkOut(t, toFactoryIdentity)
	checkIn(t, noErr(fromCreateHierarchyRequest))
	checkIn(t, noErr(fromImportCARequest))
	checkIn(t, noErr(fromRegisterAnchorRequest))
	checkIn(t, noErr(fromCreateModelRequest))
	checkIn(t, noErr(fromCreateLotRequest))
	checkIn(t, noErr(fromCreateOperationalHierarchyRequest))
	checkIn(t, noErr(fromCreateSupportHierarchyRequest))
	// The lot is in the path; a body's lot_id was never documented and is not accepted.
	full := filled[api.IssueFactoryRequest]()
	full.BuildRecord, _ = json.Marshal(filled[api.BuildRecord]())
	checkInWith(t, fromIssueFactoryRequest, []api.IssueFactoryRequest{{}, full}, "lot_id")
	checkOut(t, toRepairResult)
	repair := filled[api.RepairRequest]()
	repair.BuildRecord, _ = json.Marshal(filled[api.BuildRecord]())
	checkInWith(t, fromRepairRequest, []api.RepairRequest{{}, repair})
}

// TestIssueFactoryBuildRecordIsStrict: the raw build record is decoded as strictly as the body.
func TestIssueFactoryBuildRecordIsStrict(t *testing.T) {
	for _, tt := range []struct {
		name, record string
		ok           bool
	}{
		{"absent", ``, true},
		{"null", `null`, true},
		{"valid", `{"manufacturer":"acme","serial":"SN-1","firmwareDigest":{"sha256":"0f"},"builtAt":"2026-11-28T10:00:00Z"}`, true},
		{"unknown field", `{"manufacturer":"acme","color":"red"}`, false},
		{"unknown nested field", `{"firmwareDigest":{"sha256":"0f","md5":"x"}}`, false},
		{"wrong type", `{"builtAt":7}`, false},
		{"not an object", `"acme"`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fromIssueFactoryRequest(api.IssueFactoryRequest{CSR: "x", BuildRecord: []byte(tt.record)})
			if (err == nil) != tt.ok {
				t.Errorf("build record %s: error %v, want ok %v", tt.record, err, tt.ok)
			}
		})
	}
}

func TestHierarchyShowsBothCAs(t *testing.T) {
	h := toHierarchy(ca.CA{ID: "root", Role: ca.Root}, ca.CA{ID: "iss", Role: ca.Issuing, ParentID: "root"})
	if h.Root.ID != "root" || h.Issuing.ID != "iss" || h.Issuing.ParentID != "root" {
		t.Errorf("hierarchy = %+v", h)
	}
}
