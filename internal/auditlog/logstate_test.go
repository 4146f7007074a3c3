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

// TestLogStateFoldsOrigins: the origin events set what each maker's device's origin holds;
// a later onboarding of the device changes nothing, a reorigin replaces the certificate and
// makes it good again, a maker's revocation keeps it and marks it revoked; a voucher import
// names its devices' certificates (only the maker in events written before it did).
func TestLogStateFoldsOrigins(t *testing.T) {
	ev := func(seq int64, action, subject string, detail any) audit.Event {
		return audit.Event{Seq: seq, Action: action, Subject: subject, Detail: audit.Detail(detail)}
	}
	ls := NewLogState()
	for _, e := range []audit.Event{
		ev(1, "operational.onboard.external", "device:d1", map[string]any{"maker": "m1", "factory_certificate": "0A", "factory_sha256": "AB", "first": true}),
		ev(2, "operational.onboard.external", "device:d1", map[string]any{"maker": "m1", "factory_certificate": "0b", "first": false}),
		ev(3, "factory.revoke.external", "device:d1", map[string]any{"maker": "m1", "factory_certificate": "0a", "suspended": "o1"}),
		ev(4, "device.reorigin", "device:d1", map[string]any{"maker": "m1", "old_factory_certificate": "0a", "new_factory_certificate": "0c", "new_sha256": "cd"}),
		ev(5, "custody.voucher.import", "custody-voucher:v1", map[string]any{"maker": "m2", "devices": []string{"d2", "d3"},
			"origins": []map[string]any{{"device": "d2", "factory_certificate": "1a", "factory_sha256": "ef"}, {"device": "d3", "factory_certificate": "1b", "factory_sha256": "01"}}}),
		ev(6, "custody.voucher.import", "custody-voucher:v0", map[string]any{"maker": "m2", "devices": []string{"d4"}}),
		ev(7, "factory.revoke.external", "device:d4", map[string]any{"maker": "m2", "factory_certificate": "1C"}),
		ev(8, "operational.onboard.external", "device:d5", map[string]any{"maker": "m1", "factory_certificate": "0d"}), // no "first": the log's first word on d5
		ev(9, "device.reorigin", "device:d6", "not an object"),                                                         // unreadable: ignored
		ev(10, "operational.onboard", "device:d1", map[string]any{"serial": "o2"}),                                     // not an origin event
	} {
		ls.Apply(e)
	}
	want := map[string]string{
		"d1": "maker m1, factory certificate 0c (sha256 cd), good",
		"d2": "maker m2, factory certificate 1a (sha256 ef), good",
		"d3": "maker m2, factory certificate 1b (sha256 01), good",
		"d4": "maker m2, factory certificate 1c, revoked",
		"d5": "maker m1, factory certificate 0d, good",
	}
	for id, w := range want {
		if got := ls.Origins[id].String(); got != w {
			t.Errorf("%s: %s, want %s", id, got, w)
		}
	}
	if len(ls.Origins) != len(want) {
		t.Errorf("state names %d origins, want %d: %v", len(ls.Origins), len(want), ls.Origins)
	}
	if ls.Origins["d1"].Seq != 4 || ls.Origins["d4"].Seq != 7 {
		t.Errorf("last events: d1 %d, d4 %d; want 4 and 7", ls.Origins["d1"].Seq, ls.Origins["d4"].Seq)
	}
	// The revocation of step 3 is d1's until the reorigin.
	ls2 := NewLogState()
	for _, e := range []audit.Event{
		ev(1, "operational.onboard.external", "device:d1", map[string]any{"maker": "m1", "factory_certificate": "0a", "factory_sha256": "ab", "first": true}),
		ev(2, "factory.revoke.external", "device:d1", map[string]any{"maker": "m1", "factory_certificate": "0a"}),
	} {
		ls2.Apply(e)
	}
	if got := ls2.Origins["d1"].String(); got != "maker m1, factory certificate 0a (sha256 ab), revoked" {
		t.Errorf("revoked origin: %s", got)
	}
}
