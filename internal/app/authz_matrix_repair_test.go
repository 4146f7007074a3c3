package app

import (
	"strings"
	"testing"
)

// mxRepairRows are the matrix rows of repair (issue 17, point 3): the party that owns
// manufacturing/issue over the device's lot and holds the device asks (acme on its own lot,
// fabrikam on the lot acme delegated to it), for a fresh registered device of its own; the
// request waits for an approval. A party that sees the device without the duty is refused
// (403), one that does not see it gets 404 (the deployment administrator sees no device).
func mxRepairRows() []mxRow {
	return []mxRow{
		{op: "POST /v1/devices/{id}/repair", own: mxBy{mx202, mx202, mx403, mx403, mx404, mx403, mx404, mx403}, other: mxOnly(mx403, mx404, "auditco"),
			req: func(t *testing.T, f *mxFixture, c mxCell) mxReq {
				d := f.deviceFor(c)
				lot := ""
				if c.allowed() {
					d = f.heldBy(t, c.party)
					lot = f.ownLot(c.party)
				}
				body := map[string]any{"reason": "replaced the radio", "csr": mxCSR(t, mxKey(t))}
				q := mxReq{path: "/v1/devices/" + d.ID + "/repair", body: body}
				if c.allowed() {
					body["build_record"] = f.repairRecord(t, lot, d.Serial)
					q.check = mxThen(mxExpect("approval.kind", "repair", "approval.state", "pending", "device.factory_certificate", d.FactorySerial),
						f.readBack(c.who, "/v1/approvals/%s", "approval.id", "subject", "device:"+d.ID))
				}
				return q
			}},
	}
}

// repairRecord is a passing build record of lot for the device of serial.
func (f *mxFixture) repairRecord(t *testing.T, lot, serial string) map[string]any {
	t.Helper()
	l, ok := f.lots[lot]
	if !ok {
		t.Fatalf("lot %s is not a fixture lot", lot)
	}
	return map[string]any{
		"manufacturer": l.mfr, "model": l.model, "hardwareRevision": "C", "serial": serial, "lot": l.name, "line": l.line,
		"components":     []map[string]any{{"name": "radio", "version": "2.0", "digest": map[string]string{"sha256": strings.Repeat("cd", 32)}}},
		"firmwareDigest": map[string]string{"sha256": strings.Repeat("0f", 32)},
		"testResult":     "pass",
		"builtAt":        "2026-12-01T10:00:00Z",
	}
}
