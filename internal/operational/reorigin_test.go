package operational

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/authority"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/maker"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// revokedSerials is the maker's revocation status as a MakerStatus answers it: the factory
// certificates of the serials (hex) in it are revoked, every other one is good. The checks
// of the maker's CRL and OCSP themselves are internal/makerstatus's; here the maker changes
// its word between a request and its approval.
type revokedSerials struct {
	mu sync.Mutex
	m  map[string]bool
}

func (r *revokedSerials) set(serial string, revoked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[serial] = revoked
}

func (r *revokedSerials) Check(_ context.Context, q StatusQuery) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := ca.SerialHex(q.Device.SerialNumber); r.m[s] {
		return "", failure.New(failure.Denied, "certificate %s is revoked (keyCompromise)", s)
	}
	return "", nil
}

// reoriginWorld is opWorld with a maker (a root that signs its device certificates) and one
// of its devices, onboarded in the environment with the maker's certificate serial 0x10; the
// operational service runs every write function twice (rerunStore), and its reorigin
// approvals are carried out by governance as in the server.
type reoriginWorld struct {
	opWorld
	s        *Service
	gov      *governance.Service
	req, apr audit.Actor
	status   *revokedSerials
	root     *x509.Certificate
	rootKey  *ecdsa.PrivateKey
	devID    string
	first    *x509.Certificate
}

func newReoriginWorld(t *testing.T) *reoriginWorld {
	t.Helper()
	ctx := context.Background()
	w := &reoriginWorld{opWorld: newOpWorld(t), status: &revokedSerials{m: map[string]bool{}}}
	rs := rerunStore{w.st}
	w.s = New(Config{Store: rs, Authority: authority.New(authority.Config{Store: rs, Now: w.clock}), MakerStatus: w.status})
	w.gov = governance.New(governance.Config{Store: w.st, Now: w.clock})
	w.gov.OnApproved(approval.Reorigin, func(ctx context.Context, a audit.Actor, q approval.Request) error {
		_, err := w.s.ReoriginApproved(ctx, a, q)
		return err
	})
	// The requester and the approver, administrators of op that op's admin made (neither
	// made the other: the approver may not be a principal its requester made).
	rita, _, err := w.gov.CreatePrincipal(ctx, w.a, governance.CreatePrincipalRequest{PartyID: "op", Name: "rita", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	tom, _, err := w.gov.CreatePrincipal(ctx, w.a, governance.CreatePrincipalRequest{PartyID: "op", Name: "tom", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	w.req, w.apr = governance.Actor(rita), governance.Actor(tom)

	w.rootKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Acme Root"}, NotBefore: w.now.Add(-24 * time.Hour), NotAfter: w.now.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, w.rootKey.Public(), w.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if w.root, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	w.first = w.issue(t, 0x10, "AS-1", -time.Hour)
	w.devID = ExternalDeviceID("mkr_acme", "AS-1")
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Makers().CreateMaker(maker.Maker{ID: "mkr_acme", OperatorID: "op", Name: "acme", Anchors: []*x509.Certificate{w.root}, CreatedBy: "test", CreatedAt: w.now, UpdatedAt: w.now}); err != nil {
			return err
		}
		d := device.Device{ID: w.devID, Serial: "AS-1", State: device.Active, CustodianID: "op", EnvironmentID: w.env.Environment.ID, CreatedAt: w.now, UpdatedAt: w.now}
		if err := tx.Devices().CreateDevice(d); err != nil {
			return err
		}
		if err := tx.Makers().CreateOrigin(maker.Origin{DeviceID: d.ID, MakerID: "mkr_acme", Serial: "AS-1", Factory: w.first, Issuer: w.root,
			FactorySerial: ca.SerialHex(w.first.SerialNumber), SPKISHA256: maker.SPKISHA256(w.first), State: maker.Good, CreatedAt: w.now}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: w.now, PartyID: "op", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return w
}

// issue is the maker's certificate serial for device serial devSerial (a new key), valid
// from now+from for a year.
func (w *reoriginWorld) issue(t *testing.T, serial int64, devSerial string, from time.Duration) *x509.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "Acme Sensor", SerialNumber: devSerial},
		NotBefore: w.now.Add(from), NotAfter: w.now.Add(300 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, w.root, k.Public(), w.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// ask asks, as the requester, to make c the device's current factory certificate.
func (w *reoriginWorld) ask(t *testing.T, c *x509.Certificate) (ReoriginResult, error) {
	t.Helper()
	return w.s.Reorigin(context.Background(), w.req, w.devID, ReoriginRequest{Certificate: certPEM(c), Reason: "the maker replaced the secure element"})
}

// current is the serial of the certificate the device's origin holds.
func (w *reoriginWorld) current(t *testing.T) string {
	t.Helper()
	var o maker.Origin
	if err := w.st.View(context.Background(), func(tx store.Tx) (err error) { o, err = tx.Makers().OriginOf(w.devID); return err }); err != nil {
		t.Fatal(err)
	}
	return o.FactorySerial
}

// events returns the audit events of action, in order.
func (w *reoriginWorld) events(t *testing.T, action string) []audit.Event {
	t.Helper()
	var out []audit.Event
	if err := w.st.View(context.Background(), func(tx store.Tx) error {
		out = nil
		evs, err := tx.Audit().List(0, 10000)
		for _, e := range evs {
			if e.Action == action {
				out = append(out, e)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReoriginApprovalChecksAgain: what an approval carries out is checked again when it runs.
// A certificate the maker revoked after the request is refused at approval; an approved
// request that could not run, set off again after another reorigin changed the origin, is
// refused as stale (the compare-and-set); each such refusal changes nothing, leaves the
// approval approved and unexecuted, and is recorded as approval.execute.refused naming its
// rule. A denied request changes nothing either. Every write function runs twice (a rolled
// back run first), and each reorigin that ran is recorded once.
func TestReoriginApprovalChecksAgain(t *testing.T) {
	ctx := context.Background()
	w := newReoriginWorld(t)
	first := ca.SerialHex(w.first.SerialNumber)
	second, third := w.issue(t, 0x20, "AS-1", 0), w.issue(t, 0x30, "AS-1", 0)

	res, err := w.ask(t, second)
	if err != nil || res.Approval == nil || res.Approval.State != approval.Pending || res.Approval.Kind != approval.Reorigin || res.Device.ID != w.devID {
		t.Fatalf("reorigin to 0x20: %+v, %v; want a pending approval", res, err)
	}
	var p reoriginPayload
	if err := json.Unmarshal(res.Approval.Payload, &p); err != nil || p.Old != first || p.New != "20" {
		t.Fatalf("approval payload %s, %v: want old %s new 20", res.Approval.Payload, err, first)
	}
	// Asking for the same certificate again finds the request; another one is refused while
	// it is pending.
	if again, err := w.ask(t, second); err != nil || again.Approval == nil || again.Approval.ID != res.Approval.ID {
		t.Errorf("asking again for 0x20: %+v, %v; want approval %s", again, err, res.Approval.ID)
	}
	if _, err := w.ask(t, third); failure.RuleOf(err) != RuleOriginPending || !failure.Is(err, failure.Conflict) {
		t.Errorf("asking for 0x30 while 0x20 is pending: %v, want a conflict naming %s", err, RuleOriginPending)
	}

	// The maker revokes 0x20 before the approval: the approval is refused when it runs.
	w.status.set("20", true)
	d, err := w.gov.Decide(ctx, w.apr, res.Approval.ID, governance.Decision{Approve: true})
	if err != nil || d.Executed || !strings.Contains(d.ExecError, RuleOriginRevoked) || d.Request.State != approval.Approved {
		t.Fatalf("approving the reorigin to a certificate the maker revoked since: %+v, %v; want approved, not run, naming %s", d, err, RuleOriginRevoked)
	}
	if got := w.current(t); got != first {
		t.Errorf("after the refused approval the origin holds %s, want %s", got, first)
	}
	refused := w.events(t, "approval.execute.refused")
	if len(refused) != 1 || refused[0].Subject != "device:"+w.devID || !strings.Contains(string(refused[0].Detail), `"rule":"`+RuleOriginRevoked+`"`) ||
		!strings.Contains(string(refused[0].Detail), res.Approval.ID) || !strings.Contains(string(refused[0].Detail), `"kind":"reorigin"`) {
		t.Fatalf("approval.execute.refused events after the revoked approval: %+v", refused)
	}

	// The maker takes its revocation back (a mistake), but meanwhile the operator asked for
	// 0x30 (an approved request that did not run holds no new one up) and had it approved.
	w.status.set("20", false)
	res3, err := w.ask(t, third)
	if err != nil || res3.Approval == nil || res3.Approval.ID == res.Approval.ID {
		t.Fatalf("reorigin to 0x30 after the approved 0x20 did not run: %+v, %v; want a new request", res3, err)
	}
	if d, err := w.gov.Decide(ctx, w.apr, res3.Approval.ID, governance.Decision{Approve: true}); err != nil || !d.Executed || d.Request.State != approval.Executed {
		t.Fatalf("approving the reorigin to 0x30: %+v, %v; want executed", d, err)
	}
	if got := w.current(t); got != "30" {
		t.Fatalf("after the approved reorigin the origin holds %s, want 30", got)
	}
	// The 0x20 request set off again: its origin is no longer the one it was approved over.
	// (Execute answers the action's failure as its error too.)
	d, err = w.gov.Execute(ctx, w.req, res.Approval.ID)
	if !failure.Is(err, failure.Conflict) || !strings.Contains(fmt.Sprint(err), RuleOriginStale) || d.Executed || !strings.Contains(d.ExecError, RuleOriginStale) {
		t.Fatalf("running the stale 0x20 approval: executed %v (%s), %v; want a conflict naming %s, not run", d.Executed, d.ExecError, err, RuleOriginStale)
	}
	if got := w.current(t); got != "30" {
		t.Errorf("after the stale approval the origin holds %s, want 30", got)
	}
	if refused := w.events(t, "approval.execute.refused"); len(refused) != 2 || !strings.Contains(string(refused[1].Detail), `"rule":"`+RuleOriginStale+`"`) {
		t.Errorf("approval.execute.refused events after the stale approval: %+v", refused)
	}

	// A denied request changes nothing and runs nothing.
	fourth := w.issue(t, 0x40, "AS-1", 0)
	res4, err := w.ask(t, fourth)
	if err != nil || res4.Approval == nil {
		t.Fatalf("reorigin to 0x40: %+v, %v", res4, err)
	}
	if d, err := w.gov.Decide(ctx, w.apr, res4.Approval.ID, governance.Decision{Approve: false, Comment: "not the part we sent"}); err != nil || d.Executed || d.Request.State != approval.Denied {
		t.Fatalf("denying the reorigin to 0x40: %+v, %v", d, err)
	}
	if got := w.current(t); got != "30" {
		t.Errorf("after the denial the origin holds %s, want 30", got)
	}

	// One reorigin ran, recorded once, naming both certificates and its approval.
	done := w.events(t, "device.reorigin")
	if len(done) != 1 {
		t.Fatalf("%d device.reorigin events, want 1: %+v", len(done), done)
	}
	var det map[string]any
	if err := json.Unmarshal(done[0].Detail, &det); err != nil || det["old_factory_certificate"] != first || det["new_factory_certificate"] != "30" || det["approval"] != res3.Approval.ID {
		t.Errorf("device.reorigin detail %s, %v", done[0].Detail, err)
	}
	var n int
	if err := w.st.View(ctx, func(tx store.Tx) error {
		qs, err := tx.Approvals().ListApprovals(store.ApprovalFilter{Kind: approval.Reorigin, Subject: "device:" + w.devID, Limit: 100})
		n = len(qs)
		return err
	}); err != nil || n != 3 {
		t.Errorf("%d reorigin approval requests, %v; want 3 (each made once although every write ran twice)", n, err)
	}
}

// TestReoriginRefusals: each check refuses naming its rule, and nothing changes.
func TestReoriginRefusals(t *testing.T) {
	w := newReoriginWorld(t)
	first := ca.SerialHex(w.first.SerialNumber)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Other Root"}, NotBefore: w.now.Add(-time.Hour), NotAfter: w.now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	otherDER, _ := x509.CreateCertificate(rand.Reader, otherTmpl, otherTmpl, otherKey.Public(), otherKey)
	otherRoot, _ := x509.ParseCertificate(otherDER)
	unknown := func() *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x50), Subject: pkix.Name{CommonName: "Acme Sensor", SerialNumber: "AS-1"}, NotBefore: w.now.Add(-time.Hour), NotAfter: w.now.Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, otherRoot, otherKey.Public(), otherKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}()
	expired := func() *x509.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x61), Subject: pkix.Name{CommonName: "Acme Sensor", SerialNumber: "AS-1"}, NotBefore: w.now.Add(-48 * time.Hour), NotAfter: w.now.Add(-time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, w.root, k.Public(), w.rootKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}()
	w.status.set("70", true)
	cases := []struct {
		name string
		cert *x509.Certificate
		rule string
		kind failure.Kind
	}{
		{"another device of the maker", w.issue(t, 0x20, "AS-2", 0), RuleOriginDevice, failure.Denied},
		{"a certificate of no registered maker", unknown, RuleOriginChain, failure.Denied},
		{"an expired certificate of the maker", expired, RuleOriginChain, failure.Denied},
		{"a certificate the maker revoked", w.issue(t, 0x70, "AS-1", 0), RuleOriginRevoked, failure.Denied},
		{"the current certificate", w.first, RuleOriginUnchanged, failure.Conflict},
		{"a certificate older than the current one", w.issue(t, 0x80, "AS-1", -2*time.Hour), RuleOriginOlder, failure.Denied},
	}
	for _, c := range cases {
		if _, err := w.ask(t, c.cert); failure.RuleOf(err) != c.rule || !failure.Is(err, c.kind) {
			t.Errorf("reorigin to %s: %v (rule %q), want %v naming %s", c.name, err, failure.RuleOf(err), c.kind, c.rule)
		}
	}
	// Another operator's principal finds no such device.
	ctx := context.Background()
	deploy := audit.Actor{PartyID: party.Deployment, PrincipalID: "prn-root", Admin: true}
	if _, err := w.gov.CreateParty(ctx, deploy, governance.CreatePartyRequest{ID: "op2", Name: "Other operator", Kind: party.Operator}); err != nil {
		t.Fatal(err)
	}
	eve, _, err := w.gov.CreatePrincipal(ctx, deploy, governance.CreatePrincipalRequest{PartyID: "op2", Name: "eve", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.s.Reorigin(ctx, governance.Actor(eve), w.devID, ReoriginRequest{Certificate: certPEM(w.issue(t, 0x90, "AS-1", 0)), Reason: "mine now"})
	if failure.RuleOf(err) != RuleOriginCustodian || !failure.Is(err, failure.NotFound) {
		t.Errorf("another operator's reorigin: %v, want not found naming %s", err, RuleOriginCustodian)
	}
	// A device of this deployment has no maker's origin.
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Devices().CreateDevice(device.Device{ID: "dev_own", Serial: "OWN-1", State: device.Active, CustodianID: "op", EnvironmentID: w.env.Environment.ID, CreatedAt: w.now, UpdatedAt: w.now}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: w.now, PartyID: "op", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err = w.s.Reorigin(ctx, w.req, "dev_own", ReoriginRequest{Certificate: certPEM(w.issue(t, 0xa0, "OWN-1", 0)), Reason: "repair"})
	if failure.RuleOf(err) != RuleOriginExternal {
		t.Errorf("reorigin of a device this deployment made: %v, want %s", err, RuleOriginExternal)
	}
	if _, err := w.s.Reorigin(ctx, w.req, w.devID, ReoriginRequest{Certificate: certPEM(w.issue(t, 0xb0, "AS-1", 0))}); !failure.Is(err, failure.Invalid) {
		t.Errorf("reorigin without a reason: %v, want invalid", err)
	}
	// A factory-revoked device never onboards again: no certificate of its maker helps it.
	if err := w.st.Update(ctx, func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(w.devID)
		if err != nil {
			return err
		}
		next := d
		next.State = device.FactoryRevoked
		if err := tx.Devices().UpdateDevice(next, d); err != nil {
			return err
		}
		_, err = tx.Audit().Append(audit.Event{At: w.now, PartyID: "op", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ask(t, w.issue(t, 0xc0, "AS-1", 0)); failure.RuleOf(err) != RuleOriginState || !failure.Is(err, failure.Conflict) {
		t.Errorf("reorigin of a factory-revoked device: %v, want a conflict naming %s", err, RuleOriginState)
	}
	if got := w.current(t); got != first {
		t.Errorf("after the refusals the origin holds %s, want %s", got, first)
	}
	if n := len(w.events(t, "approval.request")); n != 0 {
		t.Errorf("the refused reorigins made %d approval requests", n)
	}
}
