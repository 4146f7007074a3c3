package app

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// TestRefusalsAudited (issue 17, point 1): refusals of authenticated callers through the real
// API and EST on loopback are counted at once by reason, coalesced per caller, subject, reason
// and rule into one audit event per window with a count, listed by the refusals report
// (auditors: all; others: their own), and shown in the device's history.
func TestRefusalsAudited(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	var skew atomic.Int64
	s := startDevWith(t, "", func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-rf")
	held := issueFactory(t, s, dir, lotID, "lot-rf", "SN-R1") // still with the contract manufacturer
	writeFile(t, dir, "SN-R1.factory.pem", held.CertificatePEM)
	estCSR(t, dir, "good")
	before := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "not-owner"})

	// Three refusals of one principal for one rule over one lot; two EST refusals of one device.
	for range 3 {
		p := s.must(t, 403, dana, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": newCSR(t, dir, "x"), "build_record": record("SN-X", "lot-rf")}).problem(t)
		if p["type"] != "https://hallmark.dev/problems/not-owner" {
			t.Fatalf("refusal = %v", p)
		}
	}
	for range 2 {
		if code, body := estStatus(t, s, dir, s.info.ESTURL+"/simpleenroll", "SN-R1.factory.pem", "SN-R1.key", "good.csr.b64"); code != 403 {
			t.Fatalf("EST enroll of a device held by another party: %d %s", code, body)
		}
	}
	// Counted at once, by reason.
	if got := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "not-owner"}); got != before+3 {
		t.Errorf("hallmark_refusals_total{reason=not-owner} = %v, want %v", got, before+3)
	}
	if got := s.metric(t, "hallmark_refusals_total", map[string]string{"reason": "denied"}); got < 2 {
		t.Errorf("hallmark_refusals_total{reason=denied} = %v, want at least 2", got)
	}

	// The window ends a minute later; the server writes one event per key.
	skew.Add(int64(61 * time.Second))
	var all api.RefusalReport
	waitFor(t, "the refusal events", func() bool {
		s.must(t, 200, audrey, "GET", "/v1/reports/refusals", nil).json(t, &all)
		return len(all.Items) >= 2
	})
	owner, est := findRefusal(all, "not-owner"), findRefusal(all, "denied")
	if owner == nil || owner.Count != 3 || owner.Rule != "ownership:manufacturing/issue" || owner.Via != "api" ||
		owner.Subject != "lot:"+lotID || owner.PartyID != "northwind" || owner.Operation != "POST /v1/lots/{id}/devices" {
		t.Errorf("ownership refusal event = %+v", owner)
	}
	if est == nil || est.Count != 2 || est.Via != "est" || est.Subject != "device:"+held.Device.ID || est.PartyID != "contoso" ||
		est.PrincipalID != "est:demo" || est.Certificate == "" {
		t.Errorf("EST refusal event = %+v", est)
	}
	if n := reasonTotal(all, "not-owner"); n != 3 {
		t.Errorf("by_reason not-owner = %d, want 3 (%+v)", n, all.ByReason)
	}
	// They are audit events in the Merkle log.
	var evs struct {
		Items []struct {
			Seq    int64
			Action string
		}
	}
	s.must(t, 200, audrey, "GET", "/v1/audit/events", nil).json(t, &evs)
	n := 0
	for _, e := range evs.Items {
		if e.Action == "refusal" {
			n++
		}
	}
	if n != len(all.Items) {
		t.Errorf("%d refusal audit events, %d in the report", n, len(all.Items))
	}

	// A party sees its own principals' refusals; the device's history shows its refusals to
	// whoever may see the device, and nobody else.
	var mine api.RefusalReport
	s.must(t, 200, dana, "GET", "/v1/reports/refusals", nil).json(t, &mine)
	for _, r := range mine.Items {
		if r.PartyID != "northwind" {
			t.Errorf("northwind sees another party's refusal: %+v", r)
		}
	}
	if findRefusal(mine, "not-owner") == nil {
		t.Errorf("northwind does not see its own refusal: %+v", mine)
	}
	var hist api.RefusalReport
	s.must(t, 200, alice, "GET", "/v1/reports/refusals?device="+held.Device.ID, nil).json(t, &hist)
	if len(hist.Items) != 1 || hist.Items[0].Count != 2 || hist.Items[0].Via != "est" {
		t.Errorf("device history = %+v", hist)
	}
	s.must(t, 404, dana, "GET", "/v1/reports/refusals?device="+held.Device.ID, nil)
	s.must(t, 400, audrey, "GET", "/v1/reports/refusals?limit=0", nil)
}

// TestRefusalsFloodCoalesced (issue 17, point 1): 200 refusals of one principal within one
// window make one audit event with count 200, and a legitimate request still succeeds within
// 10 s meanwhile.
func TestRefusalsFloodCoalesced(t *testing.T) {
	var skew atomic.Int64
	s := startDevWith(t, "", func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-fl")
	csr := newCSR(t, dir, "x")
	for i := range 200 {
		s.must(t, 403, dana, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": csr, "build_record": record(fmt.Sprint("SN-F", i), "lot-fl")})
	}
	start := time.Now()
	s.must(t, 200, audrey, "GET", "/v1/whoami", nil)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a legitimate request took %v during the flood", d)
	}
	skew.Add(int64(61 * time.Second))
	var all api.RefusalReport
	waitFor(t, "the refusal event", func() bool {
		s.must(t, 200, audrey, "GET", "/v1/reports/refusals", nil).json(t, &all)
		return len(all.Items) >= 1
	})
	if len(all.Items) != 1 || all.Items[0].Count != 200 {
		t.Errorf("200 refusals make %d events: %+v", len(all.Items), all.Items)
	}
}

func findRefusal(r api.RefusalReport, reason string) *api.Refusal {
	for i := range r.Items {
		if r.Items[i].Reason == reason {
			return &r.Items[i]
		}
	}
	return nil
}

func reasonTotal(r api.RefusalReport, reason string) int64 {
	for _, c := range r.ByReason {
		if c.Reason == reason {
			return c.Count
		}
	}
	return 0
}
