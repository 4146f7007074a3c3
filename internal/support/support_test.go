package support_test

import (
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/support"
)

// TestGrantLifecycle: a vendor asks; the operator approves (another party); Hallmark issues a
// certificate for exactly the window, which reaches the named device only; the vendor ends
// the grant early and the certificate stops reaching anything.
func TestGrantLifecycle(t *testing.T) {
	w := newWorld(t)
	r := w.request(t, "d1")
	v, err := w.svc.RequestGrant(ctx, w.actors["victor"], r)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "requested" || v.Approval == nil || v.Approval.ApproverParty != "op" || v.Approval.Kind != approval.SupportGrant || v.Engineer != "victor" || v.OperatorID != "op" {
		t.Fatalf("requested grant %+v (approval %+v)", v.Grant, v.Approval)
	}
	if got, _ := w.svc.Get(ctx, w.actors["victor"], v.ID); got.CertificatePEM != "" {
		t.Fatal("a certificate exists before the approval")
	}

	res, err := w.gov.Decide(ctx, w.actors["olga"], v.ApprovalID, governance.Decision{Approve: true, Comment: "go"})
	if err != nil || !res.Executed || res.ExecError != "" {
		t.Fatalf("the operator's approval: %+v, %v; want the grant issued", res, err)
	}
	got, err := w.svc.Get(ctx, w.actors["oscar"], v.ID)
	if err != nil || got.Status != "active" || got.Approval.State != approval.Executed {
		t.Fatalf("the approved grant reads %+v, %v", got, err)
	}
	certs, err := certpem.Parse([]byte(got.CertificatePEM+got.ChainPEM), certpem.Options{What: "the support certificate"})
	if err != nil || len(certs) != 3 {
		t.Fatalf("certificate and chain: %d certificates, %v; want leaf, support issuing CA, root", len(certs), err)
	}
	cert := certs[0]
	if !cert.NotAfter.Equal(r.NotAfter) || len(cert.URIs) != 1 || cert.URIs[0].String() != "spiffe://op.example/support/vend/victor" {
		t.Fatalf("support certificate until %s naming %v; want the window's end and the engineer's SPIFFE ID", cert.NotAfter, cert.URIs)
	}
	if err := cert.CheckSignatureFrom(certs[1]); err != nil {
		t.Fatalf("the certificate is not signed by op's support issuing CA: %v", err)
	}

	check := func(who, deviceID string) grant.Reach {
		t.Helper()
		reach, err := w.svc.Check(ctx, w.actors[who], support.CheckRequest{Certificate: got.CertificatePEM, DeviceID: deviceID})
		if err != nil {
			t.Fatalf("Check(%s, %s): %v", who, deviceID, err)
		}
		return reach
	}
	if reach := check("oscar", "d1"); !reach.Allowed || reach.GrantID != v.ID {
		t.Fatalf("the named device is not reached: %+v", reach)
	}
	if reach := check("victor", "d2"); reach.Allowed {
		t.Fatalf("a device the grant does not name is reached: %+v", reach)
	}
	if reach := check("oscar", "dev-nope"); reach.Allowed {
		t.Fatalf("an unknown device is reached: %+v", reach)
	}
	if reach, err := w.svc.Check(ctx, w.actors["oscar"], support.CheckRequest{Certificate: got.ChainPEM, DeviceID: "d1"}); err != nil || reach.Allowed || reach.Reason != "not a support certificate issued by this deployment" {
		t.Fatalf("a CA certificate checked as a support certificate: %+v, %v", reach, err)
	}
	wantErr(t, errOnly(w.svc.Check(ctx, w.actors["gina"], support.CheckRequest{Certificate: got.CertificatePEM, DeviceID: "d1"})), failure.Denied, "only operator op")
	wantErr(t, errOnly(w.svc.Check(ctx, w.actors["oscar"], support.CheckRequest{Certificate: "junk", DeviceID: "d1"})), failure.Invalid, "one PEM CERTIFICATE")

	w.clock.Add(time.Hour)
	ended, err := w.svc.Revoke(ctx, w.actors["victor"], v.ID, support.RevokeRequest{})
	if err != nil || ended.State != grant.Revoked || ended.RevokedBy != w.actors["victor"].PrincipalID {
		t.Fatalf("the vendor ending its grant: %+v, %v", ended.Grant, err)
	}
	if err := w.st.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Certificates().GetCert(cert.SerialNumber)
		if err == nil && rec.State != ca.Revoked {
			t.Errorf("the support certificate is %s after the grant was revoked", rec.State)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if reach := check("oscar", "d1"); reach.Allowed {
		t.Fatalf("a revoked grant still reaches: %+v", reach)
	}
	wantErr(t, errOnly(w.svc.Revoke(ctx, w.actors["oscar"], v.ID, support.RevokeRequest{})), failure.Conflict, "is revoked")
}

// TestLotGrantByManufacturer: a manufacturer may ask for access to its own lot; the grant
// reaches every device of the lot the operator holds in the environment.
func TestLotGrantByManufacturer(t *testing.T) {
	w := newWorld(t)
	r := w.request(t)
	r.LotID, r.Engineer = "l1", "field-eng"
	v, err := w.svc.RequestGrant(ctx, w.actors["alice"], r)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := w.gov.Decide(ctx, w.actors["oscar"], v.ApprovalID, governance.Decision{Approve: true}); err != nil || !res.Executed {
		t.Fatalf("approval: %+v, %v", res, err)
	}
	got, err := w.svc.Get(ctx, w.actors["alice"], v.ID)
	if err != nil {
		t.Fatal(err)
	}
	for dev, want := range map[string]bool{"d1": true, "d2": true, "d5": false, "d3": false} {
		reach, err := w.svc.Check(ctx, w.actors["oscar"], support.CheckRequest{Certificate: got.CertificatePEM, DeviceID: dev})
		if err != nil || reach.Allowed != want {
			t.Errorf("lot grant reaches %s: %+v, %v; want %v", dev, reach, err, want)
		}
	}
}

// TestRequestRefusals: only vendors and manufacturers ask; the window must fit the
// environment; devices must be held there and, for a manufacturer, made by it; the operator
// must have a support CA. A refusal stores no grant and no approval, and appends no event.
func TestRequestRefusals(t *testing.T) {
	w := newWorld(t)
	edit := func(fn func(*support.Request), devices ...string) support.Request {
		r := w.request(t, devices...)
		fn(&r)
		return r
	}
	now := w.clock.Now()
	before := w.events(t)
	for _, tc := range []struct {
		name string
		who  string
		req  support.Request
		kind failure.Kind
		msg  string
	}{
		{"an operator asking", "oscar", w.request(t, "d1"), failure.Denied, "only support vendors and manufacturers"},
		{"window over the maximum", "victor", edit(func(r *support.Request) { r.NotAfter = now.Add(9 * time.Hour) }, "d1"), failure.Invalid, "over the environment's maximum"},
		{"window in the past", "victor", edit(func(r *support.Request) { r.NotBefore, r.NotAfter = now.Add(-3*time.Hour), now.Add(-time.Hour) }, "d1"), failure.Invalid, "in the past"},
		{"device held elsewhere", "victor", w.request(t, "d3"), failure.Invalid, "is not held by operator op in environment e1"},
		{"unknown device", "victor", w.request(t, "dev-nope"), failure.Invalid, "device dev-nope not found"},
		{"another maker's device", "alice", w.request(t, "d5"), failure.Denied, "was not made by acme"},
		{"another maker's lot", "alice", edit(func(r *support.Request) { r.LotID = "g1" }), failure.Denied, "was not made by acme"},
		{"devices and a lot", "victor", edit(func(r *support.Request) { r.LotID = "l1" }, "d1"), failure.Invalid, "either devices or one lot"},
		{"unknown environment", "victor", edit(func(r *support.Request) { r.EnvironmentID = "e9" }, "d1"), failure.NotFound, "environment e9"},
		{"operator without a support CA", "victor", edit(func(r *support.Request) { r.EnvironmentID = "e2" }, "d3"), failure.Invalid, "has no support issuing CA"},
		{"engineer not a slug", "victor", edit(func(r *support.Request) { r.Engineer = "Eve Smith" }, "d1"), failure.Invalid, "engineer"},
		{"CSR not PKCS#10", "victor", edit(func(r *support.Request) { r.CSR = "hello" }, "d1"), failure.Invalid, "csr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, errOnly(w.svc.RequestGrant(ctx, w.actors[tc.who], tc.req)), tc.kind, tc.msg)
		})
	}
	if got := w.events(t); got != before {
		t.Fatalf("refused requests appended %d audit events", got-before)
	}
	if err := w.st.View(ctx, func(tx store.Tx) error {
		gs, err := tx.SupportGrants().ListGrants(store.GrantFilter{})
		if err == nil && len(gs) != 0 {
			t.Errorf("%d grants after the refusals", len(gs))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestGrantEnds: a denied request is recorded as denied and never issued; one approved after
// its window ended is not issued either; a grant waiting for approval cannot be revoked, and a
// party that cannot see a grant cannot touch it.
func TestGrantEnds(t *testing.T) {
	w := newWorld(t)
	denied, err := w.svc.RequestGrant(ctx, w.actors["victor"], w.request(t, "d1"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := w.gov.Decide(ctx, w.actors["olga"], denied.ApprovalID, governance.Decision{Approve: false, Comment: "not today"}); err != nil || res.Request.State != approval.Denied {
		t.Fatalf("the denial: %+v, %v", res, err)
	}
	if got, err := w.svc.Get(ctx, w.actors["victor"], denied.ID); err != nil || got.Status != "denied" || got.CertificatePEM != "" {
		t.Fatalf("the denied grant reads %+v, %v", got, err)
	}

	late, err := w.svc.RequestGrant(ctx, w.actors["victor"], w.request(t, "d2"))
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, errOnly(w.svc.Revoke(ctx, w.actors["oscar"], late.ID, support.RevokeRequest{})), failure.Conflict, "waiting for approval")
	wantErr(t, errOnly(w.svc.Revoke(ctx, w.actors["gina"], late.ID, support.RevokeRequest{})), failure.NotFound, "not found")
	wantErr(t, errOnly(w.svc.Revoke(ctx, w.actors["oscar"], late.ID, support.RevokeRequest{Reason: "caCompromise"})), failure.Invalid, "not allowed on the support revocation path")
	wantErr(t, errOnly(w.svc.Get(ctx, w.actors["ozzie"], late.ID)), failure.NotFound, "not found")

	w.clock.Add(5 * time.Hour)
	res, err := w.gov.Decide(ctx, w.actors["olga"], late.ApprovalID, governance.Decision{Approve: true})
	if err != nil || res.Executed || res.ExecError == "" {
		t.Fatalf("approving after the window: %+v, %v; want approved but not issued", res, err)
	}
	if got, err := w.svc.Get(ctx, w.actors["victor"], late.ID); err != nil || got.Status != "requested" || got.CertificatePEM != "" {
		t.Fatalf("the late grant reads %+v, %v; want still requested, no certificate", got, err)
	}
}
