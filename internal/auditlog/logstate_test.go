package auditlog

import (
	"testing"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
)

// TestLogStateFoldsEvents: each state-changing event moves the certificates it names to an
// absolute state; the last event wins; a factory.revoke without "held" (written before the
// list existed) is still read, and its run is handed back for its cascade items.
func TestLogStateFoldsEvents(t *testing.T) {
	ev := func(seq int64, action, subject string, detail any) audit.Event {
		return audit.Event{Seq: seq, Action: action, Subject: subject, Detail: audit.Detail(detail)}
	}
	ls := NewLogState()
	for _, e := range []audit.Event{
		ev(1, "factory.issue", "device:d1", map[string]any{"certificate": "f1"}),
		ev(2, "operational.onboard", "device:d1", map[string]any{"serial": "o1"}),
		ev(3, "operational.renew", "device:d1", map[string]any{"serial": "o2", "superseded": "o1"}),
		ev(4, "factory.revoke", "revocation:rvk_new", map[string]any{"factory_certificates": []string{"f1"}, "held": []string{"o2"}, "reason": "keyCompromise"}),
		ev(5, "operational.readmit", "device:d1", map[string]any{"from": "suspended", "certificate": "o2"}),
		ev(6, "factory.revoke", "revocation:rvk_old", map[string]any{"factory_certificates": []string{"f9"}, "reason": "cACompromise"}),
		ev(7, "operational.release", "device:d1", map[string]any{"certificate": "o2", "revoked": true}),
		ev(8, "support.issue", "grant:g1", map[string]any{"certificate": "s1"}),
		ev(9, "support.revoke", "grant:g1", map[string]any{"certificate": "s1", "reason": "privilegeWithdrawn"}),
		ev(10, "ocsp.responder.issue", "certificate:r1", map[string]any{}),
		ev(11, "device.note", "device:d1", map[string]any{"certificate": "o2"}), // not a state change
		ev(12, "operational.revoke", "device:d1", "not an object"),              // unreadable: ignored
		ev(13, "ca.retire", "ca:ca1", map[string]any{"ca_certificate": "c1", "ca_certificate_reason": "cACompromise"}),
		ev(14, "ca.retire", "ca:ca2", map[string]any{"approval": "apr_1"}), // a root: no certificate revoked
	} {
		ls.Apply(e)
	}
	want := map[string]string{"f1": "revoked (keyCompromise)", "o1": "revoked (superseded)", "o2": "revoked (cessationOfOperation)",
		"f9": "revoked (cACompromise)", "s1": "revoked (privilegeWithdrawn)", "r1": "issued", "c1": "revoked (cACompromise)"}
	for serial, w := range want {
		if got := ls.Certs[serial].String(); got != w {
			t.Errorf("%s: %s, want %s", serial, got, w)
		}
	}
	if len(ls.Certs) != len(want) {
		t.Errorf("state names %d certificates, want %d: %v", len(ls.Certs), len(want), ls.Certs)
	}
	if ls.Certs["o2"].DeviceID != "d1" || ls.Certs["o2"].Seq != 7 {
		t.Errorf("o2 = %+v, want device d1 and last event 7", ls.Certs["o2"])
	}
	if _, ok := ls.Legacy["rvk_old"]; !ok || len(ls.Legacy) != 1 {
		t.Errorf("legacy runs = %v, want rvk_old only", ls.Legacy)
	}
	// A legacy hold applies unless a later event named the certificate.
	ls.ApplyHold("o9", 6)
	ls.ApplyHold("o2", 6)
	if ls.Certs["o9"].State != ca.Revoked || ls.Certs["o9"].Reason != 6 || ls.Certs["o2"].Reason != 5 {
		t.Errorf("after legacy holds: o9 %+v, o2 %+v", ls.Certs["o9"], ls.Certs["o2"])
	}
}
