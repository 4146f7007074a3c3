package httpapi

import (
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// FuzzDecodeJSON drives the strict request decoder with the wire request types of the
// busiest operations. Seeds are real request bodies from the walkthrough.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"model_id":"mdl_abc","name":"lot-001","line":"line-a","issuing_ca_id":"ca-x","delegate_to":"fabrikam"}`,
		`{"to":"northwind","device_ids":["dev_1","dev_2"],"note":"pallet 7"}`,
		`{"stage":"manufacturing","duty":"issue","scope":{"kind":"lot","id":"lot_1"},"party_id":"fabrikam"}`,
		`{"csr":"-----BEGIN CERTIFICATE REQUEST-----\nMIH...\n-----END CERTIFICATE REQUEST-----\n","build_record":{"manufacturer":"acme","model":"sensor-x","serial":"SN-1","lot":"lot-001","line":"line-a","firmwareDigest":{"sha256":"0f0f"},"testResult":"pass","builtAt":"2026-11-28T10:00:00Z"}}`,
		`{"environment_id":"env_1","devices":["dev_1"],"reason":"firmware crash dump","not_after":"2026-11-29T12:00:00Z","csr":"-----BEGIN CERTIFICATE REQUEST-----\nMIH...\n-----END CERTIFICATE REQUEST-----\n"}`,
		`{"approve":true,"comment":"checked the repair report"}`,
		`{"certificate":"-----BEGIN CERTIFICATE-----\nMII...\n-----END CERTIFICATE-----\n","device_id":"dev_1"}`,
		`{"quorum":[{"group":"security-leads","approvals":2},{"group":"ops","approvals":1}],"expiry":"72h"}`,
		`{"device_id":"dev_1","rule":"firmware-matches","reason":"field update scheduled","for":"72h"}`,
		`{"lifetime":"12h","services":["telemetry","scada"],"reason":"new line"}`,
		`{"policy":{"rules":[{"name":"ok","expr":"true"}]},"after":"dev_1","limit":500}`,
		`{"a":1} {}`, `[]`, `null`, ``, `{"to":"x","extra":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{&api.CreateLotRequest{}, &api.OfferRequest{}, &api.Cell{}, &api.IssueFactoryRequest{},
			&api.SupportRequest{}, &api.Decision{}, &api.SupportCheckRequest{}, &api.SetApprovalRuleRequest{},
			&api.SetChangeRuleRequest{}, &api.SetApproverGroupRequest{}, &api.WaiverRequest{}, &api.EnvironmentUpdate{}, &api.DryRunRequest{}}
		for _, v := range targets {
			err := DecodeJSON(strings.NewReader(string(body)), v)
			if err != nil && failure.KindOf(err) == failure.Unclassified {
				t.Fatalf("unclassified decode error %v", err)
			}
		}
		// The build record inside a factory request is decoded on its own, as strictly.
		var req api.IssueFactoryRequest
		if DecodeJSON(strings.NewReader(string(body)), &req) == nil {
			if _, err := fromIssueFactoryRequest(req); err != nil && failure.KindOf(err) == failure.Unclassified {
				t.Fatalf("unclassified build record error %v", err)
			}
		}
	})
}
